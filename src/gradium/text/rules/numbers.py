"""Number spelling shared by the language normalisers, on top of num2words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from num2words import num2words

__all__ = ["NumberStyle", "Numeral", "spell", "spell_digits", "spell_int"]

# Beyond this many digits num2words either overflows or produces an unreadable string; reading
# digit by digit is what a person would do with an ID or a long code anyway.
_MAX_DIGITS = 15


@dataclass(frozen=True)
class NumberStyle:
    """How a language writes numbers: ``1,234.5`` (en) or ``1 234,5`` / ``1.234,5`` (others)."""

    decimal: str
    grouping: str  # characters allowed between thousands groups, as a regex character class body

    def pattern(self, followed_by_word: bool = False) -> str:
        """Regex (no groups) for one unsigned number written in this style.

        ``followed_by_word`` lets a letter follow directly, as in ``5km``.
        """
        decimal = re.escape(self.decimal)
        grouped = rf"\d{{1,3}}(?:[{self.grouping}]\d{{3}})+(?:{decimal}\d+)?"
        # Comma-decimal languages still meet "3.5" from copy-pasted English text.
        plain = r"\d+(?:[.,]\d+)?" if self.decimal == "," else rf"\d+(?:{decimal}\d+)?"
        tail = r"(?![.,]\d)" if followed_by_word else r"(?!\w|[.,]\d)"
        return rf"(?<!\w)(?<!\d[.,])(?:{grouped}|{plain}){tail}"

    def split(self, token: str) -> Numeral:
        """Integer and fraction digits of a token matched by :meth:`pattern`."""
        grouped = re.fullmatch(rf"\d{{1,3}}(?:[{self.grouping}]\d{{3}})+", token.split(self.decimal)[0])
        if grouped is not None:
            head, _, fraction = token.partition(self.decimal)
            return Numeral(re.sub(r"\D", "", head), fraction)
        head, _, fraction = token.replace(",", ".").partition(".")
        return Numeral(head, fraction)


@dataclass(frozen=True)
class Numeral:
    """A written number as digit strings: ``1 234,50`` -> ``Numeral("1234", "50")``."""

    integer: str
    fraction: str = ""

    @property
    def is_one(self) -> bool:
        return int(self.integer) == 1 and self.fraction.strip("0") == ""

    @property
    def below_two(self) -> bool:
        return int(self.integer) < 2


# num2words costs ~0.1 ms a call and dominates normalisation time; days, minutes, cents and years
# repeat constantly, so a bounded cache keeps a sentence well under a millisecond.
@lru_cache(maxsize=8192)
def _num2words(value: int, lang: str, to: str) -> str:
    try:
        words = str(num2words(value, lang=lang, to=to))
    except (ArithmeticError, NotImplementedError, TypeError, ValueError, IndexError, KeyError):
        # num2words is third-party and normalisation must never fail a synthesis request.
        return str(value)
    # num2words puts commas between groups ("one thousand, two hundred"); a TTS would pause there.
    return words.replace(",", "")


def spell_digits(digits: str, lang: str) -> str:
    """``"042"`` -> ``"zero four two"``."""
    return " ".join(_num2words(int(digit), lang, "cardinal") for digit in digits)


def spell_int(digits: str, lang: str, to: str = "cardinal") -> str:
    """Spell a non-negative integer given as digits; very long ones are read digit by digit."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return spell_digits(digits, lang)
    return _num2words(int(digits), lang, to)


def spell(numeral: Numeral, lang: str, decimal_word: str, digitwise_fraction: bool) -> str:
    """Spell a numeral with its fraction: ``3,05`` -> ``trois virgule zéro cinq``."""
    words = spell_int(numeral.integer, lang)
    if not numeral.fraction:
        return words
    if digitwise_fraction or len(numeral.fraction) > _MAX_DIGITS:
        fraction = spell_digits(numeral.fraction, lang)
    else:
        significant = numeral.fraction.lstrip("0")
        zeros = spell_digits(numeral.fraction[: len(numeral.fraction) - len(significant)], lang)
        rest = spell_int(significant, lang) if significant else ""
        fraction = " ".join(part for part in (zeros, rest) if part)
    return f"{words} {decimal_word} {fraction}"
