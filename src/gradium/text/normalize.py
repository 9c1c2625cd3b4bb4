r"""Rewrite rules: the ``rewrite_rules`` string of the TTS ``json_config``.

## Rewrite rules

`rewrite_rules` is a string holding a list of rules, separated by newlines or `;`.
Blank items and lines starting with `#` are ignored. Each rule is one of:

* `en`, `fr`, `de`, `es` or `pt`: switch on every normalisation rule of that language
  (numbers, ordinals, dates, times, currencies, units, percentages, common abbreviations).
* `FROM => TO`: replace the literal text `FROM` by `TO`, whole words only, case-sensitive.
* `/REGEX/ => TO`: replace matches of a Python regular expression; `TO` may use `\1` or
  `\g<name>`. Flags may follow the closing slash: `/colou?r/i => color` ignores case.

Custom rules (`=>`) run first, in the order written, then the language normalisers. `TO` may be
empty, which deletes the match; spaces around `=>` are ignored. Write `\;` for a literal `;`
inside a rule. An invalid rule (unknown language code, empty `FROM`, bad regex or bad `\1`
reference) is rejected with an error naming the rule.

Example: `en; Gradium => Gradiumm; /\bAPI\b/ => A P I`.

What the language normalisers read, for instance with `en`: `$42.50` -> "forty-two dollars and
fifty cents", `2024-03-15` -> "March fifteenth, twenty twenty-four", `3:45 pm` -> "three
forty-five p.m.", `21st` -> "twenty-first", `5 km` -> "five kilometers", `Dr.` -> "Doctor".
Numbers follow each language's convention: `1,234.5` in English, `1 234,5` or `1.234,5` in
French, German, Spanish and Portuguese; slash dates are month-first in English and day-first
otherwise. Portuguese follows Brazilian usage.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from gradium.text.rules import LANGUAGES, normalizer_for

__all__ = ["RewriteRules", "RuleError"]

_SEPARATOR = re.compile(r"(?<!\\);|\n")
_REGEX_RULE = re.compile(r"/(.*)/([imsx]*)\s*=>(.*)", re.DOTALL)
_LANGUAGE_ALIASES = {"pt-br": "pt", "pt_br": "pt", "pt-pt": "pt", "en-us": "en", "en-gb": "en"}
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class RuleError(ValueError):
    """The rewrite-rules spec is invalid; the message names the offending rule."""


@dataclass(frozen=True)
class _Rewrite:
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]

    def __call__(self, text: str) -> str:
        return self.pattern.sub(self.replacement, text)


@dataclass(frozen=True)
class RewriteRules:
    """A parsed ``rewrite_rules`` spec; :meth:`apply` never raises on any text."""

    custom: tuple[_Rewrite, ...] = ()
    languages: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str | None) -> RewriteRules:
        """Parse a spec (see the module docstring); ``None`` or blank means no rules."""
        custom: list[_Rewrite] = []
        languages: list[str] = []
        for rule in _split(spec or ""):
            language = _LANGUAGE_ALIASES.get(rule.lower(), rule.lower())
            if language in LANGUAGES:
                if language not in languages:
                    languages.append(language)
            else:
                custom.append(_parse_rewrite(rule))
        return cls(tuple(custom), tuple(languages))

    @property
    def is_empty(self) -> bool:
        return not self.custom and not self.languages

    def apply(self, text: str) -> str:
        """Rewrite ``text``: custom rules in order, then each enabled language's normaliser."""
        for rewrite in self.custom:
            text = rewrite(text)
        for language in self.languages:
            text = normalizer_for(language)(text)
        return text


def _split(spec: str) -> list[str]:
    rules = (item.replace("\\;", ";").strip() for item in _SEPARATOR.split(spec))
    return [rule for rule in rules if rule and not rule.startswith("#")]


def _parse_rewrite(rule: str) -> _Rewrite:
    if rule.startswith("/"):
        return _parse_regex(rule)
    source, arrow, target = rule.partition("=>")
    source = source.strip()
    if not arrow:
        codes = ", ".join(LANGUAGES)
        expected = f'a language code ({codes}), "FROM => TO" or "/REGEX/ => TO"'
        raise RuleError(f'invalid rewrite rule "{rule}": expected {expected}')
    if not source:
        raise RuleError(f'invalid rewrite rule "{rule}": the text before "=>" is empty')
    # Whole words: a word character may not touch either end of the match.
    pattern = re.compile(rf"(?<!\w){re.escape(source)}(?!\w)")
    replacement = target.strip()
    return _Rewrite(pattern, lambda _match: replacement)


def _parse_regex(rule: str) -> _Rewrite:
    match = _REGEX_RULE.fullmatch(rule)
    if match is None:
        raise RuleError(f'invalid rewrite rule "{rule}": expected "/REGEX/ => TO"')
    body, flag_letters, target = match.group(1), match.group(2), match.group(3).strip()
    flags = 0
    for letter in flag_letters:
        flags |= _FLAGS[letter]
    try:
        pattern = re.compile(body, flags)
    except re.error as error:
        raise RuleError(f'invalid rewrite rule "{rule}": bad regular expression: {error}') from None
    if not body:
        raise RuleError(f'invalid rewrite rule "{rule}": the regular expression is empty')
    _check_template(rule, pattern, target)
    return _Rewrite(pattern, target)


def _check_template(rule: str, pattern: re.Pattern[str], template: str) -> None:
    """Fail now, not during synthesis, on a replacement such as ``\\3`` with one group."""
    names = {index: name for name, index in pattern.groupindex.items()}
    groups = "".join(f"(?P<{names[i]}>)" if i in names else "()" for i in range(1, pattern.groups + 1))
    probe = re.compile(groups).match("")
    assert probe is not None  # empty groups always match the empty string
    try:
        probe.expand(template)
    except (re.error, IndexError) as error:
        raise RuleError(f'invalid rewrite rule "{rule}": bad replacement: {error}') from None
