"""German normalisation: ``1.234,5``, ``15.03.2024``, ``am 3. Mai``, ``14:30 Uhr``."""

from __future__ import annotations

import re

from gradium.text.rules.base import Language, Money, Pass, Unit
from gradium.text.rules.numbers import NumberStyle, spell_int

__all__ = ["GERMAN"]

_MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
)
# After these words an ordinal takes the dative/genitive "-n": "am dritten Mai".
_DATIVE = ("am", "im", "vom", "zum", "beim", "dem", "den", "des")
_ARTICLES = (*_DATIVE, "der", "die", "das")
# Nouns after which "3." is clearly an ordinal even without an article.
_ORDINAL_NOUNS = ("Jahrhundert", "Jahrhunderts", "Stock", "Platz", "Mal", "Klasse", "Auflage")


def _inflect(words: str, feminine: bool) -> str:
    # "eins" is only the counting form: "ein Euro", "eine Stunde".
    if words == "eins":
        return "eine" if feminine else "ein"
    return words


def _ordinal(digits: str, dative: bool = False) -> str:
    words = spell_int(digits, "de", "ordinal")
    return words + "n" if dative else words


def _year(digits: str) -> str:
    return spell_int(digits, "de", "year" if len(digits) == 4 else "cardinal")


def _read_date(day: int, month: int, year: str) -> str:
    spoken = f"{_ordinal(str(day))} {_MONTHS[month - 1]}"
    return f"{spoken} {_year(year)}" if year else spoken


def _read_time(hour: int, minute: int, meridiem: str) -> str | None:
    if meridiem:
        return None
    spoken = f"{_inflect(spell_int(str(hour), 'de'), False)} Uhr"
    return f"{spoken} {spell_int(str(minute), 'de')}" if minute else spoken


def _after_article(match: re.Match[str]) -> str:
    article = match.group(1)
    return f"{article} {_ordinal(match.group(2), article.lower() in _DATIVE)}"


def _before_noun(match: re.Match[str]) -> str:
    return _ordinal(match.group(1))


def _dative_date(match: re.Match[str]) -> str:
    # Dates spelled by the generic pass read "dritte Mai"; "am" asks for "dritten".
    return f"{match.group(1)} {match.group(2)}n"


def _passes(language: Language, number: str) -> list[Pass]:
    del language, number
    months = "|".join(_MONTHS)
    articles = "|".join(_ARTICLES)
    dative = "|".join(_DATIVE)
    nouns = "|".join((*_MONTHS, *_ORDINAL_NOUNS))
    return [
        (re.compile(rf"\b({dative})\s+(\w+te)(?=\s+(?:{months})\b)", re.IGNORECASE), _dative_date),
        (re.compile(rf"\b({articles})\s+(\d{{1,4}})\.(?=\s+\w)", re.IGNORECASE), _after_article),
        (re.compile(rf"(?<![\w.,])(\d{{1,4}})\.(?=\s+(?:{nouns})\b)"), _before_noun),
    ]


GERMAN = Language(
    num2words_code="de",
    style=NumberStyle(decimal=",", grouping=".\u00a0\u202f"),
    decimal_word="Komma",
    minus_word="minus",
    months=_MONTHS,
    read_date=_read_date,
    read_time=_read_time,
    money={
        "EUR": Money("Euro", "Euro", "Cent", "Cent"),
        "USD": Money("Dollar", "Dollar", "Cent", "Cent"),
        "GBP": Money("Pfund", "Pfund", "Penny", "Pence"),
    },
    money_joiner="und",
    units={
        "km/h": Unit("Kilometer pro Stunde", "Kilometer pro Stunde"),
        "mph": Unit("Meile pro Stunde", "Meilen pro Stunde", feminine=True),
        "km": Unit("Kilometer", "Kilometer"),
        "kg": Unit("Kilogramm", "Kilogramm"),
        "g": Unit("Gramm", "Gramm"),
        "m": Unit("Meter", "Meter"),
        "cm": Unit("Zentimeter", "Zentimeter"),
        "mm": Unit("Millimeter", "Millimeter"),
        "%": Unit("Prozent", "Prozent"),
        "°C": Unit("Grad Celsius", "Grad Celsius"),
        "°F": Unit("Grad Fahrenheit", "Grad Fahrenheit"),
        "°": Unit("Grad", "Grad"),
        "h": Unit("Stunde", "Stunden", feminine=True),
        "min": Unit("Minute", "Minuten", feminine=True),
        "s": Unit("Sekunde", "Sekunden", feminine=True),
    },
    abbreviations=(
        (r"z\.\s?B\.", "zum Beispiel"),
        (r"d\.\s?h\.", "das heißt"),
        (r"Dr\.", "Doktor"),
        (r"Hr\.", "Herr"),
        (r"Fr\.", "Frau"),
        (r"usw\.", "und so weiter"),
        (r"bzw\.", "beziehungsweise"),
        (r"ca\.", "circa"),
        (r"Nr\.", "Nummer"),
    ),
    clock_word="Uhr",
    digitwise_fraction=True,
    inflect=_inflect,
    extra_passes=_passes,
)
