"""User turns from the STT pipeline's events: start, update, eager end, resume and end.

A turn starts with its first recognised word (or partial hypothesis) and holds one or more
utterances. When an utterance ends (the VAD heard a pause and the final pass is done) the turn
*may* be over: an **eager end** is announced with the transcript so far. Speech that follows
**resumes** the turn. The turn **ends** once the 2 s inactivity probability reaches
``end_threshold`` (0.6 s after a finished sentence, 0.9 s after an unpunctuated one that does not
end on a word like "the" or "and", about 3 s otherwise: see ``turns.py``) or the
pause reaches ``end_timeout_s``, whichever comes first. Transcripts are cumulative over the turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gradium.speech.stt_pipeline import Partial, Step, SttEvent, UtteranceEnd, Word

DEFAULT_END_THRESHOLD = 0.9
DEFAULT_END_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class TurnEvent:
    kind: str  # "start", "update", "eager_end", "resume" or "end"
    transcript: str = ""


@dataclass
class TurnTracker:
    end_threshold: float = DEFAULT_END_THRESHOLD
    end_timeout_s: float = DEFAULT_END_TIMEOUT_S
    in_turn: bool = False
    _finished: list[str] = field(default_factory=list)  # the turn's ended utterances
    _words: list[str] = field(default_factory=list)  # committed words of the current utterance
    _partial: str = ""  # the current utterance's latest hypothesis
    _paused_at: float | None = None  # end of the last utterance, while the turn may be over
    _eager_sent: bool = False
    _sent: str = ""  # the transcript of the last update

    @property
    def transcript(self) -> str:
        current = " ".join(self._words)
        if len(self._partial.split()) > len(self._words):
            current = self._partial
        return " ".join(t for t in [*self._finished, current] if t)

    def feed(self, event: SttEvent) -> list[TurnEvent]:
        if isinstance(event, Word | Partial):
            return self._speech(event)
        if isinstance(event, UtteranceEnd):
            return self._utterance_end(event)
        if isinstance(event, Step):
            return self._step(event)
        return []

    def finish(self) -> list[TurnEvent]:
        """The audio ended: a turn still open ends now."""
        return self._end() if self.in_turn else []

    def _speech(self, event: Word | Partial) -> list[TurnEvent]:
        out: list[TurnEvent] = []
        if not self.in_turn:
            self.in_turn = True
            out.append(TurnEvent("start"))
        elif self._eager_sent:
            self._eager_sent = False
            out.append(TurnEvent("resume"))
        self._paused_at = None
        if isinstance(event, Word):
            self._words.append(event.text)
        else:
            self._partial = event.text
        if self.transcript and self.transcript != self._sent:
            self._sent = self.transcript
            out.append(TurnEvent("update", self._sent))
        return out

    def _utterance_end(self, event: UtteranceEnd) -> list[TurnEvent]:
        if not self.in_turn:
            return []
        utterance = " ".join(self._words)
        if utterance:
            self._finished.append(utterance)
        self._words, self._partial = [], ""
        self._paused_at = event.stop_s
        out: list[TurnEvent] = []
        if self.transcript != self._sent:
            self._sent = self.transcript
            out.append(TurnEvent("update", self._sent))
        if not self._eager_sent:
            self._eager_sent = True
            out.append(TurnEvent("eager_end", self.transcript))
        return out

    def _step(self, step: Step) -> list[TurnEvent]:
        if not self.in_turn or self._paused_at is None:
            return []
        inactivity = step.inactivity[-1][1] if step.inactivity else 0.0
        if inactivity >= self.end_threshold or step.total_duration_s - self._paused_at >= self.end_timeout_s:
            return self._end()
        return []

    def _end(self) -> list[TurnEvent]:
        utterance = " ".join(self._words) or self._partial
        if utterance:
            self._finished.append(utterance)
        event = TurnEvent("end", " ".join(self._finished))
        self.in_turn, self._finished, self._words, self._partial = False, [], [], ""
        self._paused_at, self._eager_sent, self._sent = None, False, ""
        return [event]
