"""WAV (RIFF/WAVE) headers: building them for output and parsing them incrementally for input."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from . import g711
from .convert import float_to_int16
from .errors import AudioFormatError

HEADER_SIZE = 44
# Placeholder for the RIFF and data sizes of a stream whose length is unknown when the header is sent.
# 0xFFFFFFFF rather than 0: ffmpeg's WAV demuxer reads either as "until end of stream" (it logs a
# warning for 0xFFFFFFFF), but Python's `wave` would see 0 as an empty file, while with 0xFFFFFFFF it
# reads every frame present (only getnframes() is meaningless). symphonia (sphn.read) accepts it too.
UNKNOWN_SIZE = 0xFFFFFFFF
# Input audio must be at a real audio rate: a header declaring 1 Hz made 300 bytes count as 300 s
# (billing, the 4 h limit) and the resampler to 16 kHz grew one 10 kB message to 2.8 GB.
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 32
# fmt bodies are 16, 18 or 40 bytes; a larger one is not a WAV header we understand.
MAX_FMT_BYTES = 1024
# A stream that has not reached its data chunk within this many bytes is not a WAV we can stream.
MAX_HEADER_BYTES = 1 << 20

_TAG_PCM = 0x0001
_TAG_FLOAT = 0x0003
_TAG_ALAW = 0x0006
_TAG_MULAW = 0x0007
_TAG_EXTENSIBLE = 0xFFFE
# WAVE_FORMAT_EXTENSIBLE sub-format GUIDs are the 16-bit format tag followed by this fixed suffix.
_KSDATAFORMAT_SUFFIX = bytes.fromhex("000000001000800000aa00389b71")

Encoding = Literal["int", "float", "alaw", "ulaw"]
_SUPPORTED_BITS: dict[int, tuple[Encoding, tuple[int, ...]]] = {
    _TAG_PCM: ("int", (8, 16, 24, 32)),
    _TAG_FLOAT: ("float", (32, 64)),
    _TAG_ALAW: ("alaw", (8,)),
    _TAG_MULAW: ("ulaw", (8,)),
}


def wav_header(sample_rate: int, data_bytes: int | None = None) -> bytes:
    """A 44-byte header for 16-bit mono PCM; `data_bytes=None` writes the streaming placeholder."""
    data_size = UNKNOWN_SIZE if data_bytes is None else data_bytes
    riff_size = UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", riff_size, b"WAVE",
        b"fmt ", 16, _TAG_PCM, 1, sample_rate, sample_rate * 2, 2, 16,
        b"data", data_size,
    )  # fmt: skip


@dataclass(frozen=True)
class WavFormat:
    """What the fmt chunk says, plus the data length (None when the stream did not know it)."""

    encoding: Encoding
    channels: int
    sample_rate: int
    bits: int
    data_size: int | None

    @property
    def block_align(self) -> int:
        return self.channels * self.bits // 8


class WavHeaderParser:
    """Collects bytes until the data chunk starts; the header may arrive in slices of any size."""

    def __init__(self, format_name: str = "wav") -> None:
        self._format_name = format_name
        self._buffer = bytearray()

    @property
    def bytes_seen(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> tuple[WavFormat, bytes] | None:
        """Return the format and the audio bytes after the header once complete, else None."""
        self._buffer += data
        return _parse(bytes(self._buffer), self._format_name)


def _parse(buf: bytes, format_name: str) -> tuple[WavFormat, bytes] | None:
    _check_riff(buf, format_name)
    if len(buf) < 12:
        return None
    unknown_length = buf[:4] == b"RF64"  # RF64 keeps real sizes in a ds64 chunk; stream to the end
    fmt: WavFormat | None = None
    pos = 12
    while pos + 8 <= len(buf):
        chunk_id, size = buf[pos : pos + 4], struct.unpack_from("<I", buf, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError("WAV data chunk comes before its fmt chunk")
            known = not unknown_length and size not in (0, UNKNOWN_SIZE)
            return _with_data_size(fmt, size if known else None), buf[body:]
        if chunk_id == b"fmt ":
            if size > MAX_FMT_BYTES:
                raise AudioFormatError(f"WAV fmt chunk of {size} bytes is too large (max {MAX_FMT_BYTES})")
            if body + size > len(buf):
                return None
            fmt = _parse_fmt(buf[body : body + size])
        pos = body + size + (size & 1)  # chunks are word-aligned: odd sizes carry a pad byte
        if pos > MAX_HEADER_BYTES:
            raise AudioFormatError(f"no WAV data chunk within the first {MAX_HEADER_BYTES} bytes")
    if len(buf) > MAX_HEADER_BYTES:
        raise AudioFormatError(f"no WAV data chunk within the first {MAX_HEADER_BYTES} bytes")
    return None


def _check_riff(buf: bytes, format_name: str) -> None:
    # Checked on every prefix so a wrong stream fails on its first bytes, not after 12 of them.
    riff_ok = any(buf[:4] == tag[: len(buf)] for tag in (b"RIFF", b"RF64"))
    wave_ok = len(buf) <= 8 or buf[8:12] == b"WAVE"[: len(buf) - 8]
    if not (riff_ok and wave_ok):
        raise AudioFormatError(f"expected a WAV stream (RIFF/WAVE header) for input_format {format_name!r}")


def _parse_fmt(body: bytes) -> WavFormat:
    if len(body) < 16:
        raise AudioFormatError(f"WAV fmt chunk too short ({len(body)} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _TAG_EXTENSIBLE:
        tag = _extensible_tag(body)
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioFormatError(f"WAV header has {channels} channels (expected 1 to {MAX_CHANNELS})")
    check_sample_rate(rate, "WAV sample rate")
    if tag not in _SUPPORTED_BITS:
        raise AudioFormatError(
            f"WAV format tag 0x{tag:04X} is compressed audio, which is not supported; "
            "send PCM (8/16/24/32-bit integer or 32-bit float) or G.711"
        )
    encoding, allowed_bits = _SUPPORTED_BITS[tag]
    if bits not in allowed_bits:
        raise AudioFormatError(f"{bits}-bit {encoding} WAV is not supported (expected {allowed_bits})")
    # Frames are cut by block_align: a header that disagrees with its own channels and bits
    # would have its samples misread, so it is refused rather than guessed at.
    if block_align != channels * bits // 8:
        raise AudioFormatError(
            f"WAV header is inconsistent: block_align {block_align} for {channels} channel(s) of {bits} bits"
        )
    return WavFormat(encoding, channels, rate, bits, None)


def check_sample_rate(rate: float, what: str = "sample rate") -> None:
    """AudioFormatError unless ``rate`` is a real audio rate (8 kHz to 192 kHz)."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioFormatError(
            f"{what} {rate:g} Hz is out of range ({MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)"
        )


def _extensible_tag(body: bytes) -> int:
    if len(body) < 40:
        raise AudioFormatError("WAVE_FORMAT_EXTENSIBLE fmt chunk is shorter than 40 bytes")
    subformat = body[24:40]
    if subformat[2:] != _KSDATAFORMAT_SUFFIX:
        raise AudioFormatError("WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID is not supported")
    tag: int = struct.unpack_from("<H", subformat)[0]
    return tag


def _with_data_size(fmt: WavFormat, data_size: int | None) -> WavFormat:
    return WavFormat(fmt.encoding, fmt.channels, fmt.sample_rate, fmt.bits, data_size)


def frames_to_mono_int16(data: bytes, fmt: WavFormat) -> NDArray[np.int16]:
    """Decode whole frames of WAV sample data to mono int16, averaging the channels."""
    if fmt.encoding == "int" and fmt.bits == 16 and fmt.channels == 1:
        return np.frombuffer(data, dtype="<i2").astype(np.int16)  # the common case stays lossless
    samples = _to_float(data, fmt).reshape(-1, fmt.channels)
    return float_to_int16(samples.mean(axis=1, dtype=np.float32))


def _to_float(data: bytes, fmt: WavFormat) -> NDArray[np.float32]:
    if fmt.encoding == "float":
        return np.frombuffer(data, dtype=f"<f{fmt.bits // 8}").astype(np.float32)
    if fmt.encoding in ("alaw", "ulaw"):
        decoded = g711.alaw_decode(data) if fmt.encoding == "alaw" else g711.ulaw_decode(data)
        return decoded.astype(np.float32) / np.float32(32768)
    if fmt.bits == 8:  # 8-bit WAV is the one unsigned width
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128) / np.float32(128)
    if fmt.bits == 24:
        return _int24_to_int32(data).astype(np.float32) / np.float32(1 << 31)
    full_scale = np.float32(1 << (fmt.bits - 1))
    return np.frombuffer(data, dtype=f"<i{fmt.bits // 8}").astype(np.float32) / full_scale


def _int24_to_int32(data: bytes) -> NDArray[np.int32]:
    # Place the three little-endian bytes in the top of an int32 so the sign comes for free.
    triples = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)
    padded = np.zeros((triples.shape[0], 4), dtype=np.uint8)
    padded[:, 1:] = triples
    return padded.view("<i4").reshape(-1)
