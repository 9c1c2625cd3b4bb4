"""Map an engine's word events onto the whitespace-separated tokens of the input text.

Engines do not report one event per token: espeak merges function-word pairs ("of the"), emits
several events inside numbers and symbols, cuts hyphen words and may emit empty events; flite
drops tokens that are pure punctuation. Callers always get exactly one ``WordTiming`` per token:
a token takes the time of its first event, tokens without one are interpolated by character
length between their neighbours, and each word stops where its voiced audio ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from gradium.engines.base import Int16Array, WordTiming

_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = "\"'“”‘’«»()[]{}<>.,;:!?¡¿…—–-*_/\\"
_FRAME_S = 0.005
_MIN_WORD_S = 0.03


@dataclass(frozen=True)
class WordEvent:
    """An engine event that a word starts at ``time_s``; ``text_position`` is 1-based in characters."""

    text_position: int
    length: int
    time_s: float


@dataclass(frozen=True)
class Token:
    start: int  # 0-based character offsets into the text
    end: int
    text: str


def tokenize(text: str) -> list[Token]:
    """Whitespace-separated tokens, each named by the token with edge punctuation stripped."""
    tokens = []
    for match in _TOKEN.finditer(text):
        word = match.group().strip(_EDGE_PUNCTUATION) or match.group()
        tokens.append(Token(match.start(), match.end(), word))
    return tokens


def _token_index(tokens: list[Token], position: int) -> int:
    """The token holding 0-based character ``position``, else the nearest one."""

    def distance(token: Token) -> int:
        return max(token.start - position, position - token.end + 1, 0)

    return min(range(len(tokens)), key=lambda index: distance(tokens[index]))


def _anchor_starts(tokens: list[Token], events: list[WordEvent]) -> list[float | None]:
    starts: list[float | None] = [None] * len(tokens)
    for event in events:
        if event.length <= 0:
            continue  # the stray empty WORD events some espeak builds emit
        index = _token_index(tokens, event.text_position - 1)
        if starts[index] is None:
            starts[index] = event.time_s
    # Events must not run backwards; a later token never starts before an earlier one.
    latest = 0.0
    for index, start in enumerate(starts):
        if start is not None:
            latest = max(latest, start)
            starts[index] = latest
    return starts


def _interpolate(
    tokens: list[Token], anchors: list[float | None], first_s: float, last_s: float
) -> list[float]:
    """Fill tokens without an event by sharing the gap between known starts by character length."""
    starts = [0.0] * len(tokens)
    index = 0
    while index < len(tokens):
        anchor = anchors[index]
        if anchor is not None:
            starts[index] = anchor
            index += 1
            continue
        run_end = index
        while run_end < len(tokens) and anchors[run_end] is None:
            run_end += 1
        # The span shared out starts at the previous anchored token (which owns part of it).
        share_from = index - 1 if index > 0 else index
        t0 = starts[share_from] if index > 0 else first_s
        next_anchor = anchors[run_end] if run_end < len(tokens) else None
        t1 = next_anchor if next_anchor is not None else max(last_s, t0)
        t0 = min(t0, t1)  # a leading run may sit before audio that the first event already claims
        weights = [len(tokens[k].text) + 1 for k in range(share_from, run_end)]
        total = float(sum(weights))
        elapsed = 0.0
        for k in range(share_from, run_end):
            if k >= index:
                starts[k] = t0 + (t1 - t0) * elapsed / total
            elapsed += weights[k - share_from]
        index = run_end
    return starts


def _voiced_frames(pcm: Int16Array, sample_rate: int) -> tuple[np.ndarray, int]:
    """Per-frame voiced flags (peak above a level relative to the loudest frame) and frame size."""
    frame = max(1, round(sample_rate * _FRAME_S))
    count = len(pcm) // frame
    if count == 0:
        return np.zeros(0, dtype=bool), frame
    peaks = np.abs(pcm[: count * frame].astype(np.int32)).reshape(count, frame).max(axis=1)
    threshold = max(int(peaks.max()) // 40, 64)
    return peaks > threshold, frame


def align_words(text: str, events: list[WordEvent], pcm: Int16Array, sample_rate: int) -> list[WordTiming]:
    """One ``WordTiming`` per token of ``text``, timed from ``events`` and trimmed to voiced audio."""
    tokens = tokenize(text)
    if not tokens:
        return []
    voiced, frame = _voiced_frames(pcm, sample_rate)
    voiced_at = np.flatnonzero(voiced)
    duration = len(pcm) / sample_rate
    first_s = voiced_at[0] * frame / sample_rate if len(voiced_at) else 0.0
    last_s = (voiced_at[-1] + 1) * frame / sample_rate if len(voiced_at) else duration
    starts = _interpolate(tokens, _anchor_starts(tokens, events), first_s, last_s)
    words = []
    for index, token in enumerate(tokens):
        start = starts[index]
        limit = next((s for s in starts[index + 1 :] if s > start), duration)
        lo, hi = int(start * sample_rate) // frame, int(limit * sample_rate) // frame
        inside = np.flatnonzero(voiced[lo:hi])
        stop = (lo + inside[-1] + 1) * frame / sample_rate if len(inside) else limit
        stop = max(min(stop, limit), start + _MIN_WORD_S)
        words.append(WordTiming(token.text, round(float(start), 4), round(float(stop), 4)))
    return words
