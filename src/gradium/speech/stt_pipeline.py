"""One STT stream, synchronously: input bytes -> 80 ms ``Step`` events, committed ``Word`` events,
``Partial`` hypotheses and ``UtteranceEnd`` markers.

This runs inside a worker process (see ``gradium.workers.stt_pool``), never on the event loop:
decoding and recognition are CPU-bound. The pipeline knows engines only through the
:class:`~gradium.engines.base.STTDecoder` and ``VoiceActivityDetector`` interfaces; the decoder's
class attributes say how often a partial hypothesis is worth its cost and how long a pause ends an
utterance.

Commit policy (a committed word is final and emitted exactly once):

* **Utterance end.** When the VAD has heard the decoder's ``end_of_utterance_s`` of silence after
  speech, the recogniser's utterance is ended; its final pass is more accurate than the partials,
  so every word not yet committed is taken from it. The next audio starts a new utterance.
  When a blip (a breath, a click) restarted that silence but the end-of-turn model's pause, which
  ignores blips, has reached it, a decoder with ``final_hypothesis`` runs the final pass early for
  the semantic hint; if no speech follows, its words end the utterance (no second pass). The step
  whose processing gave a hint carries it.
* **Inside speech.** A partial hypothesis is asked for every ``partial_interval_s`` of new audio
  (every step when 0). A word of it is committed once the audio has run ``delay_in_frames * 80 ms``
  past the word's *start* (as a delayed-stream model aligns its text), the word ended at least the
  decoder's ``commit_margin_s`` before the newest audio (the recogniser has heard some of what
  follows it), and the hypothesis up to and including it has not changed for ``COMMIT_STABLE_S``
  or, for decoders with a partial interval, over two consecutive partial passes (the
  LocalAgreement policy). A larger delay gives steadier text, later.

Silence between utterances is not given to the recogniser (pocketsphinx costs CPU on silence as on
speech): after an utterance ends, audio is held back, the last ``PRE_ROLL_S`` of it in a buffer,
until the VAD hears speech again; the buffer then goes to the recogniser first, so soft word onsets
the VAD missed are still heard. Word times stay on the stream's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from gradium.audio.input import open_decoder
from gradium.engines.base import STTDecoder, VoiceActivityDetector, WordTiming
from gradium.engines.pocketsphinx import SUPPORTED_LANGUAGES, PocketsphinxDecoder
from gradium.engines.webrtc_vad import WebrtcVad

from .turns import InactivityEstimator

SAMPLE_RATE = 16_000
STEP_S = 0.08
STEP_SAMPLES = 1280  # 80 ms at 16 kHz
VALID_DELAYS_IN_FRAMES: frozenset[int] = frozenset({7, 8, 10, 12, 14, 16, 20, 24, 32, 36, 48})
DEFAULT_DELAY_IN_FRAMES = 10
VAD_AGGRESSIVENESS = 2
# Asked whether a due partial pass may run now; the argument says it is the utterance's first.
PartialGate = Callable[[bool], bool]
COMMIT_STABLE_S = 0.16  # a word is committed once the hypothesis up to it has held this long
PRE_ROLL_S = 0.32  # audio before the VAD's speech onset that the recogniser still gets
# A partial pass is not run once the speaker has been silent this long: it would find no new words,
# and the utterance's final pass may be due a few steps later, so the two would run back to back
# and hold the stream up for both (0.36 s + 0.43 s on a corpus clip). Skips 7 of 76 partial
# passes on the English corpus clips, same WER.
PARTIAL_SKIP_SILENCE_S = 0.16

_EMPTY = np.zeros(0, dtype=np.int16)


@dataclass(frozen=True)
class Step:
    """One 80 ms step of input audio (the last one may be shorter)."""

    step_idx: int
    total_duration_s: float
    inactivity: tuple[tuple[float, float], ...]  # ((horizon_s, inactivity_prob), ...) by horizon


@dataclass(frozen=True)
class Word:
    """A committed word; times from the start of the stream."""

    text: str
    start_s: float
    stop_s: float


@dataclass(frozen=True)
class Partial:
    """The current utterance's hypothesis (committed and not yet committed words); it may change."""

    text: str


@dataclass(frozen=True)
class UtteranceEnd:
    """The words of one utterance are all committed (a pause ended it, or a flush, or the stream)."""

    stop_s: float


SttEvent = Step | Word | Partial | UtteranceEnd


class UnsupportedLanguageError(ValueError):
    """The requested language has no installed recognition model."""


class InvalidSttConfigError(ValueError):
    """``delay_in_frames`` or ``temp`` out of range."""


def installed_languages() -> list[str]:
    return sorted(SUPPORTED_LANGUAGES)


def language_code(language: str) -> str:
    """"en", "EN", "en-US" and "en_us" all mean English: the lower-case primary subtag."""
    return language.strip().lower().replace("_", "-").split("-")[0]


def check_delay_and_temp(delay_in_frames: int, temp: float) -> None:
    """The engine-neutral part of a stream configuration; raises InvalidSttConfigError."""
    if isinstance(delay_in_frames, bool) or delay_in_frames not in VALID_DELAYS_IN_FRAMES:
        valid = ", ".join(str(d) for d in sorted(VALID_DELAYS_IN_FRAMES))
        raise InvalidSttConfigError(f"invalid delay_in_frames {delay_in_frames!r}; valid: {valid}")
    if not 0.0 <= temp <= 1.0:
        raise InvalidSttConfigError(f"invalid temp {temp!r}; it must be between 0 and 1")


def validate_stt_config(language: str, delay_in_frames: int, temp: float) -> str:
    """Check a stream configuration for the pipeline's own default engine (pocketsphinx); return the
    normalised language code or raise a ValueError."""
    code = language_code(language)
    if code not in SUPPORTED_LANGUAGES:
        raise UnsupportedLanguageError(
            f"unsupported STT language {language!r}; installed: {', '.join(installed_languages())}"
        )
    check_delay_and_temp(delay_in_frames, temp)
    return code


class _StableCommitter:
    """Tracks how long each word of the running hypothesis has stayed unchanged."""

    def __init__(self, delay_s: float, margin_s: float, stable_s: float = COMMIT_STABLE_S) -> None:
        self.delay_s = delay_s
        self.margin_s = margin_s
        self.stable_s = stable_s
        self._words: list[WordTiming] = []
        self._since: list[float] = []  # audio time since which words[: i + 1] is unchanged

    def clear(self) -> None:
        self._words, self._since = [], []

    def stable_words(self, pending: list[WordTiming], now_s: float) -> list[WordTiming]:
        """Update with the uncommitted part of the hypothesis; return the prefix that is ready."""
        same = 0
        while same < min(len(pending), len(self._words)) and pending[same].text == self._words[same].text:
            same += 1
        self._since = self._since[:same] + [now_s] * (len(pending) - same)
        self._words = list(pending)
        count = 0
        eps = 1e-6  # audio times are sums of 80 ms steps
        for word, since in zip(pending, self._since, strict=True):
            if (
                now_s + eps < word.start_s + self.delay_s
                or now_s + eps < word.stop_s + self.margin_s
                or now_s + eps < since + self.stable_s
            ):
                break
            count += 1
        self._words, self._since = self._words[count:], self._since[count:]
        return pending[:count]


class SttPipeline:
    """Bytes of one input stream in, ``Step`` and ``Word`` events out.

    ``decoder`` lets a worker reuse a loaded recogniser (it must be fresh or reset, at 16 kHz, and
    built for the same ``temp``); by default a new :class:`PocketsphinxDecoder` is loaded.
    pocketsphinx is deterministic: ``temp`` > 0 lowers its language-model weight instead (see
    ``gradium.engines.pocketsphinx.lm_weight_for``).
    """

    skip_silence = True  # hold silence between utterances back from the recogniser
    early_pass_s = 0.5  # the probabilities' pause at which a decoder's early final pass runs

    def __init__(
        self,
        input_format: str,
        *,
        language: str = "en",
        delay_in_frames: int = DEFAULT_DELAY_IN_FRAMES,
        temp: float = 0.0,
        decoder: STTDecoder | None = None,
        vad: VoiceActivityDetector | None = None,
    ) -> None:
        if decoder is None:
            self.language = validate_stt_config(language, delay_in_frames, temp)
        else:  # the caller chose the engine and validated the language against it
            check_delay_and_temp(delay_in_frames, temp)
            self.language = language
        self.delay_in_frames = delay_in_frames
        self.temp = temp
        self._audio = open_decoder(input_format, SAMPLE_RATE)
        self.decoder: STTDecoder = decoder if decoder is not None else PocketsphinxDecoder(temp)
        self._vad: VoiceActivityDetector = vad if vad is not None else WebrtcVad(VAD_AGGRESSIVENESS)
        self._turns = InactivityEstimator(
            frame_s=self._vad.frame_samples / SAMPLE_RATE,
            # A VAD with hysteresis (Silero) says how long a run of speech frames must be to count.
            min_speech_run=getattr(self._vad, "min_speech_run", 0),
        )
        interval = self.decoder.partial_interval_s
        # With partial passes every `interval`, "unchanged for almost one interval" means two
        # consecutive passes agreed.
        stable_s = max(COMMIT_STABLE_S, interval - STEP_S / 2) if interval > 0 else COMMIT_STABLE_S
        self._committer = _StableCommitter(delay_in_frames * STEP_S, self.decoder.commit_margin_s, stable_s)
        self._pending: NDArray[np.int16] = _EMPTY  # samples not yet stepped
        self._vad_rest: NDArray[np.int16] = _EMPTY  # stepped samples short of a whole VAD frame
        self._ahead = 0  # samples at the head of _pending that the recogniser already has (flush)
        self._listening = False  # the recogniser is in an utterance (it gets every sample)
        self._held: list[NDArray[np.int16]] = []  # stepped samples not given to it (pre-roll)
        self._held_samples = 0
        self._skipped = 0  # samples never given to the recogniser, before its current utterance
        self._steps = 0
        self._samples_stepped = 0
        self._utterance_samples = 0
        self._partial_at = 0  # utterance samples when the last partial hypothesis was taken
        self._committed_until = 0.0  # stop time of the last committed word
        self._utterance_words: list[str] = []  # committed words of the current utterance
        self._last_partial = ""
        self._early_passed = False  # in this pause (see _early_pass)
        self._early_last: tuple[str, float] | None = None  # its last word and when it ended
        self._hint_given = False  # by the current step's passes
        self._finished = False

    def feed(self, data: bytes, *, partials: bool | PartialGate = True) -> list[SttEvent]:
        """Process input bytes. ``partials=False`` skips costly partial hypotheses (the caller knows
        more audio is already waiting, as in batch transcription): utterance ends still commit. A
        :data:`PartialGate` is asked when a partial is due (a worker's CPU budget); a refused one is
        due again at the next feed. Decoders whose partials cost nothing (interval 0) get them
        anyway, for the same words."""
        self._check_open()
        self._append(self._audio.feed(data))
        if self.decoder.partial_interval_s == 0:
            return self._run_steps()
        events = self._run_steps(partials=False)
        # One partial at most per feed, after its last step: a feed of seconds (an upload) costs
        # one decode, not one per interval.
        if partials and self._partial_due():
            first = self._partial_at == 0  # the utterance's first interim words: never held back
            if not callable(partials) or partials(first):
                events += self._commit_stable()
        return events

    def flush(self) -> list[SttEvent]:
        """Process everything received so far; commit the words that are final.

        Complete steps are processed as usual. The last partial step (< 80 ms) is given to the
        recogniser but stays buffered for the VAD and the step count. If the speaker is silent at
        the end of the audio, the utterance is ended so its words come out now; otherwise only
        the stable words are committed.
        """
        self._check_open()
        events = self._run_steps()
        if self._listening:
            tail = self._pending[self._ahead :]
            self._give_recogniser(tail)
            self._ahead += tail.size
        if self._turns.speech_seen and self._turns.trailing_silence_s > 0:
            events += self._end_utterance()
        else:
            events += self._commit_stable()
        return events

    def finish(self) -> list[SttEvent]:
        """End of stream: process all audio (the last partial step is a step) and commit every word."""
        self._check_open()
        self._append(self._audio.finish())
        events = self._run_steps()
        if self._pending.size:
            events.append(self._step(self._pending))
            self._pending = _EMPTY
        events += self._end_utterance()
        self._finished = True
        return events

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("this STT stream is finished")

    def _append(self, pcm: NDArray[np.int16]) -> None:
        if pcm.size:
            self._pending = np.concatenate([self._pending, pcm]) if self._pending.size else pcm

    def _run_steps(self, *, partials: bool = True) -> list[SttEvent]:
        events: list[SttEvent] = []
        while self._pending.size >= STEP_SAMPLES:
            samples, self._pending = self._pending[:STEP_SAMPLES], self._pending[STEP_SAMPLES:]
            step = self._step(samples)
            self._hint_given = False
            after = self._after_step(partials=partials)
            if self._hint_given:
                # The final pass that this step's silence triggered has given the semantic hint:
                # the step carries it, rather than the next one 80 ms later (its message is sent
                # after the pass anyway).
                step = replace(step, inactivity=self._turns.probabilities())
            events.append(step)
            events += after
        return events

    def _step(self, samples: NDArray[np.int16]) -> Step:
        decisions = self._vad_decisions(samples, last=samples.size < STEP_SAMPLES)
        inactivity = self._turns.update(decisions)
        if self._listening or self._turns.speech_seen or not self.skip_silence:
            if not self._listening:
                self._start_listening()
            self._give_recogniser(samples[self._ahead :])
        else:
            self._hold(samples[self._ahead :])
        self._ahead = max(0, self._ahead - samples.size)
        self._samples_stepped += samples.size
        step = Step(self._steps, round(self._samples_stepped / SAMPLE_RATE, 6), inactivity)
        self._steps += 1
        return step

    def _vad_decisions(self, samples: NDArray[np.int16], *, last: bool = False) -> list[bool]:
        """Decisions for the whole VAD frames available; a frame may straddle two steps."""
        size = self._vad.frame_samples
        audio = np.concatenate([self._vad_rest, samples]) if self._vad_rest.size else samples
        if last:  # the stream's last samples are padded with silence to a whole frame
            audio = np.pad(audio, (0, -audio.size % size))
        whole = audio.size - audio.size % size
        self._vad_rest = audio[whole:]
        return [self._vad.is_speech(audio[i : i + size]) for i in range(0, whole, size)]

    def _hold(self, samples: NDArray[np.int16]) -> None:
        """Keep silence from the recogniser, but remember the last PRE_ROLL_S of it."""
        self._held.append(samples)
        self._held_samples += samples.size
        while self._held_samples - self._held[0].size >= PRE_ROLL_S * SAMPLE_RATE:
            dropped = self._held.pop(0)
            self._held_samples -= dropped.size
            self._skipped += dropped.size

    def _start_listening(self) -> None:
        self._listening = True
        held, self._held, self._held_samples = self._held, [], 0
        for samples in held:
            self._give_recogniser(samples)

    def _give_recogniser(self, samples: NDArray[np.int16]) -> None:
        if samples.size:
            self.decoder.accept(samples)
            self._utterance_samples += samples.size

    def _after_step(self, *, partials: bool = True) -> list[SttEvent]:
        silence = self._turns.trailing_silence_s
        if self._turns.speech_seen and silence >= self.decoder.end_of_utterance_s:
            return self._end_utterance()
        if self._utterance_samples >= self.decoder.max_utterance_s * SAMPLE_RATE:
            return self._end_utterance()
        if self._early_pass():
            return []  # the partial waits for the next step
        if not partials or not self._partial_due():
            return []
        return self._commit_stable()

    def _early_pass(self) -> bool:
        """A final-quality pass before the utterance ends, for its semantic hint; whether one ran.

        Once per pause, when the probabilities' pause (which a blip does not end, see
        ``min_speech_run``) reaches ``early_pass_s``; its last word gives the hint once that pause
        is as long as the utterance end, even when a blip restarted the segmentation's silence.
        When the utterance then ends with no speech run since, the pass's words are its final
        words (:meth:`_end_utterance`), so the pass moves earlier and costs nothing more.

        On en_fleurs_005, a breath 0.3 s after the last word held the utterance end, and with it
        the hint, back by 0.4 s (end of turn 1.15 s). Ending the utterance there instead cut
        others inside sentences (German and Portuguese WER 4.5/11.8 % -> 9.1/32.4 %); this pass
        changes no utterance. At ``early_pass_s`` = 0.3 s its words differed from the final pass's
        (Portuguese WER 11.8 -> 26.5 %) and 9 of its 39 passes on the corpus were wasted (at 0.5 s:
        1 of 2). Decoders without ``final_hypothesis`` skip it."""
        final_hypothesis = getattr(self.decoder, "final_hypothesis", None)
        pause_s = self._turns.pause_s
        if pause_s < self.early_pass_s - 1e-9:
            self._early_passed, self._early_last = False, None
            return False
        # Not at an utterance's onset, where the pause before it is long and the first speech
        # step may be a short run: the pass would decode 0.4 s of onset for nothing.
        if final_hypothesis is None or not (self._listening and self._turns.speech_run_seen):
            return False
        ran = not self._early_passed
        if ran:
            self._early_passed = True
            words = self._shifted(final_hypothesis())
            if words:
                self._early_last = (words[-1].text, max(words[-1].stop_s, self._committed_until))
            elif self._utterance_words:
                self._early_last = (self._utterance_words[-1], self._committed_until)
        if (
            self._early_last is not None
            and not self._turns.hinted
            and pause_s >= self.decoder.end_of_utterance_s - 1e-9
        ):
            self._turns.utterance_ended(*self._early_last, self._hint_language())
            self._hint_given = True
        return ran

    def _hint_language(self) -> str:
        return getattr(self.decoder, "language", None) or self.language

    def _partial_due(self) -> bool:
        if not self._listening or not self._turns.speech_seen:
            return False  # nothing said in this utterance yet: skip the cost of a partial hypothesis
        interval = self.decoder.partial_interval_s * SAMPLE_RATE
        if interval > 0 and self._turns.trailing_silence_s >= PARTIAL_SKIP_SILENCE_S:
            return False  # due again when speech resumes; if it does not, the final pass comes
        return self._utterance_samples - self._partial_at >= interval

    def _commit_stable(self) -> list[SttEvent]:
        if not self._listening:
            return []
        self._partial_at = self._utterance_samples
        now_s = (self._samples_stepped + self._ahead) / SAMPLE_RATE
        pending = self._uncommitted(self.decoder.hypothesis())
        events = self._commit(self._committer.stable_words(pending, now_s))
        text = " ".join([*self._utterance_words, *(w.text for w in pending[len(events) :])])
        if text and text != self._last_partial:
            self._last_partial = text
            events.append(Partial(text))
        return events

    def _end_utterance(self) -> list[SttEvent]:
        words: list[WordTiming] = []
        finish_early = getattr(self.decoder, "finish_early", None)
        if self._listening and self._early_passed and finish_early is not None:
            # No speech run since the early pass (it would have ended the pause): the audio since
            # is silence or blips, so that pass's words are the utterance's (no second pass).
            words = self._uncommitted(finish_early())
        elif self._listening:
            words = self._uncommitted(self.decoder.finish())
        self._early_passed, self._early_last = False, None
        self._committer.clear()
        self._turns.mark()
        self._utterance_samples = 0
        self._partial_at = 0
        self._listening = False
        events = self._commit(words)
        if self._utterance_words:
            # The semantic end-of-turn hint: does the utterance's last word end a sentence?
            last = self._utterance_words[-1]
            self._turns.utterance_ended(last, self._committed_until, self._hint_language())
            self._hint_given = True
            events.append(UtteranceEnd(self._committed_until))
        self._utterance_words, self._last_partial = [], ""
        return events

    def _shifted(self, words: list[WordTiming]) -> list[WordTiming]:
        # The recogniser's clock misses the silence it was never given; shift onto the stream's.
        # (Skipping happens only between its utterances, so one offset fits the whole utterance.)
        if not self._skipped:
            return words
        offset = self._skipped / SAMPLE_RATE
        return [WordTiming(w.text, round(w.start_s + offset, 3), round(w.stop_s + offset, 3)) for w in words]

    def _uncommitted(self, words: list[WordTiming]) -> list[WordTiming]:
        words = self._shifted(words)
        # Word boundaries move between passes; a word whose middle lies after the committed
        # text is new, anything else was already committed (possibly with other boundaries).
        return [w for w in words if (w.start_s + w.stop_s) / 2 > self._committed_until]

    def _commit(self, words: list[WordTiming]) -> list[SttEvent]:
        events: list[SttEvent] = []
        for word in words:
            start = max(word.start_s, self._committed_until)
            stop = max(word.stop_s, start)
            events.append(Word(word.text, start, stop))
            self._utterance_words.append(word.text)
            self._committed_until = stop
        return events
