"""The language-independent normalisation passes, driven by one :class:`Language` table each.

A language module (``en.py``, ``fr.py``, ...) fills in a :class:`Language`; :class:`Normalizer`
compiles its regexes once and runs the passes in a fixed order: abbreviations, dates, times,
language-specific passes (ordinals, ...), money, units, then whatever numbers are left.
Each pass is one ``re.sub`` over the text, which keeps a sentence well under a millisecond.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gradium.text.rules.numbers import NumberStyle, Numeral, spell, spell_int

__all__ = ["Language", "Money", "Normalizer", "Pass", "Unit"]

Pass = tuple["re.Pattern[str]", Callable[["re.Match[str]"], str]]


@dataclass(frozen=True)
class Money:
    """Names of a currency and its hundredth in one language."""

    singular: str
    plural: str
    cent_singular: str
    cent_plural: str
    feminine: bool = False


@dataclass(frozen=True)
class Unit:
    """Spoken name of a unit written after a number."""

    singular: str
    plural: str
    feminine: bool = False
    # "1990s" is a decade in English, so "s" only means seconds there with a space before it.
    needs_space: bool = False


def _no_inflection(words: str, feminine: bool) -> str:
    del feminine
    return words


@dataclass(frozen=True)
class Language:
    """Everything a :class:`Normalizer` needs to know about one language."""

    num2words_code: str
    style: NumberStyle
    decimal_word: str
    minus_word: str
    months: Sequence[str]
    # Read a date: day, month (1-12) and the year's digits, or "" when there is none.
    read_date: Callable[[int, int, str], str]
    # Read a clock time; the suffix is "am"/"pm" or "" when absent. None: leave the text alone.
    read_time: Callable[[int, int, str], str | None]
    money: dict[str, Money]
    money_joiner: str
    units: dict[str, Unit]
    abbreviations: Sequence[tuple[str, str]]
    month_first: bool = False
    # A word that may follow a clock time and is already part of its reading ("14:30 Uhr").
    clock_word: str = ""
    digitwise_fraction: bool = False
    plural_below_two: bool = False
    # Adjust a spelled integer placed before a noun ("eins" -> "ein", "uno" -> "una").
    inflect: Callable[[str, bool], str] = _no_inflection
    # Build language-specific passes (ordinals, ...) from the compiled number pattern.
    extra_passes: Callable[[Language, str], list[Pass]] = field(default=lambda language, number: [])

    def say(self, numeral: Numeral) -> str:
        return spell(numeral, self.num2words_code, self.decimal_word, self.digitwise_fraction)

    def say_int(self, value: int, to: str = "cardinal") -> str:
        return spell_int(str(value), self.num2words_code, to)

    def count_noun(self, numeral: Numeral, singular: str, plural: str, feminine: bool) -> str:
        """``2 km`` -> ``two kilometers``: number, with gender agreement, then the noun."""
        one = numeral.below_two if self.plural_below_two else numeral.is_one
        words = self.say(numeral)
        if not numeral.fraction:
            words = self.inflect(words, feminine)
        return f"{words} {singular if one else plural}"


# Currency symbols and ISO codes -> the key of Language.money.
_SYMBOLS = {
    "$": "USD", "US$": "USD", "USD": "USD", "€": "EUR", "EUR": "EUR", "£": "GBP", "GBP": "GBP",
    "R$": "BRL", "BRL": "BRL",
}


class Normalizer:
    """Callable text normaliser for one language."""

    def __init__(self, language: Language) -> None:
        self.language = language
        number = language.style.pattern()
        self._passes: list[Pass] = [
            *self._abbreviation_passes(),
            *self._date_passes(),
            self._time_pass(),
            # A minus sign becomes a word up front, so units and money need not care about it.
            (re.compile(r"(?<![\w.,])[-−](?=\d)"), lambda _: f"{language.minus_word} "),
            *language.extra_passes(language, number),
            self._money_pass(language.style.pattern(followed_by_word=True)),
            self._unit_pass(language.style.pattern(followed_by_word=True)),
            (re.compile(number), self._number),
        ]

    def __call__(self, text: str) -> str:
        for pattern, replace in self._passes:
            text = pattern.sub(replace, text)
        return text

    def _abbreviation_passes(self) -> list[Pass]:
        passes: list[Pass] = []
        for pattern, expansion in self.language.abbreviations:
            passes.append((re.compile(rf"(?<!\w){pattern}(?=\s|$)"), _expand_to(expansion)))
        return passes

    def _date_passes(self) -> list[Pass]:
        iso = re.compile(r"(?<![\w-])(\d{4})-(\d{2})-(\d{2})(?![\w-])")
        slash = re.compile(r"(?<![\w/.])(\d{1,2})([/.])(\d{1,2})\2(\d{4}|\d{2})(?![\w/]|\.\d)")
        return [(iso, self._iso_date), (slash, self._slash_date)]

    def _iso_date(self, match: re.Match[str]) -> str:
        year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
        return self._date_or_keep(match, day, month, year)

    def _slash_date(self, match: re.Match[str]) -> str:
        first, second, year = int(match.group(1)), int(match.group(3)), match.group(4)
        if match.group(2) == "." and self.language.month_first:
            return match.group(0)  # 03.15.2024 is not an English way to write a date
        day, month = (second, first) if self.language.month_first else (first, second)
        if not 1 <= month <= 12:
            day, month = month, day  # "15/03/2024" in English text: the writer is day-first
        return self._date_or_keep(match, day, month, year)

    def _date_or_keep(self, match: re.Match[str], day: int, month: int, year: str) -> str:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return match.group(0)
        return self.language.read_date(day, month, year)

    def _time_pass(self) -> Pass:
        suffix = r"(?:\s*([AaPp])\.?\s?[Mm]\.?(?!\w))?"
        if self.language.clock_word:
            suffix += rf"(?:\s+{re.escape(self.language.clock_word)}\b)?"
        pattern = re.compile(rf"(?<![\w:.,])(\d{{1,2}})(?::|h(?=\d\d))(\d{{2}})(?![\w:]|[.,]\d){suffix}")
        return pattern, self._time

    def _time(self, match: re.Match[str]) -> str:
        hour, minute = int(match.group(1)), int(match.group(2))
        meridiem = (match.group(3) or "").lower()
        if meridiem and not 1 <= hour <= 12:
            return match.group(0)
        if hour > 23 or minute > 59:
            return match.group(0)
        spoken = self.language.read_time(hour, minute, meridiem + "m" if meridiem else "")
        return match.group(0) if spoken is None else spoken

    def _money_pass(self, number: str) -> Pass:
        symbols = "|".join(re.escape(symbol) for symbol in sorted(_SYMBOLS, key=len, reverse=True))
        before = rf"(?<!\w)({symbols})\s?({number})"
        after = rf"({number})\s?({symbols})(?!\w)"
        return re.compile(rf"{before}|{after}"), self._money

    def _money(self, match: re.Match[str]) -> str:
        symbol = match.group(1) or match.group(4)
        token = match.group(2) or match.group(3)
        money = self.language.money.get(_SYMBOLS[symbol])
        if money is None:
            return match.group(0)
        numeral = self.language.style.split(token)
        if len(numeral.fraction) > 2:
            return self.language.count_noun(numeral, money.singular, money.plural, money.feminine)
        whole = Numeral(numeral.integer)
        cents = Numeral(str(int(numeral.fraction.ljust(2, "0")))) if numeral.fraction else Numeral("0")
        parts = []
        if int(whole.integer) or int(cents.integer) == 0:
            parts.append(self.language.count_noun(whole, money.singular, money.plural, money.feminine))
        if int(cents.integer):
            parts.append(self.language.count_noun(cents, money.cent_singular, money.cent_plural, False))
        return f" {self.language.money_joiner} ".join(parts)

    def _unit_pass(self, number: str) -> Pass:
        names = sorted(self.language.units, key=len, reverse=True)
        units = "|".join(re.escape(name) for name in names)
        return re.compile(rf"({number})(\s?)({units})(?![\w/°])"), self._unit

    def _unit(self, match: re.Match[str]) -> str:
        unit = self.language.units[match.group(3)]
        if unit.needs_space and not match.group(2):
            return match.group(0)
        numeral = self.language.style.split(match.group(1))
        return self.language.count_noun(numeral, unit.singular, unit.plural, unit.feminine)

    def _number(self, match: re.Match[str]) -> str:
        return self.language.say(self.language.style.split(match.group(0)))


def _expand_to(expansion: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        # The abbreviation's dot may also have ended the text: keep a sentence end for prosody.
        at_end = match.end() == len(match.string) and match.group(0).endswith(".")
        return expansion + "." if at_end else expansion

    return replace


def indicator_ordinals(num2words_code: str) -> list[Pass]:
    """Spanish/Portuguese ``1º``/``1.º`` (masculine) and ``1ª`` (feminine) ordinals."""

    def masculine(match: re.Match[str]) -> str:
        return spell_int(match.group(1), num2words_code, "ordinal")

    def feminine(match: re.Match[str]) -> str:
        words = spell_int(match.group(1), num2words_code, "ordinal").split()
        return " ".join(word[:-1] + "a" if word.endswith("o") else word for word in words)

    return [
        (re.compile(r"(?<![\w.,])(\d+)\.?º"), masculine),
        (re.compile(r"(?<![\w.,])(\d+)\.?ª"), feminine),
    ]
