"""A blocking facade over :class:`gradium.client.GradiumClient`, for scripts and notebooks.

The async client runs on a private event loop in a daemon thread, so this works even where a loop
is already running in the calling thread (Jupyter), where ``asyncio.run`` would refuse::

    with gradium.SyncGradiumClient() as client:
        result = client.tts({"voice_id": "YTpq7expH9539ERJ", "output_format": "wav"}, "Hello!")
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Coroutine, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

import numpy as np

from gradium.client import audio_input
from gradium.client.core import GradiumClient
from gradium.client.results import S2SResult, STTResult, TextWithTimestamps, TTSResult

T = TypeVar("T")

SyncAudioInput: TypeAlias = "audio_input.AudioInput | Iterable[audio_input.AudioChunk]"


async def _aiter(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


def _audio(audio: SyncAudioInput) -> audio_input.AudioInput:
    # Plain iterables of chunks become async iterators; bytes and arrays are complete inputs.
    if isinstance(audio, (bytes, bytearray, memoryview, np.ndarray, AsyncIterable)):
        return audio
    return _aiter(audio)


class SyncGradiumClient:
    """Same methods as ``GradiumClient`` (one-shot, account and voice ones), blocking."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, **kwargs: Any) -> None:
        self._client = GradiumClient(api_key, base_url, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gradium-sync", daemon=True)
        self._thread.start()
        self._closed = False

    @property
    def async_client(self) -> GradiumClient:
        return self._client

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("the client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        if self._closed:
            return
        self._run(self._client.aclose())
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> SyncGradiumClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        async def step() -> tuple[bool, T | None]:
            try:
                return True, await agen.__anext__()
            except StopAsyncIteration:
                return False, None

        while True:
            more, item = self._run(step())
            if not more:
                return
            yield item  # type: ignore[misc]

    # One-shot speech ------------------------------------------------------------------------------

    def tts(self, setup: Mapping[str, Any], text: str | Iterable[str]) -> TTSResult:
        return self._run(self._client.tts(setup, text))

    def tts_iter_bytes(self, setup: Mapping[str, Any], text: str | Iterable[str]) -> Iterator[bytes]:
        """Audio chunks as they are synthesised."""

        async def chunks() -> AsyncIterator[bytes]:
            stream = await self._client.tts_stream(setup, text)
            async for chunk in stream.iter_bytes():
                yield chunk

        return self._iterate(chunks())

    def stt(
        self, setup: Mapping[str, Any], audio: SyncAudioInput, sample_rate: int | None = None
    ) -> STTResult:
        return self._run(self._client.stt(setup, _audio(audio), sample_rate))

    def stt_iter_text(self, setup: Mapping[str, Any], audio: SyncAudioInput) -> Iterator[TextWithTimestamps]:
        """Transcript segments as they are recognised."""

        async def segments() -> AsyncIterator[TextWithTimestamps]:
            stream = await self._client.stt_stream(setup, _audio(audio))
            async for segment in stream.iter_text():
                yield segment

        return self._iterate(segments())

    def s2s(
        self, setup: Mapping[str, Any], audio: SyncAudioInput, sample_rate: int | None = None
    ) -> S2SResult:
        return self._run(self._client.s2s(setup, _audio(audio), sample_rate))

    # Account and voices ---------------------------------------------------------------------------

    def credits(self) -> Any:
        return self._run(self._client.credits())

    def usage_summary(self) -> Any:
        return self._run(self._client.usage_summary())

    def voice_get(self, voice_uid: str | None = None, include_catalog: bool = False) -> Any:
        return self._run(self._client.voice_get(voice_uid, include_catalog))

    def voice_list(self, include_catalog: bool = False) -> Any:
        return self._run(self._client.voice_list(include_catalog))

    def voice_create(self, audio_file: str, language: str | None = None, **kwargs: Any) -> Any:
        return self._run(self._client.voice_create(audio_file, language, **kwargs))

    def voice_update(self, voice_uid: str, **kwargs: Any) -> Any:
        return self._run(self._client.voice_update(voice_uid, **kwargs))

    def voice_delete(self, voice_uid: str) -> Any:
        return self._run(self._client.voice_delete(voice_uid))

    def voice_generate(self, prompt: str, language: str, **kwargs: Any) -> Any:
        return self._run(self._client.voice_generate(prompt, language, **kwargs))

    def voice_embedding_get(self, embedding_id: str) -> Any:
        return self._run(self._client.voice_embedding_get(embedding_id))

    def voice_tts(self, embedding_id: str, text: str, **kwargs: Any) -> TTSResult:
        return self._run(self._client.voice_tts(embedding_id, text, **kwargs))

    def voice_from_embedding(self, embedding_id: str, name: str, description: str | None = None) -> Any:
        return self._run(self._client.voice_from_embedding(embedding_id, name, description))

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run any coroutine of the async client (``client.async_client``) on the private loop."""

        async def wrapper() -> T:
            return await awaitable

        return self._run(wrapper())
