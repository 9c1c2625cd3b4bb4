"""Cut streamed TTS text into speakable segments, early enough to start speaking at once.

Text reaches the TTS WebSocket as one message holding a document or as many messages of a few
words each (LLM tokens). Consecutive messages are joined with whitespace, so the end of a
message is always a word boundary, and repeated whitespace is collapsed.

:class:`TextSegmenter` emits a :class:`Segment` as soon as a clause is complete: when a word ends
in ``. , ; : ! ?`` or ``…`` (optionally followed by closing quotes or brackets). Words that end
in a dot without ending a sentence do not cut: known abbreviations (``Dr.``, ``e.g.``, ``z.B.``),
initials (``J.``) and bare numbers (``3.`` is a German ordinal or a list item). A comma after a
number does not cut either, so ``March 3, 2024`` stays in one piece for the normaliser. It also
emits pending text before a ``<break>``, at ``<flush>`` (followed by :class:`Flush`), when more
than ``max_pending_words`` words wait without punctuation, and at :meth:`TextSegmenter.end`.

The result is the same whether the text arrives at once or word by word, except where the
``max_pending_words`` cut falls. Tags are parsed by :mod:`gradium.text.tags`; unknown tags are
stripped without splitting the word they sit in (``<b>bold</b>,`` reads ``bold,``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gradium.text.tags import Break, Flush, StrippedTag, Tag, TagScanner

__all__ = ["Break", "Flush", "Segment", "SegmenterItem", "TextSegmenter", "billable_characters"]


@dataclass(frozen=True)
class Segment:
    """Plain text ready for synthesis: tags removed, whitespace collapsed, never empty."""

    text: str

    @property
    def billable_characters(self) -> int:
        return billable_characters(self.text)


SegmenterItem = Segment | Break | Flush


def billable_characters(segment_text: str) -> int:
    """Credits charged for a segment: one per character (code point), tags already excluded.

    Bill the segment as emitted, before rewrite rules expand it: the user pays for what they sent.
    """
    return len(segment_text)


_CLAUSE_END = re.compile(r"[.,;:!?…]+[\"'”’»)\]}]*$")
# Lower-cased words whose final dot is part of the word, not the end of a sentence.
_ABBREVIATIONS = frozenset(
    {
        # en
        "dr.", "mr.", "mrs.", "ms.", "st.", "vs.", "etc.", "jr.", "sr.", "prof.", "approx.",
        # fr
        "m.", "mme.", "mlle.", "av.", "env.",
        # de
        "hr.", "fr.", "usw.", "bzw.", "ca.", "nr.", "str.", "vgl.",
        # es / pt
        "sra.", "srta.", "ud.", "uds.", "dra.", "sta.", "pág.",
    }
)
# "e.g.", "i.e.", "z.B.", "U.S.": dotted letter groups; "J.": an initial.
_DOTTED = re.compile(r"(?:[^\W\d_]{1,2}\.)+", re.UNICODE)
_NUMBER_WITH_STOP = re.compile(r"[-+]?\d+[.,]")


def _ends_clause(word: str) -> bool:
    if _CLAUSE_END.search(word) is None:
        return False
    bare = word.rstrip("\"'”’»)]}")
    if bare.lower() in _ABBREVIATIONS or _DOTTED.fullmatch(bare) is not None:
        return False
    return _NUMBER_WITH_STOP.fullmatch(bare.lstrip("\"'“‘«([{")) is None


class TextSegmenter:
    """Incremental segmenter; see the module docstring for where it cuts.

    ``push`` may raise :class:`gradium.text.tags.TagError` for a malformed or out-of-range
    ``<break>``; the text before the bad tag has then been consumed.
    """

    def __init__(self, max_pending_words: int = 12, first_max_words: int | None = None) -> None:
        if max_pending_words < 1 or (first_max_words is not None and first_max_words < 1):
            raise ValueError("max_pending_words and first_max_words must be at least 1")
        self._max_pending_words = max_pending_words
        # The first segment's own limit (a short first segment gives a neural engine's first audio
        # sooner); once a segment was emitted the usual limit applies.
        self._first_max_words = first_max_words
        self._emitted = False
        self._scanner = TagScanner()
        self._pending: list[str] = []
        # The word being read: text after the last whitespace, which later text may extend.
        self._partial = ""

    @property
    def pending_text(self) -> str:
        """Text received but not emitted yet (excluding a held-back partial tag)."""
        return " ".join([*self._pending, self._partial]).strip()

    def push(self, text: str) -> list[SegmenterItem]:
        """Add one text message; returns what became ready."""
        # A message boundary is a word boundary: the server joins messages with whitespace.
        return self._consume(self._scanner.feed(text + " "))

    def end(self) -> list[SegmenterItem]:
        """End of stream: emit everything still pending."""
        items = self._consume(self._scanner.finish())
        self._close_word(items)
        self._emit(items)
        return items

    def _consume(self, pieces: list[str | Tag]) -> list[SegmenterItem]:
        items: list[SegmenterItem] = []
        for piece in pieces:
            if isinstance(piece, str):
                self._read_text(piece, items)
            elif isinstance(piece, StrippedTag):
                continue
            else:
                self._close_word(items)
                self._emit(items)
                items.append(piece)
        return items

    def _read_text(self, text: str, items: list[SegmenterItem]) -> None:
        buffer = self._partial + text
        words = buffer.split()
        # Text not followed by whitespace may still grow (e.g. "bold" then "," after a stripped </b>).
        self._partial = words.pop() if words and not buffer[-1].isspace() else ""
        for word in words:
            self._add_word(word, items)

    def _add_word(self, word: str, items: list[SegmenterItem]) -> None:
        self._pending.append(word)
        limit = self._max_pending_words
        if not self._emitted and self._first_max_words is not None:
            limit = self._first_max_words - 1  # emitted once the segment holds first_max_words
        if _ends_clause(word) or len(self._pending) > limit:
            self._emit(items)

    def _close_word(self, items: list[SegmenterItem]) -> None:
        word, self._partial = self._partial.strip(), ""
        if word:
            self._add_word(word, items)

    def _emit(self, items: list[SegmenterItem]) -> None:
        if self._pending:
            items.append(Segment(" ".join(self._pending)))
            self._pending = []
            self._emitted = True
