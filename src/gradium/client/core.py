"""``GradiumClient``: the documented Gradium client API over one reusable aiohttp session."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import aiohttp

from gradium.client import audio_input, urls
from gradium.client.http import Transport
from gradium.client.realtime import S2SRealtime, STTRealtime, TTSRealtime
from gradium.client.results import S2SResult, STTResult, TTSResult
from gradium.client.setup import S2SSetup, STTSetup, TTSSetup
from gradium.client.streams import S2SStream, STTStream, TTSStream
from gradium.client.websocket import Channel, MessageStream

VOICES_ROUTE = "voices/"
GENERATOR_ROUTE = "voice-generator/"
POST_TTS_ROUTE = "post/speech/tts"


class GradiumClient:
    """Client of a Gradium-compatible speech server.

    ``api_key`` defaults to ``$GRADIUM_API_KEY``; ``base_url`` to ``$GRADIUM_BASE_URL``, else the
    local server ``http://127.0.0.1:8000/api/``. Use ``async with GradiumClient() as client`` (or
    call ``await client.aclose()``) to close the connection pool deterministically; without it the
    pool is created on first use and closed when the event loop shuts down.

    Timeouts: ``connect_timeout`` bounds connection set-up; ``read_timeout`` bounds how long a
    one-shot request or HTTP call may see no traffic at all (None disables it);
    ``realtime_idle_timeout`` does the same for realtime sessions (default: none, since the caller
    paces them).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = 120.0,
        realtime_idle_timeout: float | None = None,
        tts_route: str = "speech/tts",
        stt_route: str = "speech/asr",
        s2s_route: str = "speech/s2s",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get("GRADIUM_API_KEY")
        if api_key is None:
            raise ValueError("no API key: pass api_key=... or set the GRADIUM_API_KEY environment variable")
        if base_url is None:
            base_url = os.environ.get("GRADIUM_BASE_URL") or urls.DEFAULT_BASE_URL
        self._transport = Transport(
            base_url=base_url,
            api_key=api_key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            headers=headers,
        )
        self.realtime_idle_timeout = realtime_idle_timeout
        self._tts_route = tts_route
        self._stt_route = stt_route
        self._s2s_route = s2s_route

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def _base_url(self) -> str:  # attribute name of the official client
        return self._transport.base_url

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._transport.headers)

    async def __aenter__(self) -> GradiumClient:
        await self._transport.session()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (the client can still be used: it reopens one on demand)."""
        await self._transport.aclose()

    # -- plumbing --------------------------------------------------------------------------------

    async def _open_stream(
        self, route: str, setup: Mapping[str, Any], inputs: AsyncIterator[dict[str, Any]]
    ) -> MessageStream:
        ws = await self._transport.ws_connect(route)
        stream = MessageStream(Channel(ws, idle_timeout=self._transport.read_timeout), inputs)
        await stream.start(audio_input.setup_message(setup))
        return stream

    async def get(self, route: str, **params: str | int) -> Any:
        return await self._transport.request("GET", route, params=params or None)

    async def post(self, route: str, *, json: Any = None, data: aiohttp.FormData | None = None) -> Any:
        return await self._transport.request("POST", route, json_body=json, data=data)

    async def put(self, route: str, *, json: Any = None) -> Any:
        return await self._transport.request("PUT", route, json_body=json)

    async def delete(self, route: str) -> Any:
        return await self._transport.request("DELETE", route)

    # -- text to speech --------------------------------------------------------------------------

    async def tts_stream(self, setup: TTSSetup | Mapping[str, Any], text: audio_input.TextInput) -> TTSStream:
        """Start a synthesis; iterate ``iter_bytes()`` for audio chunks as they are produced.

        ``text`` is a str (one message), a list of str or an async iterator of str (one message
        each; the server joins them with whitespace).
        """
        stream = await self._open_stream(self._tts_route, setup, audio_input.iter_text_messages(text))
        return TTSStream(stream, setup)

    async def tts(self, setup: TTSSetup | Mapping[str, Any], text: audio_input.TextInput) -> TTSResult:
        """Synthesise ``text`` and return the whole audio in the requested ``output_format``."""
        stream = await self.tts_stream(setup, text)
        chunks = [chunk async for chunk in stream.iter_bytes()]
        return TTSResult(
            raw_data=b"".join(chunks),
            sample_rate=stream.sample_rate,
            output_format=stream.output_format,
            request_id=stream.request_id,
            text_with_timestamps=stream.text_with_timestamps,
        )

    def tts_realtime(self, **kwargs: Any) -> TTSRealtime:
        """A realtime TTS session; keyword arguments other than ``route``, ``send_setup_on_start``
        and ``wait_for_ready_on_start`` form the setup."""
        kwargs.setdefault("route", self._tts_route)
        return TTSRealtime(self, **kwargs)

    # -- speech to text --------------------------------------------------------------------------

    async def stt_stream(
        self, setup: STTSetup | Mapping[str, Any], audio: audio_input.AudioInput
    ) -> STTStream:
        """Start a transcription of ``audio`` (bytes, 1-D int16/float32 array, or async iterator)."""
        audio_input.check_audio_input(audio, setup.get("input_format"), None, default_format="wav")
        stream = await self._open_stream(self._stt_route, setup, audio_input.iter_audio_messages(audio))
        return STTStream(stream, setup)

    async def stt(
        self,
        setup: STTSetup | Mapping[str, Any],
        audio: audio_input.AudioInput,
        sample_rate: int | None = None,
    ) -> STTResult:
        """Transcribe ``audio``; arrays must be 24 kHz with ``input_format`` ``pcm``."""
        audio_input.check_audio_input(audio, setup.get("input_format"), sample_rate, default_format="wav")
        stream = await self.stt_stream(setup, audio)
        segments = [segment async for segment in stream.iter_text()]
        return STTResult(
            text=" ".join(s.text for s in segments if s.text),
            text_with_timestamps=segments,
            request_id=stream.request_id,
        )

    def stt_realtime(self, **kwargs: Any) -> STTRealtime:
        kwargs.setdefault("route", self._stt_route)
        return STTRealtime(self, **kwargs)

    # -- speech to speech ------------------------------------------------------------------------

    async def s2s_stream(
        self, setup: S2SSetup | Mapping[str, Any], audio: audio_input.AudioInput
    ) -> S2SStream:
        audio_input.check_audio_input(audio, setup.get("input_format"), None, default_format="pcm")
        stream = await self._open_stream(self._s2s_route, setup, audio_input.iter_audio_messages(audio))
        return S2SStream(stream, setup)

    async def s2s(
        self,
        setup: S2SSetup | Mapping[str, Any],
        audio: audio_input.AudioInput,
        sample_rate: int | None = None,
    ) -> S2SResult:
        audio_input.check_audio_input(audio, setup.get("input_format"), sample_rate, default_format="pcm")
        stream = await self.s2s_stream(setup, audio)
        chunks = [chunk async for chunk in stream.iter_audio()]
        segments = stream.text_with_timestamps
        fmt = setup.get("output_format")
        return S2SResult(
            raw_data=b"".join(chunks),
            sample_rate=stream.sample_rate,
            output_format=fmt if isinstance(fmt, str) else None,
            request_id=stream.request_id,
            text=" ".join(s.text for s in segments if s.text),
            text_with_timestamps=segments,
        )

    def s2s_realtime(self, **kwargs: Any) -> S2SRealtime:
        kwargs.setdefault("route", self._s2s_route)
        return S2SRealtime(self, **kwargs)

    # -- account ---------------------------------------------------------------------------------

    async def credits(self) -> Any:
        """Remaining and allocated credits (1 credit = 1 character of TTS)."""
        return await self.get("usages/credits")

    async def usage_summary(self) -> Any:
        return await self.get("usages/summary")

    # -- voices ----------------------------------------------------------------------------------

    async def voice_get(self, voice_uid: str | None = None, include_catalog: bool = False) -> Any:
        """One voice by uid, or the list of voices (custom ones; add the catalog on request)."""
        return await self.get(
            f"{VOICES_ROUTE}{voice_uid or ''}", limit=0, include_catalog=int(include_catalog)
        )

    async def voice_list(self, include_catalog: bool = False) -> Any:
        return await self.voice_get(None, include_catalog=include_catalog)

    async def voice_create(
        self,
        audio_file: str | os.PathLike[str],
        language: str | None = None,
        name: str | None = None,
        description: str | None = None,
        start_s: float = 0.0,
        input_format: str | None = None,
    ) -> Any:
        """Clone a voice from an audio file (about 10 s of clean speech is recommended)."""
        path = pathlib.Path(audio_file)
        fmt = input_format or path.suffix.lstrip(".")
        content = await asyncio.to_thread(path.read_bytes)
        form = aiohttp.FormData()
        form.add_field("audio_file", content, filename=path.name, content_type=f"audio/{fmt}")
        fields: dict[str, Any] = {
            "name": name if name is not None else path.name,
            "language": language,
            "start_s": float(start_s),
            "description": description,
            "input_format": fmt,
        }
        for key, value in fields.items():
            if value is not None:
                form.add_field(key, str(value))
        return await self.post(VOICES_ROUTE, data=form)

    async def voice_update(
        self,
        voice_uid: str,
        name: str | None = None,
        description: str | None = None,
        start_s: float | None = None,
        language: str | None = None,
    ) -> Any:
        """Change the given fields; returns the updated voice, or None when nothing was given."""
        changes = {
            k: v
            for k, v in {
                "name": name,
                "description": description,
                "start_s": start_s,
                "language": language,
            }.items()
            if v is not None
        }
        if not changes:
            return None
        return await self.put(f"{VOICES_ROUTE}{voice_uid}", json=changes)

    async def voice_delete(self, voice_uid: str) -> Any:
        return await self.delete(f"{VOICES_ROUTE}{voice_uid}")

    # -- voice designer --------------------------------------------------------------------------

    async def voice_generate(
        self,
        prompt: str,
        language: str,
        n_samples: int = 1,
        wait: bool = False,
        timeout: float = 120.0,
        poll_interval: float = 1.0,
    ) -> Any:
        """Draft voices from a description; with ``wait`` poll until every draft is ready."""
        result = await self.post(
            f"{GENERATOR_ROUTE}generate",
            json={"prompt": prompt, "language": language, "n_samples": n_samples},
        )
        if not wait:
            return result
        deadline = time.monotonic() + timeout
        ready_entries = []
        for entry in result.get("embeddings") or []:
            while not entry.get("ready"):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"draft {entry.get('embedding_id')} not ready after {timeout:g} s")
                await asyncio.sleep(poll_interval)
                entry = await self.voice_embedding_get(entry["embedding_id"])
            ready_entries.append(entry)
        return {**result, "embeddings": ready_entries}

    async def voice_embedding_get(self, embedding_id: str) -> Any:
        result = await self.get(f"{GENERATOR_ROUTE}embeddings", embedding_id=embedding_id)
        entries = result.get("embeddings") if isinstance(result, dict) else None
        if not entries:
            raise LookupError(f"no draft embedding with id {embedding_id}")
        return entries[0]

    async def voice_tts(
        self,
        embedding_id: str,
        text: str,
        output_format: str = "wav",
        model_name: str | None = None,
        json_config: Mapping[str, Any] | str | None = None,
    ) -> TTSResult:
        """Preview a voice (a draft ``vox_emb_...`` id or any voice id) over the HTTP TTS route."""
        body: dict[str, Any] = {
            "voice_id": embedding_id,
            "text": text,
            "output_format": output_format,
            "only_audio": True,
        }
        if model_name is not None:
            body["model_name"] = model_name
        if json_config is not None:
            body["json_config"] = json_config if isinstance(json_config, str) else json.dumps(json_config)
        raw = await self._transport.request("POST", POST_TTS_ROUTE, json_body=body, expect="bytes")
        return TTSResult(raw_data=raw, sample_rate=None, output_format=output_format, request_id=None)

    async def voice_from_embedding(self, embedding_id: str, name: str, description: str | None = None) -> Any:
        body = {"voxium_embedding_id": embedding_id, "name": name}
        if description is not None:
            body["description"] = description
        return await self.post(f"{VOICES_ROUTE}from-embedding", json=body)
