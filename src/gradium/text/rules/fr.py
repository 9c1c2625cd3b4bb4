"""French normalisation: ``1 234,5``, day-first dates, ``14h30``, ``1er``/``1re``/``2e``."""

from __future__ import annotations

import re

from gradium.text.rules.base import Language, Money, Pass, Unit
from gradium.text.rules.numbers import NumberStyle, spell_int

__all__ = ["FRENCH"]

_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def _inflect(words: str, feminine: bool) -> str:
    # "vingt et un" -> "vingt et une heures"; other numbers do not agree in gender.
    if feminine and (words == "un" or words.endswith(" un")):
        return words + "e"
    return words


def _read_date(day: int, month: int, year: str) -> str:
    spoken = f"{'premier' if day == 1 else spell_int(str(day), 'fr')} {_MONTHS[month - 1]}"
    return f"{spoken} {spell_int(year, 'fr')}" if year else spoken


def _read_time(hour: int, minute: int, meridiem: str) -> str | None:
    if meridiem:
        return None
    hours = _inflect(spell_int(str(hour), "fr"), feminine=True)
    spoken = f"{hours} {'heure' if hour < 2 else 'heures'}"
    return f"{spoken} {spell_int(str(minute), 'fr')}" if minute else spoken


def _ordinal(match: re.Match[str]) -> str:
    words = spell_int(match.group(1), "fr", "ordinal")
    if match.group(2) in ("re", "ère", "ʳᵉ") and words.endswith("premier"):
        return words[: -len("premier")] + "première"
    return words


def _first_of_month(match: re.Match[str]) -> str:
    return f"premier {match.group(1)}"


def _passes(language: Language, number: str) -> list[Pass]:
    del language, number
    months = "|".join(_MONTHS)
    return [
        (re.compile(rf"(?<![\w.,])1(?:er)?\s+({months})\b", re.IGNORECASE), _first_of_month),
        (re.compile(r"(?<![\w.,])(\d+)(er|re|ère|ème|e|ᵉʳ|ʳᵉ|ᵉ)(?!\w)"), _ordinal),
    ]


FRENCH = Language(
    num2words_code="fr",
    style=NumberStyle(decimal=",", grouping=" \u00a0\u202f."),
    decimal_word="virgule",
    minus_word="moins",
    months=_MONTHS,
    read_date=_read_date,
    read_time=_read_time,
    money={
        "EUR": Money("euro", "euros", "centime", "centimes"),
        "USD": Money("dollar", "dollars", "cent", "cents"),
        "GBP": Money("livre", "livres", "penny", "pence", feminine=True),
    },
    money_joiner="et",
    units={
        "km/h": Unit("kilomètre par heure", "kilomètres par heure"),
        "mph": Unit("mile par heure", "miles par heure"),
        "km": Unit("kilomètre", "kilomètres"),
        "kg": Unit("kilogramme", "kilogrammes"),
        "g": Unit("gramme", "grammes"),
        "m": Unit("mètre", "mètres"),
        "cm": Unit("centimètre", "centimètres"),
        "mm": Unit("millimètre", "millimètres"),
        "%": Unit("pour cent", "pour cent"),
        "°C": Unit("degré Celsius", "degrés Celsius"),
        "°F": Unit("degré Fahrenheit", "degrés Fahrenheit"),
        "°": Unit("degré", "degrés"),
        "h": Unit("heure", "heures", feminine=True),
        "min": Unit("minute", "minutes", feminine=True),
        "s": Unit("seconde", "secondes", feminine=True),
    },
    abbreviations=(
        (r"M\.(?=\s+[A-ZÀ-Ý])", "Monsieur"),
        (r"MM\.", "Messieurs"),
        (r"Mme", "Madame"),
        (r"Mlle", "Mademoiselle"),
        (r"Dr\.?", "Docteur"),
        (r"Pr\.?", "Professeur"),
        (r"etc\.", "et cetera"),
    ),
    plural_below_two=True,
    inflect=_inflect,
    extra_passes=_passes,
)
