"""Per-language text normalisers used by :mod:`gradium.text.normalize`.

One module per language holds that language's data (month names, currency and unit names,
abbreviations, how dates and clock times are read); :mod:`.base` holds the passes they share.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from gradium.text.rules.base import Language, Normalizer
from gradium.text.rules.de import GERMAN
from gradium.text.rules.en import ENGLISH
from gradium.text.rules.es import SPANISH
from gradium.text.rules.fr import FRENCH
from gradium.text.rules.pt import PORTUGUESE

__all__ = ["LANGUAGES", "normalizer_for"]

LANGUAGES: dict[str, Language] = {"en": ENGLISH, "fr": FRENCH, "de": GERMAN, "es": SPANISH, "pt": PORTUGUESE}


@cache
def normalizer_for(code: str) -> Callable[[str], str]:
    """The normaliser for a language code in :data:`LANGUAGES` (compiled once per process)."""
    return Normalizer(LANGUAGES[code])
