"""STT input decoders: bytes in any supported input format -> mono int16 at the engine's rate."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import sphn
from numpy.typing import NDArray

from . import g711
from ._resample import EMPTY_INT16, StreamResampler
from .convert import float_to_int16
from .errors import AudioFormatError, UnknownFormatError
from .wav import WavFormat, WavHeaderParser, frames_to_mono_int16

OPUS_RATE = 48_000  # Opus always decodes at 48 kHz internally
_G711_RATE = 8_000
_PCM_RATES = (8_000, 16_000, 24_000, 44_100, 48_000)

# Input format name -> its fixed sample rate, or None when the stream itself says (wav, opus).
INPUT_FORMATS: dict[str, int | None] = {
    "pcm": 24_000,  # the seed protocol's default input rate
    **{f"pcm_{rate}": rate for rate in _PCM_RATES},
    "wav": None,
    "opus": OPUS_RATE,
    "ulaw_8000": _G711_RATE,
    "mulaw_8000": _G711_RATE,
    "alaw_8000": _G711_RATE,
}


class AudioDecoder(ABC):
    """Streaming decoder; subclasses turn bytes into mono int16 at the input rate."""

    def __init__(self, name: str, target_rate: int, input_sample_rate: int | None) -> None:
        self.format = name
        self.target_rate = target_rate
        self.input_sample_rate = input_sample_rate
        self._frames_received = 0
        self._resampler: StreamResampler | None = None

    @property
    def seconds_received(self) -> float:
        """Duration of the input audio decoded so far (what billing counts)."""
        if not self.input_sample_rate:
            return 0.0
        return self._frames_received / self.input_sample_rate

    def feed(self, data: bytes) -> NDArray[np.int16]:
        """Decode one slice of the stream; returns mono int16 at target_rate, possibly empty."""
        return self._emit(self._decode(bytes(data)))

    def finish(self) -> NDArray[np.int16]:
        """Decode what is left and flush the resampler; the decoder is spent afterwards."""
        tail = self._emit(self._decode_tail())
        if self._resampler is None:
            return tail
        return np.concatenate([tail, self._resampler.flush()])

    def _emit(self, samples: NDArray[np.int16]) -> NDArray[np.int16]:
        if samples.size == 0 or self.input_sample_rate is None:
            return EMPTY_INT16
        self._frames_received += samples.size
        if self._resampler is None:
            self._resampler = StreamResampler(self.input_sample_rate, self.target_rate)
        return self._resampler.process(samples)

    @abstractmethod
    def _decode(self, data: bytes) -> NDArray[np.int16]:
        """Samples at input_sample_rate for this slice; keep partial frames for later."""

    def _decode_tail(self) -> NDArray[np.int16]:
        """Samples still buffered at the end of the stream (none for most formats)."""
        return EMPTY_INT16


class _FixedFrameDecoder(AudioDecoder):
    """Headerless formats with a fixed rate and frame size: raw s16le and G.711."""

    def __init__(
        self, name: str, target_rate: int, rate: int, frame_bytes: int,
        convert: Callable[[bytes], NDArray[np.int16]],
    ) -> None:  # fmt: skip
        super().__init__(name, target_rate, rate)
        self._frame_bytes = frame_bytes
        self._convert = convert
        self._pending = b""  # an odd trailing byte of s16le waits for its other half

    def _decode(self, data: bytes) -> NDArray[np.int16]:
        data = self._pending + data
        whole = len(data) - len(data) % self._frame_bytes
        self._pending = data[whole:]
        return self._convert(data[:whole])


def _s16le(data: bytes) -> NDArray[np.int16]:
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


class _WavDecoder(AudioDecoder):
    """A WAV file streamed in slices: header (any layout) first, then interleaved frames."""

    def __init__(self, name: str, target_rate: int) -> None:
        super().__init__(name, target_rate, None)
        self._parser: WavHeaderParser | None = WavHeaderParser(name)
        self._format: WavFormat | None = None
        self._remaining: int | None = None  # data bytes still expected; None = until the end
        self._pending = b""

    def _decode(self, data: bytes) -> NDArray[np.int16]:
        if self._parser is not None:
            parsed = self._parser.feed(data)
            if parsed is None:
                return EMPTY_INT16
            self._format, data = parsed
            self._parser = None
            self.input_sample_rate = self._format.sample_rate
            self._remaining = self._format.data_size
        return self._frames(data)

    def _frames(self, data: bytes) -> NDArray[np.int16]:
        assert self._format is not None
        if self._remaining is not None:
            # Bytes past the declared data size belong to trailing chunks (LIST, id3...), not audio.
            data = data[: self._remaining]
            self._remaining -= len(data)
        data = self._pending + data
        whole = len(data) - len(data) % self._format.block_align
        self._pending = data[whole:]
        return frames_to_mono_int16(data[:whole], self._format)

    def _decode_tail(self) -> NDArray[np.int16]:
        if self._parser is not None and self._parser.bytes_seen > 0:
            raise AudioFormatError("WAV stream ended inside its header (no data chunk)")
        return EMPTY_INT16


class _OpusDecoder(AudioDecoder):
    """An Ogg Opus stream in slices of any size, decoded by sphn (libopus)."""

    def __init__(self, name: str, target_rate: int) -> None:
        super().__init__(name, target_rate, OPUS_RATE)
        self._reader = sphn.OpusStreamReader(OPUS_RATE)
        self._prefix = b""  # first bytes, until the Ogg capture pattern can be checked

    def _decode(self, data: bytes) -> NDArray[np.int16]:
        if len(self._prefix) < 4:
            self._prefix += data[: 4 - len(self._prefix)]
            if not b"OggS".startswith(self._prefix):
                raise AudioFormatError(
                    f"expected an Ogg Opus stream (starting with 'OggS') for input_format {self.format!r}"
                )
        try:
            pcm = self._reader.append_bytes(data)
        except ValueError as exc:
            raise AudioFormatError(f"corrupt Ogg Opus stream: {exc}") from exc
        return float_to_int16(np.asarray(pcm, dtype=np.float32).reshape(-1))


def open_decoder(name: str, target_rate: int = 16000) -> AudioDecoder:
    """A fresh decoder for one input stream in format `name`, producing mono int16 at target_rate."""
    if name not in INPUT_FORMATS:
        raise UnknownFormatError(name, "input", list(INPUT_FORMATS))
    if name == "wav":
        return _WavDecoder(name, target_rate)
    if name == "opus":
        return _OpusDecoder(name, target_rate)
    if name.startswith("pcm"):
        rate = INPUT_FORMATS[name]
        assert rate is not None
        return _FixedFrameDecoder(name, target_rate, rate, 2, _s16le)
    decode = g711.alaw_decode if name.startswith("alaw") else g711.ulaw_decode
    return _FixedFrameDecoder(name, target_rate, _G711_RATE, 1, decode)
