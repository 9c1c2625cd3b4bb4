"""Cartesia STT audio -> what the STT pool reads: a 16-bit WAV stream at the caller's rate.

The pool's WAV decoder resamples any rate, so raw input only needs its samples turned into int16
(a no-op for ``pcm_s16le``) behind one streaming WAV header. Conversions are numpy work and run
off the event loop (``asyncio.to_thread``); whole files are decoded by ``read_audio_file``.
"""

from __future__ import annotations

import asyncio

import numpy as np

from gradium.audio import g711
from gradium.audio.convert import float_to_int16
from gradium.audio.errors import AudioFormatError
from gradium.audio.files import read_audio_file, sniff_container
from gradium.audio.wav import wav_header

STT_ENCODINGS = {
    "pcm_s16le": 2,
    "pcm_s32le": 4,
    "pcm_f16le": 2,
    "pcm_f32le": 4,
    "pcm_mulaw": 1,
    "pcm_alaw": 1,
}
MIN_RATE, MAX_RATE = 8_000, 48_000
DECODE_RATE = 16_000  # the recogniser's rate: compressed files are decoded straight to it


def check_raw_format(encoding: str | None, sample_rate: str | int | None) -> tuple[str, int]:
    """Validate an (encoding, sample_rate) pair; ValueError names the accepted values."""
    name = encoding or "pcm_s16le"
    if name not in STT_ENCODINGS:
        raise ValueError(f"unsupported encoding {name!r}; use one of {', '.join(STT_ENCODINGS)}")
    try:
        rate = int(sample_rate) if sample_rate is not None else DECODE_RATE
    except ValueError:
        raise ValueError(f"sample_rate must be an integer, got {sample_rate!r}") from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"sample_rate must be between {MIN_RATE} and {MAX_RATE} Hz, got {rate}")
    return name, rate


def to_int16(data: bytes, encoding: str) -> bytes:
    """Whole samples of ``encoding`` as int16 little-endian bytes."""
    if encoding == "pcm_s16le":
        return data
    if encoding == "pcm_s32le":
        return (np.frombuffer(data, dtype="<i4") >> 16).astype("<i2").tobytes()
    if encoding in ("pcm_f16le", "pcm_f32le"):
        dtype = "<f2" if encoding == "pcm_f16le" else "<f4"
        return float_to_int16(np.frombuffer(data, dtype=dtype)).astype("<i2").tobytes()
    decode = g711.ulaw_decode if encoding == "pcm_mulaw" else g711.alaw_decode
    return decode(data).astype("<i2").tobytes()


class RawStream:
    """A raw audio stream in slices of any size -> WAV bytes for the pool (header first)."""

    def __init__(self, encoding: str, sample_rate: int) -> None:
        self.encoding = encoding
        self.width = STT_ENCODINGS[encoding]
        self._header: bytes | None = wav_header(sample_rate, None)
        self._partial = b""  # bytes of a sample split across two frames

    def header(self) -> bytes:
        header, self._header = self._header or b"", None
        return header

    async def convert(self, data: bytes) -> bytes:
        data = self._partial + data
        whole = len(data) - len(data) % self.width
        self._partial = data[whole:]
        if self.encoding == "pcm_s16le":
            return data[:whole]
        return await asyncio.to_thread(to_int16, data[:whole], self.encoding)


def file_to_wav(data: bytes, encoding: str | None, sample_rate: int | None) -> bytes:
    """Blocking: an uploaded file (or raw PCM when ``encoding`` is given) as one WAV for the pool."""
    if encoding is not None:
        name, rate = check_raw_format(encoding, sample_rate)
        width = STT_ENCODINGS[name]
        pcm = to_int16(data[: len(data) - len(data) % width], name)
        return wav_header(rate, len(pcm)) + pcm
    kind = sniff_container(data[:64])
    if kind == "wav":
        return data  # the pool's streaming WAV decoder reads every PCM/float/G.711 layout
    if kind is None:
        raise AudioFormatError(
            "unrecognised audio file: send WAV, FLAC, MP3 or Ogg (Vorbis/Opus), "
            "or raw PCM with the encoding and sample_rate query parameters"
        )
    audio, rate = read_audio_file(data, DECODE_RATE)
    pcm = float_to_int16(audio).astype("<i2").tobytes()
    return wav_header(rate, len(pcm)) + pcm
