"""Streaming handles returned by ``tts_stream``, ``stt_stream`` and ``s2s_stream``."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from typing import Any

from gradium.client.results import SegmentAssembler, TextWithTimestamps, segment_from_message
from gradium.client.websocket import MessageStream


class _BaseStream:
    def __init__(self, stream: MessageStream, setup: Mapping[str, Any]) -> None:
        # ``_stream`` is part of the documented surface: the docs iterate the raw messages with
        # ``async for msg in stream._stream``.
        self._stream = stream
        self._setup = dict(setup)

    @property
    def ready(self) -> dict[str, Any]:
        """The server's ``ready`` message."""
        return self._stream.ready

    @property
    def request_id(self) -> str | None:
        rid = self._stream.ready.get("request_id")
        return rid if isinstance(rid, str) else None

    @property
    def sample_rate(self) -> int | None:
        rate = self._stream.ready.get("sample_rate")
        return rate if isinstance(rate, int) else None

    async def aclose(self) -> None:
        """Stop early: cancel the request and close its connection."""
        await self._stream.aclose()

    async def __aenter__(self) -> _BaseStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _decoded(msg: dict[str, Any]) -> dict[str, Any]:
    if msg.get("type") == "audio" and isinstance(msg.get("audio"), str):
        return {**msg, "audio": base64.b64decode(msg["audio"])}
    return msg


class TTSStream(_BaseStream):
    """Audio chunks as they are synthesised; word timings are collected on the way."""

    def __init__(self, stream: MessageStream, setup: Mapping[str, Any]) -> None:
        super().__init__(stream, setup)
        self.text_with_timestamps: list[TextWithTimestamps] = []

    @property
    def _text_with_timestamps(self) -> list[TextWithTimestamps]:  # name used by the official docs
        return self.text_with_timestamps

    @property
    def output_format(self) -> str | None:
        fmt = self._setup.get("output_format")
        return fmt if isinstance(fmt, str) else None

    async def iter_messages(self) -> AsyncIterator[dict[str, Any]]:
        """Every server message after ``ready``, with ``audio`` fields decoded to bytes."""
        async for msg in self._stream:
            if msg.get("type") == "text":
                self.text_with_timestamps.append(segment_from_message(msg))
            yield _decoded(msg)

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The audio chunks, in the requested output format, in order."""
        async for msg in self.iter_messages():
            if msg.get("type") == "audio":
                yield msg["audio"]


class STTStream(_BaseStream):
    """Transcribed segments as they are recognised."""

    def __init__(self, stream: MessageStream, setup: Mapping[str, Any]) -> None:
        super().__init__(stream, setup)
        self._assembler = SegmentAssembler()

    @property
    def delay_in_frames(self) -> int | None:
        delay = self._stream.ready.get("delay_in_frames")
        return delay if isinstance(delay, int) else None

    @property
    def text_with_timestamps(self) -> list[TextWithTimestamps]:
        """The segments completed so far."""
        return self._assembler.completed

    async def iter_text(self) -> AsyncIterator[TextWithTimestamps]:
        """Segments with their real ``stop_s``.

        Each one is yielded once its ``end_text`` has arrived (normally right after the word).
        """
        async for msg in self._stream:
            for segment in self._assembler.feed(msg):
                yield segment
        for segment in self._assembler.finish():
            yield segment

    async def iter_messages(self) -> AsyncIterator[dict[str, Any]]:
        """Every raw server message after ``ready`` (``text``, ``end_text``, ``step``, ...)."""
        async for msg in self._stream:
            self._assembler.feed(msg)
            yield msg
        self._assembler.finish()


class S2SStream(_BaseStream):
    """Output audio and transcript segments of a speech-to-speech request."""

    def __init__(self, stream: MessageStream, setup: Mapping[str, Any]) -> None:
        super().__init__(stream, setup)
        self._assembler = SegmentAssembler()

    @property
    def frame_size(self) -> int | None:
        size = self._stream.ready.get("frame_size")
        return size if isinstance(size, int) else None

    @property
    def text_with_timestamps(self) -> list[TextWithTimestamps]:
        return self._assembler.completed

    @property
    def _text_with_timestamps(self) -> list[TextWithTimestamps]:  # name used by the official docs
        return self._assembler.completed

    async def iter_events(self) -> AsyncIterator[dict[str, Any]]:
        """Every server message after ``ready``, with ``audio`` fields decoded to bytes."""
        async for msg in self._stream:
            self._assembler.feed(msg)
            yield _decoded(msg)
        self._assembler.finish()

    async def iter_audio(self) -> AsyncIterator[bytes]:
        """The output audio chunks; transcript segments are collected on the way."""
        async for msg in self.iter_events():
            if msg.get("type") == "audio":
                yield msg["audio"]
