"""Spanish normalisation: ``1.234,5``, day-first dates, ``1º``/``1ª``, ``3,50 €``."""

from __future__ import annotations

from gradium.text.rules.base import Language, Money, Pass, Unit, indicator_ordinals
from gradium.text.rules.numbers import NumberStyle, spell_int

__all__ = ["SPANISH"]

_MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)


def _inflect_word(word: str, feminine: bool) -> str:
    if word in ("uno", "veintiuno"):
        # Before a noun "uno" shortens ("un euro", "veintiún euros") or agrees ("una libra").
        return word[:-1] + "a" if feminine else ("un" if word == "uno" else "veintiún")
    if feminine and word.endswith("ientos"):
        return word[: -len("os")] + "as"  # "doscientas libras"
    return word


def _inflect(words: str, feminine: bool) -> str:
    return " ".join(_inflect_word(word, feminine) for word in words.split())


def _read_date(day: int, month: int, year: str) -> str:
    spoken = f"{spell_int(str(day), 'es')} de {_MONTHS[month - 1]}"
    return f"{spoken} de {spell_int(year, 'es')}" if year else spoken


def _read_time(hour: int, minute: int, meridiem: str) -> str | None:
    if meridiem:
        return None
    hours = _inflect(spell_int(str(hour), "es"), feminine=True)
    return f"{hours} y {spell_int(str(minute), 'es')}" if minute else f"{hours} en punto"


def _passes(language: Language, number: str) -> list[Pass]:
    del language, number
    return indicator_ordinals("es")


SPANISH = Language(
    num2words_code="es",
    style=NumberStyle(decimal=",", grouping=".\u00a0\u202f"),
    decimal_word="coma",
    minus_word="menos",
    months=_MONTHS,
    read_date=_read_date,
    read_time=_read_time,
    money={
        "EUR": Money("euro", "euros", "céntimo", "céntimos"),
        "USD": Money("dólar", "dólares", "centavo", "centavos"),
        "GBP": Money("libra", "libras", "penique", "peniques", feminine=True),
    },
    money_joiner="con",
    units={
        "km/h": Unit("kilómetro por hora", "kilómetros por hora"),
        "mph": Unit("milla por hora", "millas por hora", feminine=True),
        "km": Unit("kilómetro", "kilómetros"),
        "kg": Unit("kilogramo", "kilogramos"),
        "g": Unit("gramo", "gramos"),
        "m": Unit("metro", "metros"),
        "cm": Unit("centímetro", "centímetros"),
        "mm": Unit("milímetro", "milímetros"),
        "%": Unit("por ciento", "por ciento"),
        "°C": Unit("grado Celsius", "grados Celsius"),
        "°F": Unit("grado Fahrenheit", "grados Fahrenheit"),
        "°": Unit("grado", "grados"),
        "h": Unit("hora", "horas", feminine=True),
        "min": Unit("minuto", "minutos"),
        "s": Unit("segundo", "segundos"),
    },
    abbreviations=(
        (r"Sr\.", "señor"),
        (r"Sra\.", "señora"),
        (r"Srta\.", "señorita"),
        (r"Dr\.", "doctor"),
        (r"Dra\.", "doctora"),
        (r"Ud\.", "usted"),
        (r"Uds\.", "ustedes"),
        (r"etc\.", "etcétera"),
    ),
    inflect=_inflect,
    extra_passes=_passes,
)
