"""Voice activity detection with the WebRTC GMM detector (``webrtcvad-wheels``, module ``webrtcvad``)."""

from __future__ import annotations

from typing import Any

from .base import Int16Array

SAMPLE_RATE = 16_000
FRAME_MS_CHOICES = (20, 30)  # webrtcvad also takes 10 ms, but 20 ms divides our 80 ms steps evenly


class WebrtcVad:
    """:class:`~gradium.engines.base.VoiceActivityDetector` at 16 kHz.

    ``aggressiveness`` 0..3: higher filters out more non-speech (and some quiet speech).
    """

    sample_rate: int = SAMPLE_RATE

    def __init__(self, aggressiveness: int = 2, frame_ms: int = 20) -> None:
        if aggressiveness not in range(4):
            raise ValueError(f"VAD aggressiveness must be 0, 1, 2 or 3, not {aggressiveness}")
        if frame_ms not in FRAME_MS_CHOICES:
            raise ValueError(f"VAD frame length must be one of {FRAME_MS_CHOICES} ms, not {frame_ms}")
        self.aggressiveness = aggressiveness
        self.frame_ms = frame_ms
        self.frame_samples = SAMPLE_RATE * frame_ms // 1000
        import webrtcvad  # here, not at the top: the server's main process never runs a VAD

        self._vad: Any = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: Int16Array) -> bool:
        if frame.size != self.frame_samples:
            raise ValueError(f"expected a frame of {self.frame_samples} samples, got {frame.size}")
        return bool(self._vad.is_speech(frame.astype("<i2", copy=False).tobytes(), SAMPLE_RATE))
