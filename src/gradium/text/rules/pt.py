"""Portuguese (Brazilian) normalisation: ``1.234,5``, day-first dates, ``1º``/``1ª``, ``R$``."""

from __future__ import annotations

from gradium.text.rules.base import Language, Money, Pass, Unit, indicator_ordinals
from gradium.text.rules.numbers import NumberStyle, spell_int

__all__ = ["PORTUGUESE"]

# pt_BR: the shipped Portuguese voices are Brazilian ("trilhão", not "trilião").
_CODE = "pt_BR"
_MONTHS = (
    "janeiro", "fevereiro", "março", "abril", "maio", "junho",
    "julho", "agosto", "setembro", "outubro", "novembro", "dezembro",
)
_FEMININE = {"um": "uma", "dois": "duas"}


def _inflect(words: str, feminine: bool) -> str:
    if not feminine:
        return words
    # "duas libras", "duzentas e uma horas": only um/dois and the hundreds agree in gender.
    spoken = [_FEMININE.get(word, word) for word in words.split()]
    return " ".join(word[:-2] + "as" if word.endswith("entos") else word for word in spoken)


def _read_date(day: int, month: int, year: str) -> str:
    first = "primeiro" if day == 1 else spell_int(str(day), _CODE)
    spoken = f"{first} de {_MONTHS[month - 1]}"
    return f"{spoken} de {spell_int(year, _CODE)}" if year else spoken


def _read_time(hour: int, minute: int, meridiem: str) -> str | None:
    if meridiem:
        return None
    hours = _inflect(spell_int(str(hour), _CODE), feminine=True)
    if minute:
        return f"{hours} e {spell_int(str(minute), _CODE)}"
    return f"{hours} {'hora' if hour == 1 else 'horas'}"


def _passes(language: Language, number: str) -> list[Pass]:
    del language, number
    return indicator_ordinals(_CODE)


PORTUGUESE = Language(
    num2words_code=_CODE,
    style=NumberStyle(decimal=",", grouping=".\u00a0\u202f"),
    decimal_word="vírgula",
    minus_word="menos",
    months=_MONTHS,
    read_date=_read_date,
    read_time=_read_time,
    money={
        "BRL": Money("real", "reais", "centavo", "centavos"),
        "EUR": Money("euro", "euros", "cêntimo", "cêntimos"),
        "USD": Money("dólar", "dólares", "centavo", "centavos"),
        "GBP": Money("libra", "libras", "pêni", "pence", feminine=True),
    },
    money_joiner="e",
    units={
        "km/h": Unit("quilômetro por hora", "quilômetros por hora"),
        "mph": Unit("milha por hora", "milhas por hora", feminine=True),
        "km": Unit("quilômetro", "quilômetros"),
        "kg": Unit("quilograma", "quilogramas"),
        "g": Unit("grama", "gramas"),
        "m": Unit("metro", "metros"),
        "cm": Unit("centímetro", "centímetros"),
        "mm": Unit("milímetro", "milímetros"),
        "%": Unit("por cento", "por cento"),
        "°C": Unit("grau Celsius", "graus Celsius"),
        "°F": Unit("grau Fahrenheit", "graus Fahrenheit"),
        "°": Unit("grau", "graus"),
        "h": Unit("hora", "horas", feminine=True),
        "min": Unit("minuto", "minutos"),
        "s": Unit("segundo", "segundos"),
    },
    abbreviations=(
        (r"Sr\.", "senhor"),
        (r"Sra\.", "senhora"),
        (r"Srta\.", "senhorita"),
        (r"Dr\.", "doutor"),
        (r"Dra\.", "doutora"),
        (r"etc\.", "et cetera"),
    ),
    inflect=_inflect,
    extra_passes=_passes,
)
