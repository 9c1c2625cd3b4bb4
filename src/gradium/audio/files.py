"""Whole audio files (voice-clone uploads, CLI input) -> mono float32, decoded by sphn."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soxr
import sphn
from numpy.typing import NDArray

from .convert import float_to_int16, int16_to_float
from .errors import AudioFormatError
from .wav import check_sample_rate

__all__ = ["float_to_int16", "int16_to_float", "read_audio_file", "sniff_container"]

_MAGIC_BYTES = 64  # enough for every signature below, including OpusHead inside the first Ogg page
_SUFFIX = {"wav": ".wav", "flac": ".flac", "mp3": ".mp3", "ogg": ".ogg", "opus": ".opus"}


def sniff_container(head: bytes) -> str | None:
    """Name the container from the first bytes: wav, flac, mp3, opus, ogg, or None if unknown."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"  # an ID3 tag, or a bare MPEG audio frame sync
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head else "ogg"
    return None


def read_audio_file(
    source: str | os.PathLike[str] | bytes, target_rate: int | None = None
) -> tuple[NDArray[np.float32], int]:
    """Decode a wav/flac/mp3/ogg/opus file (path or bytes) to mono float32 and its sample rate.

    The content decides the decoder, never the file name. With `target_rate` the audio is resampled
    to it. Raises AudioFormatError for anything undecodable, including raw PCM, which has no header
    to say its rate.
    """
    head = source[:_MAGIC_BYTES] if isinstance(source, bytes) else _read_head(Path(source))
    kind = sniff_container(head)
    if kind is None:
        raise AudioFormatError(
            "unrecognised audio file: expected WAV, FLAC, MP3 or Ogg (Opus); "
            "raw PCM is not supported here because it carries no sample rate"
        )
    try:
        channels, rate = _decode(source, kind)
    except ValueError as exc:
        raise AudioFormatError(f"cannot decode {kind} audio: {exc}") from exc
    check_sample_rate(rate, f"{kind} sample rate")  # before any resampling: 1 Hz would explode
    mono = channels.mean(axis=0, dtype=np.float32)  # (channels, samples) -> downmix
    if target_rate is not None and target_rate != rate and mono.size:
        mono = np.asarray(soxr.resample(mono, rate, target_rate), dtype=np.float32)
    return mono.astype(np.float32), target_rate or int(rate)


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_MAGIC_BYTES)


def _decode(source: str | os.PathLike[str] | bytes, kind: str) -> tuple[NDArray[np.float32], int]:
    """(channels, samples) float32 and the file's rate."""
    # sphn.read probes the content with symphonia but cannot open Opus, hence the separate reader.
    if isinstance(source, bytes):
        if kind == "opus":
            return _planar(*sphn.read_opus_bytes(source))
        with tempfile.NamedTemporaryFile(suffix=_SUFFIX[kind]) as tmp:  # sphn.read only takes a path
            tmp.write(source)
            tmp.flush()
            return _planar(*sphn.read(tmp.name))
    reader = sphn.read_opus if kind == "opus" else sphn.read
    return _planar(*reader(os.fspath(source)))


def _planar(audio: object, rate: int) -> tuple[NDArray[np.float32], int]:
    planar = np.asarray(audio, dtype=np.float32)
    return (planar[np.newaxis, :] if planar.ndim == 1 else planar), int(rate)
