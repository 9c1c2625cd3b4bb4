"""TTS output encoders: engine int16 PCM -> 80 ms chunks in the requested output format."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Literal, Protocol

import lameenc
import numpy as np
import sphn
from numpy.typing import NDArray

from . import g711
from ._resample import EMPTY_INT16, StreamResampler
from .convert import int16_to_float
from .errors import UnknownFormatError
from .wav import HEADER_SIZE, UNKNOWN_SIZE, wav_header

CHUNK_MS = 80  # the protocol's chunk duration (3840 samples = 7680 bytes for 48 kHz pcm)
OPUS_FRAME = 960  # 20 ms at 48 kHz, the frame size sphn's Opus writer encodes

# "pcm" is int16; "f32" is float32 samples. The "wav_*" codecs wrap those sample codecs in a WAV header.
Codec = Literal[
    "pcm", "wav", "ulaw", "alaw", "opus", "f32", "wav_f32", "wav_ulaw", "wav_alaw", "mp3"
]  # fmt: skip


@dataclass(frozen=True)
class OutputFormat:
    """One output_format name: its rate, the HTTP content type and how samples are packed."""

    name: str
    sample_rate: int
    content_type: str
    codec: Codec
    bit_rate: int | None = None  # mp3 only, in bits per second

    @property
    def chunk_samples(self) -> int:
        return self.sample_rate * CHUNK_MS // 1000


def _pcm(name: str, rate: int) -> OutputFormat:
    return OutputFormat(name, rate, "audio/pcm", "pcm")


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", 48_000, "audio/wav", "wav"),
    "pcm": _pcm("pcm", 48_000),
    **{f"pcm_{r}": _pcm(f"pcm_{r}", r) for r in (8_000, 16_000, 22_050, 24_000, 44_100, 48_000)},
    "ulaw_8000": OutputFormat("ulaw_8000", 8_000, "audio/basic", "ulaw"),
    "mulaw_8000": OutputFormat("mulaw_8000", 8_000, "audio/basic", "ulaw"),
    "alaw_8000": OutputFormat("alaw_8000", 8_000, "audio/x-alaw-basic", "alaw"),
    "opus": OutputFormat("opus", 48_000, "audio/ogg", "opus"),
}


class _Packer(Protocol):
    def pack(self, samples: NDArray[np.int16]) -> bytes:
        """Bytes for one whole chunk."""

    def finish(self, samples: NDArray[np.int16]) -> bytes:
        """Bytes for the last, possibly partial or empty, chunk."""


class _RawPacker:
    def __init__(self, codec: Codec) -> None:
        self._codec = codec

    def pack(self, samples: NDArray[np.int16]) -> bytes:
        if self._codec == "ulaw":
            return g711.ulaw_encode(samples)
        if self._codec == "alaw":
            return g711.alaw_encode(samples)
        if self._codec == "f32":
            return int16_to_float(samples).astype("<f4").tobytes()
        return samples.astype("<i2").tobytes()

    def finish(self, samples: NDArray[np.int16]) -> bytes:
        return self.pack(samples)


class _WavPacker:
    """Streaming WAV: the length is unknown when the first chunk leaves, so sizes are placeholders."""

    def __init__(self, sample_rate: int) -> None:
        self._header: bytes | None = wav_header(sample_rate, None)

    def pack(self, samples: NDArray[np.int16]) -> bytes:
        header, self._header = self._header or b"", None
        return header + samples.astype("<i2").tobytes()

    def finish(self, samples: NDArray[np.int16]) -> bytes:
        return self.pack(samples)  # still emits the header when no audio came at all


class _OpusPacker:
    def __init__(self, sample_rate: int) -> None:
        self._writer = sphn.OpusStreamWriter(sample_rate)

    def pack(self, samples: NDArray[np.int16]) -> bytes:
        # An empty append still yields the OpusHead/OpusTags pages, so even silence is a valid stream.
        return bytes(self._writer.append_pcm(int16_to_float(samples)))

    def finish(self, samples: NDArray[np.int16]) -> bytes:
        # The writer drops an incomplete frame, so pad the tail with silence to a whole 20 ms frame.
        # sphn's writer has no close(): the stream simply ends without an end-of-stream page.
        padded = np.zeros(-(-samples.size // OPUS_FRAME) * OPUS_FRAME, dtype=np.int16)
        padded[: samples.size] = samples
        return self.pack(padded)


def _packer(fmt: OutputFormat) -> _Packer:
    if fmt.codec == "wav":
        return _WavPacker(fmt.sample_rate)
    if fmt.codec == "opus":
        return _OpusPacker(fmt.sample_rate)
    if fmt.codec in _WAV_SAMPLE_CODECS:
        return _TypedWavPacker(fmt.sample_rate, _WAV_SAMPLE_CODECS[fmt.codec])
    if fmt.codec == "mp3":
        return _Mp3Packer(fmt.sample_rate, fmt.bit_rate or DEFAULT_MP3_BIT_RATE)
    return _RawPacker(fmt.codec)


class AudioEncoder:
    """Encodes one output stream; every chunk but the last holds exactly 80 ms of audio."""

    def __init__(self, fmt: OutputFormat) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate
        self._packer = _packer(fmt)
        self._resampler: StreamResampler | None = None
        self._pending = EMPTY_INT16  # output-rate samples short of a whole chunk

    def encode(self, pcm: NDArray[np.int16], sample_rate: int) -> list[bytes]:
        """Encode engine audio at `sample_rate`; returns zero or more whole 80 ms chunks."""
        samples = np.asarray(pcm)
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise TypeError(f"expected mono int16 samples, got {samples.ndim}-D {samples.dtype}")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        flushed, resampler = self._resampler_for(sample_rate)
        return self._chunks(np.concatenate([flushed, resampler.process(samples)]))

    def finish(self) -> list[bytes]:
        """Flush the resampler and the last partial chunk; the encoder is spent afterwards."""
        chunks = self._chunks(self._resampler.flush() if self._resampler else EMPTY_INT16)
        self._resampler = None
        last = self._packer.finish(self._pending)  # empty for raw formats with nothing left
        self._pending = EMPTY_INT16
        return [*chunks, last] if last else chunks

    @property
    def samples_to_chunk_boundary(self) -> int:
        """Output samples missing before the pending partial chunk is whole (0 when none is pending)."""
        return (-self._pending.size) % self.format.chunk_samples

    def pad_to_chunk(self) -> list[bytes]:
        """Complete the pending partial chunk with silence so all audio so far goes out now (flush)."""
        missing = self.samples_to_chunk_boundary
        return self._chunks(np.zeros(missing, dtype=np.int16)) if missing else []

    def silence(self, seconds: float) -> list[bytes]:
        """Encode `seconds` of silence, at the current engine rate so the resampler stays warm."""
        rate = self._resampler.in_rate if self._resampler else self.sample_rate
        return self.encode(np.zeros(round(seconds * rate), dtype=np.int16), rate)

    def _resampler_for(self, sample_rate: int) -> tuple[NDArray[np.int16], StreamResampler]:
        """The resampler for this engine rate, and the old filter's tail when the rate changed."""
        current = self._resampler
        if current is not None and current.in_rate == sample_rate:
            return EMPTY_INT16, current
        # A rate change first drains the old filter so no audio is lost.
        tail = current.flush() if current is not None else EMPTY_INT16
        self._resampler = StreamResampler(sample_rate, self.sample_rate)
        return tail, self._resampler

    def _chunks(self, samples: NDArray[np.int16]) -> list[bytes]:
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        size = self.format.chunk_samples
        whole = data.size - data.size % size
        self._pending = data[whole:].copy()
        return [self._packer.pack(data[start : start + size]) for start in range(0, whole, size)]


def open_encoder(name: str) -> AudioEncoder:
    """A fresh encoder for one output stream in format `name`."""
    fmt = OUTPUT_FORMATS.get(name)
    if fmt is None:
        raise UnknownFormatError(name, "output", list(OUTPUT_FORMATS))
    return AudioEncoder(fmt)


def encode_complete(pcm: NDArray[np.int16], sample_rate: int, fmt: str) -> bytes:
    """Encode a whole utterance for a one-shot HTTP response (WAV gets its real sizes here)."""
    encoder = open_encoder(fmt)
    if encoder.format.codec != "wav":
        return b"".join(encoder.encode(pcm, sample_rate) + encoder.finish())
    raw = AudioEncoder(_pcm("pcm", encoder.sample_rate))
    body = b"".join(raw.encode(pcm, sample_rate) + raw.finish())
    return wav_header(encoder.sample_rate, len(body)) + body


# Raw encodings, WAV and MP3 at any common rate (the Cartesia API's output_format) -----------------

RAW_ENCODINGS: dict[str, Codec] = {
    "pcm_s16le": "pcm",
    "pcm_f32le": "f32",
    "pcm_mulaw": "ulaw",
    "pcm_alaw": "alaw",
}
CONTAINERS = ("raw", "wav", "mp3")
ENCODER_SAMPLE_RATES = (8_000, 16_000, 22_050, 24_000, 44_100, 48_000)
MP3_BIT_RATES = (32_000, 64_000, 96_000, 128_000, 192_000)
DEFAULT_MP3_BIT_RATE = 128_000

_WAV_SAMPLE_CODECS: dict[str, Codec] = {"wav_f32": "f32", "wav_ulaw": "ulaw", "wav_alaw": "alaw"}
_WAV_CODEC_FOR: dict[Codec, Codec] = {"pcm": "wav", "f32": "wav_f32", "ulaw": "wav_ulaw", "alaw": "wav_alaw"}
# WAV fmt tag and bits per sample of each sample codec.
_WAV_LAYOUT: dict[Codec, tuple[int, int]] = {"pcm": (1, 16), "f32": (3, 32), "ulaw": (7, 8), "alaw": (6, 8)}
_CONTENT_TYPES = {"raw": "application/octet-stream", "wav": "audio/wav", "mp3": "audio/mpeg"}


def typed_wav_header(codec: Codec, sample_rate: int, data_bytes: int | None = None) -> bytes:
    """A mono WAV header for int16, float32 or G.711 samples (``data_bytes=None``: streaming sizes).

    int16 keeps the classic 44-byte header. The other formats are "non-PCM" WAV, whose fmt chunk
    must carry cbSize and which needs a fact chunk: decoders such as symphonia reject G.711 without.
    """
    if codec == "pcm":
        return wav_header(sample_rate, data_bytes)
    tag, bits = _WAV_LAYOUT[codec]
    block = bits // 8
    data_size = UNKNOWN_SIZE if data_bytes is None else data_bytes
    frames = UNKNOWN_SIZE if data_bytes is None else data_bytes // block
    riff_size = UNKNOWN_SIZE if data_bytes is None else 50 + data_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHHH4sII4sI",
        b"RIFF", riff_size, b"WAVE",
        b"fmt ", 18, tag, 1, sample_rate, sample_rate * block, block, bits, 0,
        b"fact", 4, frames,
        b"data", data_size,
    )  # fmt: skip


def wav_with_sizes(wav: bytes) -> bytes:
    """Patch the real sizes into a streamed WAV (from these encoders) that is now complete."""
    out = bytearray(wav)
    for offset, value in wav_size_patches(wav[:WAV_HEAD_SCAN_BYTES], len(wav)):
        struct.pack_into("<I", out, offset, value)
    return bytes(out)


def patch_wav_file_sizes(path: str | os.PathLike[str]) -> None:
    """``wav_with_sizes`` in place, for a WAV file written as a stream (only its header is read)."""
    with open(path, "r+b") as handle:
        total = handle.seek(0, os.SEEK_END)
        handle.seek(0)
        head = handle.read(WAV_HEAD_SCAN_BYTES)
        for offset, value in wav_size_patches(head, total):
            handle.seek(offset)
            handle.write(struct.pack("<I", value))


# Our encoders' headers (RIFF, fmt, fact, data) fit well within this many bytes.
WAV_HEAD_SCAN_BYTES = 4096


def wav_size_patches(head: bytes, total: int) -> list[tuple[int, int]]:
    """(offset, uint32) writes that give a complete WAV of ``total`` bytes its real sizes.

    ``head`` is the file's start, up to and including its data chunk's header; nothing to patch
    (an empty list) when it is not a RIFF/WAVE file.
    """
    if len(head) < HEADER_SIZE or head[:4] != b"RIFF":
        return []
    # Past 4 GiB a WAV cannot state its size: the placeholder then stays (readers stream to the end).
    patches = [(4, min(total - 8, UNKNOWN_SIZE))]
    pos, block, fact = 12, 1, None
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk == b"fmt ":
            block = max(1, struct.unpack_from("<H", head, pos + 20)[0])
        elif chunk == b"data":
            body = min(total - pos - 8, UNKNOWN_SIZE)
            patches.append((pos + 4, body))
            if fact is not None:
                patches.append((fact, body // block))
            return patches
        elif chunk == b"fact":
            fact = pos + 8
        pos += 8 + size + (size & 1)
    return []


class _TypedWavPacker:
    """Streaming WAV of float32 or G.711 samples (placeholder sizes, as ``_WavPacker``)."""

    def __init__(self, sample_rate: int, codec: Codec) -> None:
        self._header: bytes | None = typed_wav_header(codec, sample_rate)
        self._raw = _RawPacker(codec)

    def pack(self, samples: NDArray[np.int16]) -> bytes:
        header, self._header = self._header or b"", None
        return header + self._raw.pack(samples)

    def finish(self, samples: NDArray[np.int16]) -> bytes:
        return self.pack(samples)


class _Mp3Packer:
    """MP3 through LAME; its frames lag the input, so early chunks may be empty until finish()."""

    def __init__(self, sample_rate: int, bit_rate: int) -> None:
        self._lame = lameenc.Encoder()
        self._lame.set_channels(1)
        self._lame.set_in_sample_rate(sample_rate)
        self._lame.set_out_sample_rate(sample_rate)
        self._lame.set_bit_rate(bit_rate // 1000)
        self._lame.set_quality(5)  # LAME's speed/quality midpoint: far faster than real time

    def pack(self, samples: NDArray[np.int16]) -> bytes:
        return bytes(self._lame.encode(samples.astype("<i2").tobytes()))

    def finish(self, samples: NDArray[np.int16]) -> bytes:
        return self.pack(samples) + bytes(self._lame.flush())


class ShapedEncoder(AudioEncoder):
    """An encoder with a volume gain and an optional cap on the output duration.

    The cap truncates (it never time-stretches), as the Cartesia ``duration`` field documents;
    ``capped`` tells the caller that further synthesis would be thrown away.
    """

    def __init__(self, fmt: OutputFormat, gain: float = 1.0, max_seconds: float | None = None) -> None:
        super().__init__(fmt)
        self.gain = gain
        self._budget = None if max_seconds is None else max(0, round(max_seconds * fmt.sample_rate))

    @property
    def capped(self) -> bool:
        return self._budget is not None and self._budget <= 0

    def encode(self, pcm: NDArray[np.int16], sample_rate: int) -> list[bytes]:
        if self.gain != 1.0:
            scaled = np.rint(np.asarray(pcm, dtype=np.float32) * np.float32(self.gain))
            pcm = np.clip(scaled, -32768, 32767).astype(np.int16)
        return super().encode(pcm, sample_rate)

    def _chunks(self, samples: NDArray[np.int16]) -> list[bytes]:
        if self._budget is not None:
            samples = samples[: self._budget]
            self._budget -= samples.size
        return super()._chunks(samples)


def output_format_for(
    container: str, encoding: str | None, sample_rate: int, bit_rate: int | None = None
) -> OutputFormat:
    """Validate a (container, encoding, rate, bit rate) choice; UnknownFormatError names the problem."""
    if container not in CONTAINERS:
        raise UnknownFormatError(str(container), "output container", list(CONTAINERS))
    if sample_rate not in ENCODER_SAMPLE_RATES:
        raise UnknownFormatError(
            str(sample_rate), "output sample rate", [str(r) for r in ENCODER_SAMPLE_RATES]
        )
    if container == "mp3":
        rate = bit_rate or DEFAULT_MP3_BIT_RATE
        if rate not in MP3_BIT_RATES:
            raise UnknownFormatError(str(bit_rate), "mp3 bit rate", [str(r) for r in MP3_BIT_RATES])
        return OutputFormat(f"mp3_{sample_rate}_{rate}", sample_rate, _CONTENT_TYPES["mp3"], "mp3", rate)
    codec = RAW_ENCODINGS.get(str(encoding))
    if codec is None:
        raise UnknownFormatError(str(encoding), "output encoding", list(RAW_ENCODINGS))
    if container == "wav":
        codec = _WAV_CODEC_FOR[codec]
    return OutputFormat(
        f"{container}_{encoding}_{sample_rate}", sample_rate, _CONTENT_TYPES[container], codec
    )


def open_encoder_for(
    container: str,
    encoding: str | None,
    sample_rate: int,
    bit_rate: int | None = None,
    *,
    gain: float = 1.0,
    max_seconds: float | None = None,
) -> ShapedEncoder:
    """A fresh encoder for raw/wav/mp3 output in any raw encoding at any rate of ENCODER_SAMPLE_RATES."""
    return ShapedEncoder(output_format_for(container, encoding, sample_rate, bit_rate), gain, max_seconds)
