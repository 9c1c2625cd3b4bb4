"""Result objects of the one-shot helpers, and the text-segment assembly they share."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass
class TextWithTimestamps:
    """A word or segment with its time span in seconds in the audio."""

    text: str
    start_s: float
    stop_s: float
    client_req_id: str | None = None
    stream_id: int | None = None


def _float(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def segment_from_message(msg: dict[str, Any]) -> TextWithTimestamps:
    start_s = _float(msg.get("start_s"), 0.0)
    stream_id = msg.get("stream_id")
    client_req_id = msg.get("client_req_id")
    return TextWithTimestamps(
        text=str(msg.get("text", "")),
        start_s=start_s,
        stop_s=_float(msg.get("stop_s"), start_s),
        client_req_id=client_req_id if isinstance(client_req_id, str) else None,
        stream_id=stream_id if isinstance(stream_id, int) else None,
    )


class SegmentAssembler:
    """Pairs STT ``text`` messages with the ``end_text`` that carries their ``stop_s``.

    Gradium servers send the end time of a segment in a separate ``end_text`` message, which the
    official client ignores (its segments end where they start). A segment is held back until its
    ``end_text``, the next segment of the same stream, or the end of the stream arrives.
    """

    def __init__(self) -> None:
        self._pending: dict[int | None, TextWithTimestamps] = {}
        self.completed: list[TextWithTimestamps] = []

    def feed(self, msg: dict[str, Any]) -> list[TextWithTimestamps]:
        kind = msg.get("type")
        out: list[TextWithTimestamps] = []
        if kind == "text":
            segment = segment_from_message(msg)
            previous = self._pending.pop(segment.stream_id, None)
            if previous is not None:
                out.append(previous)
            if "stop_s" in msg:  # already complete: nothing to wait for
                out.append(segment)
            else:
                self._pending[segment.stream_id] = segment
        elif kind == "end_text":
            stream_id = msg.get("stream_id")
            key = stream_id if isinstance(stream_id, int) else None
            if key not in self._pending and len(self._pending) == 1:
                key = next(iter(self._pending))
            ended = self._pending.pop(key) if key in self._pending else None
            if ended is not None:
                ended.stop_s = max(ended.start_s, _float(msg.get("stop_s"), ended.start_s))
                out.append(ended)
        self.completed.extend(out)
        return out

    def finish(self) -> list[TextWithTimestamps]:
        out = sorted(self._pending.values(), key=lambda s: s.start_s)
        self._pending.clear()
        self.completed.extend(out)
        return out


def _wav_payload(data: bytes) -> bytes:
    """The sample bytes of a 16-bit PCM WAV, tolerating streaming headers with placeholder sizes."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("the audio is not a WAV file")
    pos = 12
    bits = 16
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk_id == b"fmt ":
            fmt_tag, _channels, _rate, _byte_rate, _align, bits = struct.unpack(
                "<HHIIHH", data[pos + 8 : pos + 24]
            )
            if fmt_tag not in (1, 0xFFFE):
                raise ValueError("only PCM WAV data can be converted to samples")
        elif chunk_id == b"data":
            if bits != 16:
                raise ValueError(f"only 16-bit WAV data can be converted, got {bits}-bit")
            # A streamed WAV does not know its length: the size is 0 or 0xFFFFFFFF; take the rest.
            end = len(data) if size in (0, 0xFFFFFFFF) or pos + 8 + size > len(data) else pos + 8 + size
            return data[pos + 8 : end]
        pos += 8 + size + (size & 1)
    raise ValueError("the WAV data has no `data` chunk")


def _pcm16_from(raw_data: bytes, output_format: str | None) -> npt.NDArray[np.int16]:
    if output_format is not None and output_format.startswith("pcm"):
        payload = raw_data
    elif output_format in (None, "wav") and raw_data[:4] == b"RIFF":
        payload = _wav_payload(raw_data)
    else:
        raise ValueError(f"cannot convert output_format {output_format!r} to samples; request 'pcm' or 'wav'")
    usable = len(payload) - (len(payload) % 2)
    return np.frombuffer(payload[:usable], dtype="<i2").astype(np.int16)


class _AudioResult:
    raw_data: bytes
    output_format: str | None

    def pcm16(self) -> npt.NDArray[np.int16]:
        """The audio as int16 samples (``pcm*`` output, or ``wav`` whose header is skipped)."""
        return _pcm16_from(self.raw_data, self.output_format)

    def pcm(self) -> npt.NDArray[np.float32]:
        """The audio as float32 samples in [-1, 1)."""
        return self.pcm16().astype(np.float32) / np.float32(32768.0)


@dataclass
class TTSResult(_AudioResult):
    """A whole synthesis: the concatenated audio bytes in the requested format, and timings."""

    raw_data: bytes
    sample_rate: int | None
    output_format: str | None
    request_id: str | None
    text_with_timestamps: list[TextWithTimestamps] = field(default_factory=list)


@dataclass
class STTResult:
    """A whole transcription: ``text`` is the segments joined with single spaces."""

    text: str
    text_with_timestamps: list[TextWithTimestamps]
    request_id: str | None

    @property
    def segments(self) -> list[TextWithTimestamps]:
        return self.text_with_timestamps


@dataclass
class S2SResult(_AudioResult):
    """A whole speech-to-speech request: output audio and the (translated) transcript."""

    raw_data: bytes
    sample_rate: int | None
    output_format: str | None
    request_id: str | None
    text: str
    text_with_timestamps: list[TextWithTimestamps] = field(default_factory=list)
