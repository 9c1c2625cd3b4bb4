"""Streaming voice activity detection with Silero VAD v6 (the ONNX model shipped in faster-whisper).

The model takes 32 ms frames (512 samples at 16 kHz) preceded by the last 64 samples of the frame
before, and carries an LSTM state from frame to frame; this class keeps both across calls, so a
stream can be fed frame by frame. Each call costs ~0.1 ms of one core (onnxruntime, one thread).
Decisions use hysteresis: speech starts at probability >= ``threshold`` and ends below
``threshold - 0.15``, as Silero's own segmenter does, so a soft syllable does not flicker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import Int16Array
from .weights import PackagedFile, verified_path

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 512
CONTEXT_SAMPLES = 64
MODEL = PackagedFile(
    "faster-whisper==1.2.1",
    "faster_whisper",
    "assets/silero_vad_v6.onnx",
    "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2",
)


def _session(path: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"], sess_options=options
    )


class SileroVad:
    """:class:`~gradium.engines.base.VoiceActivityDetector` at 16 kHz, 32 ms frames."""

    sample_rate: int = SAMPLE_RATE
    frame_samples: int = FRAME_SAMPLES
    # Speech comes in contiguous runs (hysteresis); a run shorter than this (96 ms) is a breath or
    # a click, and must not restart a pause (gradium.speech.turns).
    min_speech_run: int = 3

    def __init__(self, threshold: float = 0.5, session: Any = None) -> None:
        self.threshold = threshold
        self._session = session if session is not None else _session(verified_path(MODEL))
        self._state = np.zeros((2, 1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._speaking = False
        self.last_probability = 0.0

    @property
    def session(self) -> Any:
        """The loaded model, to share between the detectors of one process (it is stateless)."""
        return self._session

    def reset(self) -> None:
        self._state[:] = 0.0
        self._context[:] = 0.0
        self._speaking = False

    def probability(self, frame: Int16Array) -> float:
        if frame.size != FRAME_SAMPLES:
            raise ValueError(f"expected a frame of {FRAME_SAMPLES} samples, got {frame.size}")
        audio = frame.astype(np.float32) / 32768.0
        window = np.concatenate([self._context, audio])[np.newaxis, :]
        probs, h, c = self._session.run(None, {"input": window, "h": self._state[0], "c": self._state[1]})
        self._state[0], self._state[1] = h, c
        self._context = audio[-CONTEXT_SAMPLES:]
        self.last_probability = float(np.asarray(probs).reshape(-1)[0])
        return self.last_probability

    def is_speech(self, frame: Int16Array) -> bool:
        p = self.probability(frame)
        self._speaking = p >= self.threshold or (self._speaking and p >= self.threshold - 0.15)
        return self._speaking
