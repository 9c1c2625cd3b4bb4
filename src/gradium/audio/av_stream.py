"""Streaming AAC (ADTS) and FLAC encoders on PyAV (FFmpeg), which faster-whisper already installs.

Each call to :meth:`AvStreamEncoder.encode` returns the container bytes muxed so far, so a response
can stream them as the audio is made. FLAC's header is written first with an unknown length (its
final rewrite of the header is not sent): decoders read such streams as they do any FLAC stream.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray

# response format -> (FFmpeg muxer, FFmpeg encoder, content type)
AV_FORMATS: dict[str, tuple[str, str, str]] = {
    "aac": ("adts", "aac", "audio/aac"),
    "flac": ("flac", "flac", "audio/flac"),
}


class AvStreamEncoder:
    """Mono int16 samples at one rate in, container bytes out, chunk by chunk."""

    def __init__(self, name: str, sample_rate: int) -> None:
        import av  # a dependency of faster-whisper; imported here so that only these formats need it

        muxer, codec, self.content_type = AV_FORMATS[name]
        self.sample_rate = sample_rate
        self._buffer = io.BytesIO()
        self._sent = 0
        self._pts = 0
        self._av: Any = av
        self._container: Any = av.open(self._buffer, mode="w", format=muxer)
        self._stream: Any = self._container.add_stream(codec, rate=sample_rate, layout="mono")

    def encode(self, samples: NDArray[np.int16]) -> bytes:
        if samples.size == 0:
            return b""
        frame = self._av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        self._pts += samples.size
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._drain()

    def finish(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._drain()

    def _drain(self) -> bytes:
        data = self._buffer.getvalue()[self._sent :]
        self._sent += len(data)
        return data
