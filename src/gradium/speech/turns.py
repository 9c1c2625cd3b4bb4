"""Turn-taking hints: how likely is it that nobody speaks within the next 0.5, 1 or 2 seconds?

The model is deliberately simple, deterministic and cheap, because it runs on every 80 ms step:

* ``s`` is the trailing silence: how long the VAD has heard no speech, at 20/30 ms resolution.
  While the speaker talks, ``s`` is 0 and every probability is exactly 0.
* A pause of ``s`` seconds is compared with a *scale* ``k * h`` that grows with the horizon ``h``:
  ``p_h = s**2 / (s**2 + (k * h)**2)``. It is 0 at ``s = 0``, 0.5 when ``s = k * h`` and tends to 1;
  a longer horizon needs a proportionally longer silence for the same probability.
* ``k`` follows the recent speech density ``d`` (the share of speech frames in the few seconds
  before the pause): ``k = base_scale * (0.5 + d)``. A fluent talker's short pause is usually
  mid-sentence, so dense speech makes the probabilities rise more slowly; after sparse speech
  (a short "yes", or only noise) they rise faster.

* A **semantic hint**: when the recogniser's final words of the utterance before the pause end a
  sentence (``sentence_ended``, set by the pipeline from Whisper's punctuation), the scale drops
  to ``ended_scale * h``: a finished sentence followed by silence is most likely the end of the
  turn. With the defaults the 2 s horizon passes 0.9 after 0.72 s of silence that follows a
  finished sentence, while a 0.3 s pause inside a sentence stays below 0.1.

Single speech frames in silence are often clicks or breaths; a step only counts as speech when it
holds at least ``min_speech_frames`` speech frames, so such blips do not reset the silence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

DEFAULT_HORIZONS_S: tuple[float, ...] = (0.5, 1.0, 2.0)
STEP_S = 0.08


class InactivityEstimator:
    """Per-step inactivity probabilities from frame-level VAD decisions."""

    def __init__(
        self,
        horizons_s: Sequence[float] = DEFAULT_HORIZONS_S,
        *,
        frame_s: float = 0.02,
        base_scale: float = 0.5,
        ended_scale: float = 0.12,
        density_window_s: float = 3.0,
        min_speech_frames: int = 2,
    ) -> None:
        self.horizons_s = tuple(horizons_s)
        self.frame_s = frame_s
        self.base_scale = base_scale
        self.ended_scale = ended_scale
        self.sentence_ended = False  # the words before the current pause end a sentence
        self.min_speech_frames = min_speech_frames
        self._trailing_frames = 0  # non-speech frames since the last speech
        self._speech_seen = False
        self._history: deque[bool] = deque(maxlen=max(1, round(density_window_s / frame_s)))
        self._density = 0.0  # speech share of the window that ended at the last speech step

    @property
    def trailing_silence_s(self) -> float:
        return self._trailing_frames * self.frame_s

    @property
    def speech_seen(self) -> bool:
        """Whether any speech step has been heard since the start (or the last :meth:`mark`)."""
        return self._speech_seen

    def mark(self) -> None:
        """Forget that speech was seen (the caller ended an utterance); the silence keeps counting."""
        self._speech_seen = False

    def update(self, decisions: Sequence[bool]) -> tuple[tuple[float, float], ...]:
        """Consume one step's frame decisions; return ``((horizon_s, inactivity_prob), ...)``."""
        self._history.extend(decisions)
        if sum(decisions) >= self.min_speech_frames:
            self._speech_seen = True
            self.sentence_ended = False
            # Silence after the last speech frame of this step already counts as a pause.
            last_speech = max(i for i, speech in enumerate(decisions) if speech)
            self._trailing_frames = len(decisions) - 1 - last_speech
            self._density = sum(self._history) / len(self._history)
        else:
            # The density stays frozen during a pause: it describes the talk before the pause, so
            # a long silence does not by itself make the speaker look "sparse".
            self._trailing_frames += len(decisions)
        return tuple((h, self._probability(h)) for h in self.horizons_s)

    def _probability(self, horizon_s: float) -> float:
        silence = self.trailing_silence_s
        if silence <= 0.0:
            return 0.0
        if self.sentence_ended:
            scale = self.ended_scale * horizon_s
        else:
            scale = self.base_scale * (0.5 + self._density) * horizon_s
        return round(silence**2 / (silence**2 + scale**2), 4)
