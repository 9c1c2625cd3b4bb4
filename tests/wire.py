"""A raw WebSocket peer for protocol tests: sends exactly the frames a test writes, records every reply."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import soxr

from conftest import CORPUS, LiveServer


@dataclass
class Exchange:
    """Everything the server sent on one socket, and how it closed."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def audio(self) -> bytes:
        return b"".join(base64.b64decode(m["audio"]) for m in self.of_type("audio"))

    def error(self) -> dict[str, Any]:
        errors = self.of_type("error")
        assert errors, f"expected an error, got {[m['type'] for m in self.messages]}"
        return errors[0]


async def exchange(
    server: LiveServer,
    route: str,
    frames: list[Any],
    *,
    api_key: str | None = None,
    timeout: float = 60,
    pause_s: float = 0.0,
) -> Exchange:
    """Send ``frames`` (dicts as JSON, str as raw text, bytes as binary) and read until the close."""
    headers = {"x-api-key": server.api_key if api_key is None else api_key}
    result = Exchange()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"ws://{server.host}:{server.port}/api/{route}", headers=headers, max_msg_size=0
        ) as ws,
    ):
        for frame in frames:
            if isinstance(frame, dict):
                await ws.send_str(json.dumps(frame))
            elif isinstance(frame, str):
                await ws.send_str(frame)
            else:
                await ws.send_bytes(frame)
            if pause_s:
                await asyncio.sleep(pause_s)
        async with asyncio.timeout(timeout):
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    result.messages.append(json.loads(msg.data))
        result.close_code = ws.close_code
    return result


def tts_frames(text: str | list[str], **setup: Any) -> list[dict[str, Any]]:
    texts = [text] if isinstance(text, str) else text
    return [
        {"type": "setup", **setup},
        *({"type": "text", "text": t} for t in texts),
        {"type": "end_of_stream"},
    ]


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Read a (possibly streamed, size-less) mono 16-bit WAV."""
    with wave.open(io.BytesIO(data)) as wav:
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype=np.int16), rate


def corpus_pcm(name: str, rate: int = 24000) -> np.ndarray:
    """A corpus WAV clip as mono int16 at ``rate``."""
    samples, source_rate = read_wav((CORPUS / name).read_bytes())
    resampled = soxr.resample(samples.astype(np.float32) / 32768, source_rate, rate)
    return np.clip(resampled * 32768, -32768, 32767).astype(np.int16)


def audio_frames(data: bytes, chunk: int = 4096, **setup: Any) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = [{"type": "setup", **setup}]
    for start in range(0, len(data), chunk):
        frames.append({"type": "audio", "audio": base64.b64encode(data[start : start + chunk]).decode()})
    frames.append({"type": "end_of_stream"})
    return frames


def corpus_file(name: str) -> Path:
    return CORPUS / name
