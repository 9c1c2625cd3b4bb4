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

* A **semantic hint** once the recogniser's final pass over the utterance before the pause is in
  (the pipeline ends an utterance after 0.5 s of silence, or runs that pass early when a blip
  holds the utterance end back, see below), from its last word (:func:`sentence_state`):

  - ``ENDED``, it ends a sentence (``.``, ``?``, ``!`` from Whisper's punctuation): ``k`` drops to
    ``ended_scale``; with the defaults ``vad[2]`` passes 0.9 after 0.66 s of silence;
  - ``UNSURE``, no punctuation but not a word that cannot end a sentence (Whisper sometimes leaves
    the last sentence of a clip unpunctuated: "... ask what you can do for your country"): a
    weaker hint, ``unsure_scale``, 0.9 after 0.9 s;
  - ``OPEN``, a comma or a word that leaves the sentence open ("and", "the", "to", ...): no hint,
    the density scale above (about 3 s to 0.9).

  With a hint, the silence is counted from the end of the recogniser's last word when that is
  earlier than the VAD's last speech frame (a breath or a click after the last word does not
  restart the pause). A 0.3 s pause inside a sentence never has a hint (it is shorter than the
  utterance end), so it stays below 0.1.

Single speech frames in silence are often clicks or breaths; a step only counts as speech when it
holds at least ``min_speech_frames`` speech frames, so such blips do not reset the silence. With
``min_speech_run`` (for VADs with hysteresis, whose speech comes in contiguous runs: Silero), the
probabilities' pause ends only at a run of that many consecutive speech frames: Silero's 64 ms
blips after a sentence's last word delayed its end of turn by 0.5 s on the corpus; such a run also
clears the hint, a blip does not. The pipeline's utterance segmentation (``trailing_silence_s``)
keeps the step rule: with the run rule there, the base model's German and Portuguese WER rose from
4.5/11.8 % to 9.1/32.4 % (utterances cut differently), and so they did with the run rule only
after 0.3 s of silence. Instead, once :attr:`pause_s` reaches the utterance end while a blip holds
``trailing_silence_s`` back, the pipeline runs the utterance's final pass early for the hint and
ends the utterance with its words (``SttPipeline._early_pass``): en_fleurs_005's end of turn went
from 1.15 to 0.83 s (audio clock), no word changed.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence

DEFAULT_HORIZONS_S: tuple[float, ...] = (0.5, 1.0, 2.0)
STEP_S = 0.08

ENDED, UNSURE, OPEN = "ended", "unsure", "open"
SENTENCE_END = (".", "?", "!", "…", "。")
CLAUSE_OPEN = (",", ";", ":", "-", "–", "—")
# Words after which a sentence goes on: articles, prepositions, conjunctions, possessives,
# auxiliaries and pronouns that need a verb. An utterance whose final pass ends with one of them,
# unpunctuated, is taken as unfinished. Small lists per language; other languages have none.
_OPEN_TEXT: dict[str, str] = {
    "en": (
        "a an the and or but nor so because of to in on at by for with from into onto about than "
        "that which who whom whose if when while as my your his her its our their this these those "
        "is are was were be been am i we they he she not no very more most can could will would "
        "should shall may might must do does did have has had just um uh er like"
    ),
    "fr": (
        "le la les un une des du de d l et ou mais donc car que qu qui si quand comme à au aux en "
        "dans sur sous pour par avec sans mon ma mes ton ta tes son sa ses notre nos votre vos leur "
        "leurs ce cette ces je tu il elle nous vous ils elles est sont très plus euh"
    ),
    "de": (
        "der die das den dem des ein eine einen einem einer eines und oder aber denn weil dass wenn "
        "als ob zu in im an am auf aus bei mit nach von vom zum zur für über unter mein meine dein "
        "sein seine ihr ihre unser ich du er sie wir ist sind war waren hat haben sehr ähm äh"
    ),
    "es": (
        "el la los las un una unos unas y e o u pero porque que si cuando como a al de del en con "
        "por para sin sobre mi mis tu tus su sus nuestro nuestra yo tú él ella nosotros es son está "
        "muy más eh"
    ),
    "pt": (
        "o a os as um uma uns umas e ou mas porque que se quando como ao à aos às de do da dos das "
        "em no na nos nas com por para sem sobre meu minha seu sua nosso nossa eu tu ele ela nós é "
        "são está muito mais hã"
    ),
}
_OPEN_WORDS: dict[str, frozenset[str]] = {lang: frozenset(text.split()) for lang, text in _OPEN_TEXT.items()}


def sentence_state(last_word: str, language: str = "en") -> str:
    """``ENDED``, ``UNSURE`` or ``OPEN``: what the last recognised word says of its sentence."""
    word = last_word.strip().strip("\"'»”)")
    if not word:
        return OPEN
    if word.endswith(SENTENCE_END):
        return ENDED
    if word.endswith(CLAUSE_OPEN):
        return OPEN
    bare = re.sub(r"[^\w']", "", word.lower()).split("'")[-1]
    return OPEN if bare in _OPEN_WORDS.get(language, frozenset()) else UNSURE


class InactivityEstimator:
    """Per-step inactivity probabilities from frame-level VAD decisions."""

    def __init__(
        self,
        horizons_s: Sequence[float] = DEFAULT_HORIZONS_S,
        *,
        frame_s: float = 0.02,
        base_scale: float = 0.5,
        ended_scale: float = 0.11,
        unsure_scale: float = 0.15,
        density_window_s: float = 3.0,
        min_speech_frames: int = 2,
        min_speech_run: int = 0,
    ) -> None:
        self.horizons_s = tuple(horizons_s)
        self.frame_s = frame_s
        self.base_scale = base_scale
        self.scales = {ENDED: ended_scale, UNSURE: unsure_scale}
        self.sentence = OPEN  # what the words before the current pause say (see sentence_state)
        self.min_speech_frames = min_speech_frames
        self.min_speech_run = min_speech_run
        self._frames = 0  # frames consumed: the stream's clock
        self._trailing_frames = 0  # non-speech frames since the last speech step (utterance ends)
        self._quiet_frames = 0  # ... since the last speech run (min_speech_run): the probabilities
        self._run = 0  # consecutive speech frames so far (min_speech_run)
        self._speech_seen = False
        self._run_seen = False  # a run of min_speech_run speech frames since the start or mark()
        self._last_word_stop_s: float | None = None  # end of the recogniser's last word (a hint)
        self._history: deque[bool] = deque(maxlen=max(1, round(density_window_s / frame_s)))
        self._density = 0.0  # speech share of the window that ended at the last speech step

    @property
    def trailing_silence_s(self) -> float:
        return self._trailing_frames * self.frame_s

    @property
    def pause_s(self) -> float:
        """The silence the probabilities use: blips shorter than ``min_speech_run`` do not end it."""
        return self._quiet_frames * self.frame_s

    @property
    def hinted(self) -> bool:
        """Whether a semantic hint (:meth:`utterance_ended`) holds for the current pause."""
        return self._last_word_stop_s is not None

    @property
    def sentence_ended(self) -> bool:
        return self.sentence == ENDED

    @property
    def speech_seen(self) -> bool:
        """Whether any speech step has been heard since the start (or the last :meth:`mark`)."""
        return self._speech_seen

    @property
    def speech_run_seen(self) -> bool:
        """Whether a run of ``min_speech_run`` speech frames (with the run rule; else a speech
        step) has been heard since the start or the last :meth:`mark`: a pause after it follows
        speech, not only a blip."""
        return self._run_seen

    def mark(self) -> None:
        """Forget that speech was seen (the caller ended an utterance); the silence keeps counting."""
        self._speech_seen = False
        self._run_seen = False

    def utterance_ended(self, last_word: str, stop_s: float | None = None, language: str = "en") -> None:
        """The recogniser's final words of the utterance before this pause are in: ``last_word``
        gives the semantic hint, ``stop_s`` (stream time) when it ended."""
        self.sentence = sentence_state(last_word, language)
        self._last_word_stop_s = stop_s

    def update(self, decisions: Sequence[bool]) -> tuple[tuple[float, float], ...]:
        """Consume one step's frame decisions; return ``((horizon_s, inactivity_prob), ...)``."""
        self._history.extend(decisions)
        self._frames += len(decisions)
        if sum(decisions) >= self.min_speech_frames:
            speech = True
            # Silence after the last speech frame of this step already counts as a pause.
            last_speech = max(i for i, frame in enumerate(decisions) if frame)
            self._trailing_frames = len(decisions) - 1 - last_speech
        else:
            speech = False
            self._trailing_frames += len(decisions)
        if self.min_speech_run > 0:
            # The hint goes with the probabilities' pause: a blip does not clear it (the pipeline
            # may give it before its segmentation ends the utterance, after a blip).
            pause_ended = self._update_runs(decisions)
        else:
            self._quiet_frames = self._trailing_frames
            pause_ended = speech
        if pause_ended:
            self.sentence, self._last_word_stop_s = OPEN, None
            self._run_seen = True
        if speech:
            self._speech_seen = True
            self._density = sum(self._history) / len(self._history)
        # Otherwise the density stays frozen during a pause: it describes the talk before the
        # pause, so a long silence does not by itself make the speaker look "sparse".
        return self.probabilities()

    def probabilities(self) -> tuple[tuple[float, float], ...]:
        """The current step's ``((horizon_s, inactivity_prob), ...)``, as :meth:`update` returned
        them, with a hint given since (:meth:`utterance_ended`) taken into account."""
        return tuple((h, self._probability(h)) for h in self.horizons_s)

    def _update_runs(self, decisions: Sequence[bool]) -> bool:
        """Frame by frame: speech resets the pause once its run reaches ``min_speech_run``;
        returns whether it did in this step."""
        reset = False
        for frame in decisions:
            self._run = self._run + 1 if frame else 0
            if self._run >= self.min_speech_run:
                self._quiet_frames = 0
                reset = True
            else:
                self._quiet_frames += 1
        return reset

    def _probability(self, horizon_s: float) -> float:
        silence = self.pause_s
        scale = self.scales.get(self.sentence)
        if scale is not None and self._last_word_stop_s is not None:
            silence = max(silence, self._frames * self.frame_s - self._last_word_stop_s)
        if silence <= 0.0:
            return 0.0
        if scale is None:
            scale = self.base_scale * (0.5 + self._density)
        scale *= horizon_s
        return round(silence**2 / (silence**2 + scale**2), 4)
