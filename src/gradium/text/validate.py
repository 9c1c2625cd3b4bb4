"""Text the server accepts from a client: valid Unicode without invisible control characters.

JSON lets a client send ``"\\ud800"``, a lone UTF-16 surrogate that Python decodes into a ``str``
that cannot be encoded as UTF-8. Left alone it fails deep inside an engine or SQLite (a 500 after
credits were taken), so every client string is checked here, at the edge, before any work.
Control characters other than whitespace (tab, newlines, form feed) have no spoken form and can
truncate a C engine's string (NUL), so they are refused the same way.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["TextError", "check_json_strings", "check_text"]

# In a Python str a well-formed surrogate pair from JSON is already one astral code point, so any
# code point left in the surrogate block is a lone half.
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls except the whitespace ones (\t \n \v \f \r), and DEL.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


class TextError(ValueError):
    """Client text that is not valid Unicode or holds a forbidden control character."""


def check_text(text: str, what: str = "text") -> None:
    """Raise :class:`TextError` naming ``what`` and the position of the first bad character."""
    if match := _SURROGATE.search(text):
        raise TextError(
            f"{what} is not valid Unicode: a lone surrogate U+{ord(match.group()):04X} at "
            f"character {match.start()} (send UTF-8 text; surrogates must come in pairs)"
        )
    if match := _CONTROL.search(text):
        raise TextError(
            f"{what} contains the control character U+{ord(match.group()):04X} at character "
            f"{match.start()}; only tab, newlines and form feed are accepted"
        )


def check_json_strings(value: Any, what: str = "request") -> None:
    """Check every key and string in a decoded JSON document for lone surrogates.

    Control characters are left to the fields that are spoken (``check_text``): elsewhere they
    are harmless, but a lone surrogate breaks any later encoding (database, logs, responses).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if match := _SURROGATE.search(item):
                raise TextError(
                    f"{what} holds invalid Unicode: a lone surrogate U+{ord(match.group()):04X} "
                    "(surrogates must come in pairs)"
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
