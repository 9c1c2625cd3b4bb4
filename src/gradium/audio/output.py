"""TTS output encoders: engine int16 PCM -> 80 ms chunks in the requested output format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import sphn
from numpy.typing import NDArray

from . import g711
from ._resample import EMPTY_INT16, StreamResampler
from .convert import int16_to_float
from .errors import UnknownFormatError
from .wav import wav_header

CHUNK_MS = 80  # the protocol's chunk duration (3840 samples = 7680 bytes for 48 kHz pcm)
OPUS_FRAME = 960  # 20 ms at 48 kHz, the frame size sphn's Opus writer encodes

Codec = Literal["pcm", "wav", "ulaw", "alaw", "opus"]


@dataclass(frozen=True)
class OutputFormat:
    """One output_format name: its rate, the HTTP content type and how samples are packed."""

    name: str
    sample_rate: int
    content_type: str
    codec: Codec

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
