"""Control tags embedded in TTS text: ``<flush>`` and ``<break time="1.5s" />``.

The public Gradium docs let a client put two tags inside the text it streams:

* ``<flush>`` forces audio out for all text received so far;
* ``<break time="1.5s" />`` inserts a pause of 0.1 to 2.0 seconds. The time may also be
  written in milliseconds (``"500ms"``) or as a bare number of seconds (``"1.5"``).

Any other tag-shaped markup (``<b>``, ``</b>``, ``<speak>``, ``<emphasis level="strong">``,
``<br/>``) is stripped silently: it is neither spoken nor charged. A ``<`` that does not start
a tag (``a < b``, ``x<y and z>w``) is ordinary text.

Text arrives in pieces, so a tag can be cut between two messages (``<break time=`` then
``"1s" />``). :class:`TagScanner` holds back an unterminated ``<...`` until its ``>`` arrives,
but only up to :data:`MAX_TAG_LENGTH` characters, after which the ``<`` is taken as plain text;
except that a ``<break`` or ``<flush`` that never becomes a valid tag (unclosed at the end of the
text, or malformed) is a :class:`TagError`, never words to speak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BREAK_MAX_SECONDS",
    "BREAK_MIN_SECONDS",
    "MAX_TAG_LENGTH",
    "Break",
    "Flush",
    "StrippedTag",
    "Tag",
    "TagError",
    "TagScanner",
    "parse_break_time",
    "parse_tag",
    "scan_tags",
]

BREAK_MIN_SECONDS = 0.1
BREAK_MAX_SECONDS = 2.0
# Longest '<...' held back while waiting for its '>'; real tags are far shorter, and the cap keeps
# a stray '<' from swallowing a whole stream.
MAX_TAG_LENGTH = 64
# Float noise such as 0.1 arriving as "100ms" -> 0.1 must not fall out of range.
_RANGE_EPSILON = 1e-9


class TagError(ValueError):
    """A recognised tag is malformed or out of range; the message is meant for the API user."""


@dataclass(frozen=True)
class Flush:
    """``<flush>``: synthesise everything received so far now."""


@dataclass(frozen=True)
class Break:
    """``<break time=... />``: a pause of ``seconds`` seconds."""

    seconds: float


@dataclass(frozen=True)
class StrippedTag:
    """An unknown tag such as ``<b>``: removed from the text and otherwise ignored."""

    raw: str


Tag = Flush | Break | StrippedTag

_VALUE = r"""(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>/=]+)"""
_ATTRIBUTE = rf"\s+[A-Za-z_][\w:.-]*\s*=\s*{_VALUE}"
# A tag: name first, then only name=value attributes. Requiring values keeps prose such as
# "if x<y and z>w" from being mistaken for a tag and silently deleted.
_TAG = re.compile(rf"<(/?)([A-Za-z][\w:.-]*)((?:{_ATTRIBUTE})*)\s*/?\s*>")
_ATTRIBUTE_PARTS = re.compile(rf"([A-Za-z_][\w:.-]*)\s*=\s*({_VALUE})")
# What the start of a tag may look like while its '>' has not arrived yet.
_TAG_PREFIX = re.compile(r"</?(?:[A-Za-z][^<>]*)?")
# The start of a tag this module gives meaning to: once seen, it must become a valid tag, never
# be read aloud (a cut-off "<break time=..." would otherwise be spoken and billed as words).
# Not followed by a name character: "<breakfast" is another word, "<break<" an unfinished tag.
_CONTROL_TAG_START = re.compile(r"</?(break|flush)(?![\w:.-])", re.IGNORECASE)
_BREAK_TIME = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|sec|secs|seconds?)?", re.IGNORECASE)


def parse_break_time(value: str) -> float:
    """Return the pause length in seconds for a ``time`` attribute value such as ``"1.5s"``.

    Raises :class:`TagError` when the value is malformed or outside 0.1 to 2.0 seconds.
    """
    match = _BREAK_TIME.fullmatch(value.strip())
    if match is None:
        raise TagError(f'break time must look like "1.5s" or "500ms", got "{value}"')
    seconds = float(match.group(1))
    if (match.group(2) or "s").lower() == "ms":
        seconds /= 1000.0
    if not BREAK_MIN_SECONDS - _RANGE_EPSILON <= seconds <= BREAK_MAX_SECONDS + _RANGE_EPSILON:
        raise TagError(
            f"break time must be between {BREAK_MIN_SECONDS} and {BREAK_MAX_SECONDS} seconds, got \"{value}\""
        )
    return seconds


def _attributes(raw: str) -> dict[str, str]:
    return {name.lower(): value.strip("\"'") for name, value in _ATTRIBUTE_PARTS.findall(raw)}


def _break_from(attributes: dict[str, str]) -> Break:
    if "time" not in attributes:
        raise TagError('break tag needs a time attribute, for example <break time="1.5s" />')
    return Break(parse_break_time(attributes["time"]))


def parse_tag(raw: str) -> Tag | None:
    """Interpret one complete ``<...>`` string; ``None`` when it is not tag-shaped (plain text)."""
    match = _TAG.fullmatch(raw)
    if match is None:
        return None
    closing, name = match.group(1), match.group(2).lower()
    if not closing and name == "flush":
        return Flush()
    if not closing and name == "break":
        return _break_from(_attributes(match.group(3)))
    return StrippedTag(raw)


def _could_become_tag(rest: str) -> bool:
    """Whether ``rest`` (starting at '<', no '>' yet) may still grow into a tag."""
    return len(rest) < MAX_TAG_LENGTH and _TAG_PREFIX.fullmatch(rest) is not None


def _refuse_broken_control_tag(rest: str) -> None:
    """``rest`` starts with a '<' that is not a valid tag and cannot become one any more."""
    control = _CONTROL_TAG_START.match(rest)
    if control is None:
        return  # "a < b": ordinary text
    shown = rest[: rest.find(">") + 1] if ">" in rest else rest[:MAX_TAG_LENGTH]
    raise TagError(
        f"malformed <{control.group(1).lower()}> tag: {shown!r} is not closed or not valid; "
        'write <flush> or <break time="1.5s" />'
    )


def scan_tags(text: str, final: bool) -> tuple[list[str | Tag], str]:
    """Split ``text`` into plain-text pieces and tags.

    Returns the pieces and the tail held back because it may be the start of a tag cut by a
    message boundary (always ``""`` when ``final``).
    """
    pieces: list[str | Tag] = []
    plain_start = 0
    position = text.find("<")
    while position != -1:
        match = _TAG.match(text, position)
        tag = parse_tag(match.group(0)) if match else None
        if match is not None and tag is not None:
            pieces.append(text[plain_start:position])
            pieces.append(tag)
            plain_start = match.end()
            position = text.find("<", plain_start)
            continue
        rest = text[position:]
        if not final and ">" not in rest and _could_become_tag(rest):
            pieces.append(text[plain_start:position])
            return [piece for piece in pieces if piece != ""], rest
        _refuse_broken_control_tag(rest)
        position = text.find("<", position + 1)
    pieces.append(text[plain_start:])
    return [piece for piece in pieces if piece != ""], ""


class TagScanner:
    """Incremental :func:`scan_tags`: feed text pieces, get text and tags as soon as they are known."""

    def __init__(self) -> None:
        self._held = ""

    @property
    def held_back(self) -> str:
        """The unterminated ``<...`` currently waiting for more text."""
        return self._held

    def feed(self, text: str) -> list[str | Tag]:
        """Scan ``text`` after whatever was held back; may raise :class:`TagError`."""
        buffer = self._held + text
        # Clear first so that a TagError does not leave the bad tag held back to fail again.
        self._held = ""
        pieces, self._held = scan_tags(buffer, final=False)
        return pieces

    def finish(self) -> list[str | Tag]:
        """End of input: anything held back is resolved: plain text if it never closed, a TagError
        if it was a <break> or <flush> tag (see _refuse_broken_control_tag)."""
        buffer, self._held = self._held, ""
        pieces, _ = scan_tags(buffer, final=True)
        return pieces
