"""Conversion of user inputs (text and audio, plain or async iterators) into wire messages."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt

AudioChunk: TypeAlias = "bytes | bytearray | memoryview | npt.NDArray[Any]"
AudioInput: TypeAlias = "bytes | bytearray | memoryview | npt.NDArray[Any] | AsyncIterable[AudioChunk]"
TextInput: TypeAlias = "str | Iterable[str] | AsyncIterable[str]"

# Chunk sizes of the official client: raw bytes go out in 4096-byte slices, arrays in 80 ms at
# 24 kHz (1920 samples), which is also the model's frame.
BYTES_CHUNK = 4096
SAMPLES_CHUNK = 1920
PCM_INPUT_RATE = 24000


def to_int16(audio: npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    """A 1-D int16 copy of ``audio`` (int16, or float32 in [-1, 1]).

    Float input is clipped before the cast: the official client multiplies and casts directly, so a
    sample of exactly 1.0 wraps around to -32768 and becomes a loud click.
    """
    if audio.ndim != 1:
        raise ValueError(f"audio arrays must be 1-dimensional, got shape {audio.shape}")
    if audio.dtype == np.int16:
        return cast("npt.NDArray[np.int16]", audio)
    if audio.dtype == np.float32:
        scaled = np.clip(audio * 32768.0, -32768.0, 32767.0)
        return np.rint(scaled).astype(np.int16)
    raise ValueError(f"audio arrays must be int16 or float32, got {audio.dtype}")


def audio_bytes(chunk: AudioChunk) -> bytes:
    """Little-endian s16 bytes for an array chunk; bytes pass through unchanged."""
    if isinstance(chunk, np.ndarray):
        return to_int16(chunk).astype("<i2", copy=False).tobytes()
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"audio chunks must be bytes or numpy arrays, got {type(chunk).__name__}")


def audio_message(chunk: AudioChunk, client_req_id: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "audio", "audio": base64.b64encode(audio_bytes(chunk)).decode("ascii")}
    if client_req_id is not None:
        msg["client_req_id"] = client_req_id
    return msg


def text_message(text: str, client_req_id: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "text", "text": text}
    if client_req_id is not None:
        msg["client_req_id"] = client_req_id
    return msg


def setup_message(setup: Mapping[str, Any]) -> dict[str, Any]:
    """The wire form of a setup: a copy, ``json_config`` as a JSON string, ``type`` last."""
    msg = {k: v for k, v in setup.items() if k != "type"}
    config = msg.get("json_config")
    if config is not None and not isinstance(config, str):
        msg["json_config"] = json.dumps(config)
    msg["type"] = "setup"
    return msg


async def iter_text_messages(text: TextInput) -> AsyncIterator[dict[str, Any]]:
    if isinstance(text, str):
        yield text_message(text)
    elif isinstance(text, AsyncIterable):
        async for item in text:
            if not isinstance(item, str):
                raise TypeError(f"text iterators must yield str, got {type(item).__name__}")
            yield text_message(item)
    else:
        for item in text:
            if not isinstance(item, str):
                raise TypeError(f"text lists must contain str, got {type(item).__name__}")
            yield text_message(item)


def check_audio_input(
    audio: AudioInput, input_format: str | None, sample_rate: int | None, *, default_format: str
) -> None:
    """Reject combinations that would send audio the server misreads (before connecting)."""
    if isinstance(audio, np.ndarray):
        fmt = input_format if input_format is not None else default_format
        if not fmt.startswith("pcm"):
            raise ValueError(f"numpy audio needs a pcm input_format, the setup says {fmt!r}")
        if sample_rate is not None and sample_rate != PCM_INPUT_RATE:
            raise ValueError(f"numpy audio must be sampled at {PCM_INPUT_RATE} Hz, got {sample_rate}")
        to_int16(audio[:0]) if audio.ndim == 1 else to_int16(audio)
    elif isinstance(audio, (bytes, bytearray, memoryview)):
        if sample_rate is not None:
            raise ValueError("sample_rate is only meaningful for numpy audio; bytes carry their format")
    elif not isinstance(audio, AsyncIterable):
        raise TypeError(
            f"audio must be bytes, a numpy array or an async iterator, got {type(audio).__name__}"
        )


async def iter_audio_messages(audio: AudioInput) -> AsyncIterator[dict[str, Any]]:
    if isinstance(audio, np.ndarray):
        samples = to_int16(audio)
        for start in range(0, len(samples), SAMPLES_CHUNK):
            yield audio_message(samples[start : start + SAMPLES_CHUNK])
    elif isinstance(audio, (bytes, bytearray, memoryview)):
        data = bytes(audio)
        for start in range(0, len(data), BYTES_CHUNK):
            yield audio_message(data[start : start + BYTES_CHUNK])
    else:
        async for chunk in audio:
            yield audio_message(chunk)
