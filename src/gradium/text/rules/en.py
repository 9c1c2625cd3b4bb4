"""English normalisation: US conventions (month-first dates, ``1,234.5``, 12-hour clock)."""

from __future__ import annotations

import re

from gradium.text.rules.base import Language, Money, Pass, Unit
from gradium.text.rules.numbers import NumberStyle, spell_int

__all__ = ["ENGLISH"]

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


def _year(digits: str) -> str:
    # "2024" is read as a year ("twenty twenty-four"), "24" as "twenty-four".
    return spell_int(digits, "en", "year" if len(digits) == 4 else "cardinal")


def _read_date(day: int, month: int, year: str) -> str:
    spoken = f"{_MONTHS[month - 1]} {spell_int(str(day), 'en', 'ordinal')}"
    return f"{spoken}, {_year(year)}" if year else spoken


def _read_time(hour: int, minute: int, meridiem: str) -> str:
    words = spell_int(str(hour), "en")
    if minute == 0:
        words += "" if meridiem else (" o'clock" if hour <= 12 else " hundred")
    elif minute < 10:
        words += f" oh {spell_int(str(minute), 'en')}"
    else:
        words += f" {spell_int(str(minute), 'en')}"
    return f"{words} {meridiem[0]}.m." if meridiem else words


def _ordinal(match: re.Match[str]) -> str:
    return spell_int(match.group(1), "en", "ordinal")


def _month_date(match: re.Match[str]) -> str:
    return _read_date(int(match.group(2)), _MONTHS.index(match.group(1)) + 1, match.group(3) or "")


def _day_month(match: re.Match[str]) -> str:
    day = spell_int(match.group(1), "en", "ordinal")
    year = f" {_year(match.group(3))}" if match.group(3) else ""
    return f"the {day} of {match.group(2)}{year}"


def _decade(match: re.Match[str]) -> str:
    words = _year(match.group(1))
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _passes(language: Language, number: str) -> list[Pass]:
    del language, number
    months = "|".join(_MONTHS)
    return [
        (re.compile(rf"\b({months})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?"), _month_date),
        (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({months})\b(?:,?\s+(\d{{4}})\b)?"), _day_month),
        (re.compile(r"(?<![\w.,])(\d+)(?:st|nd|rd|th)\b"), _ordinal),
        (re.compile(r"(?<![\w.,'])(\d0|\d{2}00|\d{3}0)s\b"), _decade),
    ]


_UNITS = {
    "km/h": Unit("kilometer per hour", "kilometers per hour"),
    "mph": Unit("mile per hour", "miles per hour"),
    "km": Unit("kilometer", "kilometers"),
    "kg": Unit("kilogram", "kilograms"),
    "g": Unit("gram", "grams"),
    "m": Unit("meter", "meters"),
    "cm": Unit("centimeter", "centimeters"),
    "mm": Unit("millimeter", "millimeters"),
    "%": Unit("percent", "percent"),
    "°C": Unit("degree Celsius", "degrees Celsius"),
    "°F": Unit("degree Fahrenheit", "degrees Fahrenheit"),
    "°": Unit("degree", "degrees"),
    "h": Unit("hour", "hours"),
    "min": Unit("minute", "minutes"),
    "s": Unit("second", "seconds", needs_space=True),
}

ENGLISH = Language(
    num2words_code="en",
    style=NumberStyle(decimal=".", grouping=","),
    decimal_word="point",
    minus_word="minus",
    months=_MONTHS,
    read_date=_read_date,
    read_time=_read_time,
    money={
        "USD": Money("dollar", "dollars", "cent", "cents"),
        "EUR": Money("euro", "euros", "cent", "cents"),
        "GBP": Money("pound", "pounds", "penny", "pence"),
    },
    money_joiner="and",
    units=_UNITS,
    abbreviations=(
        (r"Dr\.", "Doctor"),
        (r"Mr\.", "Mister"),
        (r"Mrs\.", "Missus"),
        (r"Ms\.", "Miz"),
        (r"St\.(?=\s+[A-Z])", "Saint"),
        (r"St\.", "Street"),
        (r"vs\.", "versus"),
        (r"etc\.", "et cetera"),
        (r"e\.g\.", "for example"),
        (r"i\.e\.", "that is"),
    ),
    month_first=True,
    digitwise_fraction=True,
    extra_passes=_passes,
)
