"""Realtime sessions: the caller drives inputs and reads server messages on one WebSocket.

Usage (one request)::

    async with client.tts_realtime(voice_id="YTpq7expH9539ERJ", output_format="pcm") as tts:
        await tts.send_text("Hello world")
        await tts.send_eos()
        async for msg in tts:
            ...

Several requests can share a socket (``close_ws_on_eos=False``): give each setup a
``client_req_id``, pass the same id to the send methods, and route received messages by their
``client_req_id`` (``requests_done`` counts the ``end_of_stream`` messages seen per id).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gradium.client import audio_input
from gradium.client.websocket import Channel

if TYPE_CHECKING:
    from gradium.client.core import GradiumClient


class _Realtime:
    _default_route = ""
    _decode_audio = True
    _fill_stop_s = True

    def __init__(
        self,
        client: GradiumClient,
        route: str | None = None,
        send_setup_on_start: bool = True,
        wait_for_ready_on_start: bool = False,
        **setup: Any,
    ) -> None:
        self._client = client
        self._route = route or self._default_route
        self._setup: dict[str, Any] = setup
        self._send_setup_on_start = send_setup_on_start
        self._wait_for_ready_on_start = wait_for_ready_on_start
        self._channel: Channel | None = None
        self._ready: dict[str, Any] | None = None
        self._last_setup: dict[str, Any] = dict(setup)
        self.requests_done: Counter[str | None] = Counter()

    async def __aenter__(self) -> _Realtime:
        ws = await self._client._transport.ws_connect(self._route)
        # No idle timeout by default: in realtime use the caller decides the pacing and may
        # legitimately stay silent (``realtime_idle_timeout`` on the client changes that).
        self._channel = Channel(ws, idle_timeout=self._client.realtime_idle_timeout)
        self._ready = None
        try:
            if self._send_setup_on_start:
                await self.send_setup(self._setup)
                if self._wait_for_ready_on_start:
                    await self.wait_for_ready()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    def _require(self) -> Channel:
        if self._channel is None:
            raise RuntimeError("the session is not open: use `async with`")
        return self._channel

    @property
    def ready(self) -> dict[str, Any] | None:
        """The first ``ready`` message received (None until it has been read)."""
        return self._ready

    async def send_setup(self, setup: Mapping[str, Any]) -> None:
        self._last_setup = dict(setup)
        await self._require().send(audio_input.setup_message(setup))

    async def send_eos(self, client_req_id: str | None = None) -> None:
        msg: dict[str, Any] = {"type": "end_of_stream"}
        if client_req_id is not None:
            msg["client_req_id"] = client_req_id
        await self._require().send(msg)

    async def wait_for_ready(self) -> dict[str, Any]:
        """Read messages until ``ready`` (the official client fails on anything else first)."""
        msg = await self.recv()
        if msg is None or msg.get("type") != "ready":
            raise RuntimeError(f"expected a `ready` message, got {msg!r}")
        return msg

    async def recv(self) -> dict[str, Any] | None:
        """The next server message, or None once the server has closed the session.

        Server ``error`` messages raise a :class:`gradium.errors.GradiumError`.
        """
        channel = self._require()
        if channel.closed and channel.saw_end_of_stream:
            return None
        data = await channel.recv()
        if data is None:
            return None
        kind = data.get("type")
        if kind == "ready" and self._ready is None:
            self._ready = data
        elif kind == "end_of_stream":
            rid = data.get("client_req_id")
            self.requests_done[rid if isinstance(rid, str) else None] += 1
        elif kind == "text" and self._fill_stop_s:
            data.setdefault("stop_s", data.get("start_s", 0.0))
        elif kind == "audio" and self._decode_audio and isinstance(data.get("audio"), str):
            data["audio"] = base64.b64decode(data["audio"])
        return data

    def __aiter__(self) -> _Realtime:
        return self

    async def __anext__(self) -> dict[str, Any]:
        msg = await self.recv()
        if msg is None:
            raise StopAsyncIteration
        return msg

    def _check_array_format(self, audio: Any) -> None:
        if hasattr(audio, "dtype"):
            fmt = self._last_setup.get("input_format")
            if not isinstance(fmt, str) or not fmt.startswith("pcm"):
                raise ValueError(f"numpy audio needs input_format 'pcm' (24 kHz) in the setup, got {fmt!r}")


class TTSRealtime(_Realtime):
    """Realtime text-to-speech: ``send_text`` pieces, ``send_eos``, read audio and word timings."""

    _default_route = "speech/tts"

    async def __aenter__(self) -> TTSRealtime:
        await super().__aenter__()
        return self

    def __aiter__(self) -> TTSRealtime:
        return self

    async def send_text(self, text: str, client_req_id: str | None = None) -> None:
        await self._require().send(audio_input.text_message(text, client_req_id))

    async def send_flush(self, client_req_id: str | None = None) -> None:
        """Ask for the audio of all text sent so far (the ``<flush>`` tag)."""
        await self.send_text("<flush>", client_req_id)


class STTRealtime(_Realtime):
    """Realtime speech-to-text: ``send_audio``/``send_flush``, read ``text``/``step``/... messages."""

    _default_route = "speech/asr"
    _decode_audio = False
    _fill_stop_s = False

    async def __aenter__(self) -> STTRealtime:
        await super().__aenter__()
        return self

    def __aiter__(self) -> STTRealtime:
        return self

    async def send_audio(self, audio: audio_input.AudioChunk, client_req_id: str | None = None) -> None:
        self._check_array_format(audio)
        await self._require().send(audio_input.audio_message(audio, client_req_id))

    async def send_flush(self, flush_id: int = 0) -> None:
        """The server answers ``{"type": "flushed", "flush_id": ...}`` once all audio is processed."""
        await self._require().send({"type": "flush", "flush_id": int(flush_id)})


class S2SRealtime(_Realtime):
    """Realtime speech-to-speech: ``send_audio`` in, audio and transcript messages out."""

    _default_route = "speech/s2s"

    def __init__(self, client: GradiumClient, route: str | None = None, **kwargs: Any) -> None:
        super().__init__(client, route, **kwargs)
        # The S2S input defaults to pcm (24 kHz) on the client side, as in the official client.
        self._last_setup.setdefault("input_format", "pcm")

    async def __aenter__(self) -> S2SRealtime:
        await super().__aenter__()
        return self

    def __aiter__(self) -> S2SRealtime:
        return self

    async def send_setup(self, setup: Mapping[str, Any]) -> None:
        await super().send_setup(setup)
        self._last_setup.setdefault("input_format", "pcm")

    async def send_audio(self, audio: audio_input.AudioChunk, client_req_id: str | None = None) -> None:
        self._check_array_format(audio)
        await self._require().send(audio_input.audio_message(audio, client_req_id))


# Names of the official client's classes, for code that refers to them.
Tts = TTSRealtime
Stt = STTRealtime
S2s = S2SRealtime
