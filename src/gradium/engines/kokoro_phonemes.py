"""Text to Kokoro's IPA, the way kokoro-onnx 0.6.1 produces it, without the GPL ``phonemizer`` package.

Kokoro was trained on espeak-ng IPA as the ``phonemizer`` package (3.4) shapes it, and kokoro-onnx
feeds it ``phonemize(text.strip(), lang, preserve_punctuation=True, with_stress=True)``, keeps only
the symbols in the model's vocabulary and collapses whitespace. This module reproduces that output
on our own ctypes binding of libespeak-ng (the ``espeakng-loader`` library):

* lines are phonemized one by one; within a line the text is cut at punctuation (a run of marks
  with the spaces around it; '.' and ',' between two digits are not marks), each piece is
  phonemized alone (``espeak_TextToPhonemes``, IPA, one call per clause) and the marks are put back
  where they were;
* espeak's phoneme separators are dropped, stress marks kept, and every word ends with a space;
* espeak's language-switch flags such as "(en)" are kept, as phonemizer's default does.

The quirks are kept on purpose (for instance, the first occurrence of a mark's text is where the
piece is cut, so "$19.99 in 2024." reads "nineteen. ninety nine"): the model knows this IPA.
``tests/test_neural_tts.py`` compares the output with phonemizer's when that package is importable.
"""

from __future__ import annotations

import ctypes
import re
import threading
from dataclasses import dataclass

from gradium.engines.espeak import _data_path, _library_copy

# espeak-ng language ids for the languages Kokoro speaks well, by the code phonemizer is given
# (phonemizer looks the voice up by language and takes its first identifier).
ESPEAK_VOICES = {
    "en-us": "gmw/en-US",
    "en-gb": "gmw/en",
    "fr-fr": "roa/fr",
    "es": "roa/es",
    "pt-br": "roa/pt-BR",
}

_MARKS = ';:,.!?¡¿—…"«»“”(){}[]'
_DIGIT_SEPARATORS = ".,"
_OTHER_MARKS = "".join(m for m in _MARKS if m not in _DIGIT_SEPARATORS)
# One mark group: marks with any whitespace around them; a separator between two digits is a decimal
# point or a thousands separator and stays with its number.
_MARK_GROUP = re.compile(rf"(?:\s*(?:[{re.escape(_OTHER_MARKS)}]|(?<![0-9])[.,]|[.,](?![0-9]))+\s*)+")
_CHARS_UTF8 = 1
_IPA_WITH_UNDERSCORE_SEPARATOR = ord("_") << 8 | 0x02
_AUDIO_OUTPUT_SYNCHRONOUS = 2


@dataclass(frozen=True)
class _Mark:
    line: int  # which line of the text it came from
    text: str
    where: str  # "begin", "inner", "end", or "alone" (the line is nothing but marks)


class EspeakIPA:
    """espeak-ng's IPA transcription on a private copy of the library (its globals are its own).

    One call at a time: a lock serializes callers; a sentence takes well under a millisecond.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lib: ctypes.CDLL | None = None
        self._voice = ""

    def _library(self) -> ctypes.CDLL:
        if self._lib is None:
            lib = ctypes.CDLL(str(_library_copy()))
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_Initialize.restype = ctypes.c_int
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetVoiceByName.restype = ctypes.c_int
            lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
            lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
            if lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, _data_path(), 0) <= 0:
                raise RuntimeError("espeak-ng failed to initialise")
            self._lib = lib
        return self._lib

    def clauses(self, text: str, language: str) -> str:
        """Raw espeak output for ``text``: phonemes joined by "_", words by " ", clauses by " "."""
        with self._lock:
            lib = self._library()
            if language != self._voice:
                if lib.espeak_SetVoiceByName(ESPEAK_VOICES[language].encode()) != 0:
                    raise RuntimeError(f"espeak-ng has no voice for {language!r}")
                self._voice = language
            # espeak advances the pointer clause by clause and sets it to NULL at the end.
            cursor = ctypes.pointer(ctypes.c_char_p(text.encode("utf-8")))
            parts = []
            while cursor.contents.value is not None:
                phonemes = lib.espeak_TextToPhonemes(cursor, _CHARS_UTF8, _IPA_WITH_UNDERSCORE_SEPARATOR)
                if phonemes:
                    parts.append(phonemes.decode("utf-8", "replace"))
            return " ".join(parts)


def _words(raw: str) -> str:
    """espeak output as phonemizer hands it on: no phoneme separators, each word followed by a space."""
    line = raw.strip().replace("\n", " ").replace("  ", " ")
    # espeak sometimes leaves separators at word ends (espeak-ng issue 694)
    line = re.sub(r"_+", "_", line).replace("_ ", " ")
    if not line:
        return ""
    return "".join(word.strip().replace("_", "") + " " for word in line.split(" "))


def _split_line(line: str, number: int) -> tuple[list[str], list[_Mark]]:
    """The pieces of ``line`` between mark groups, and the groups, each cut at its text's first
    occurrence in what is left of the line."""
    groups = [match.group() for match in _MARK_GROUP.finditer(line)]
    if not groups:
        return [line], []
    if len(groups) == 1 and groups[0] == line:
        return [], [_Mark(number, line, "alone")]
    marks = []
    for index, group in enumerate(groups):
        where = "inner"
        if index == 0 and line.startswith(group):
            where = "begin"
        elif index == len(groups) - 1 and line.endswith(group):
            where = "end"
        marks.append(_Mark(number, group, where))
    pieces, rest = [], line
    for mark in marks:
        before, _, rest = rest.partition(mark.text)
        pieces.append(before)
    return [*pieces, rest], marks


def _restore(pieces: list[str], marks: list[_Mark]) -> list[str]:
    """Put the marks back between the phonemized pieces, as phonemizer does.

    A mark is placed while its line number equals the count of pieces already given out; after
    that, pieces go out as they are and any marks left come last, together.
    """
    out: list[str] = []
    pieces, marks = list(pieces), list(marks)
    given = 0
    while pieces or marks:
        if not marks:
            out.extend(piece if piece.endswith(" ") else piece + " " for piece in pieces)
            break
        if not pieces:
            out.append("".join(mark.text for mark in marks))
            break
        if marks[0].line != given:
            out.append(pieces.pop(0))
            given += 1
            continue
        mark = marks.pop(0)
        if pieces[0].endswith(" "):
            pieces[0] = pieces[0][:-1]
        if mark.where == "begin":
            pieces[0] = mark.text + pieces[0]
        elif mark.where == "end":
            out.append(pieces.pop(0) + mark.text + ("" if mark.text.endswith(" ") else " "))
            given += 1
        elif mark.where == "alone":
            out.append(mark.text + ("" if mark.text.endswith(" ") else " "))
            given += 1
        elif len(pieces) == 1:
            pieces[0] += mark.text
        else:
            first = pieces.pop(0)
            pieces[0] = first + mark.text + pieces[0]
    return out


def phonemize(espeak: EspeakIPA, text: str, language: str, vocabulary: set[str] | frozenset[str]) -> str:
    """Kokoro's input for ``text``: IPA and kept punctuation, only symbols in ``vocabulary``."""
    lines = [line for line in text.strip().strip("\n").split("\n") if line.strip()]
    pieces: list[str] = []
    marks: list[_Mark] = []
    for number, line in enumerate(lines):
        line_pieces, line_marks = _split_line(line, number)
        pieces += line_pieces
        marks += line_marks
    phonemized = [_words(espeak.clauses(piece, language)) for piece in pieces if piece]
    joined = "\n".join(_restore(phonemized, marks))
    kept = "".join(char for char in joined if char in vocabulary).strip()
    return " ".join(kept.split())
