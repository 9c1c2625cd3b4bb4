r"""Rewrite rules: the ``rewrite_rules`` string of the TTS ``json_config``.

## Rewrite rules

`rewrite_rules` is a string holding a list of rules, separated by newlines or `;`.
Blank items and lines starting with `#` are ignored. Each rule is one of:

* `en`, `fr`, `de`, `es` or `pt`: switch on every normalisation rule of that language
  (numbers, ordinals, dates, times, currencies, units, percentages, common abbreviations).
* `FROM => TO`: replace the literal text `FROM` by `TO`, whole words only, case-sensitive.
* `/REGEX/ => TO`: replace matches of a regular expression in RE2 syntax (Python's syntax without
  look-arounds and back-references; `\w`, `\d` and `\b` are ASCII, `\pL` is any letter); `TO`
  may use `\1` or `\g<name>`. Flags may follow the closing slash: `i` (ignore case), `m`
  (`^`/`$` at lines), `s` (`.` matches a newline): `/colou?r/i => color` ignores case.
  RE2 runs in time linear in the text, so no pattern can stall synthesis (``(a+)+$`` on
  ``"a" * 24 + "!"`` took seconds with Python's backtracking engine, doubling per character).
  At most :data:`MAX_CUSTOM_RULES` custom rules per request.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import re2

from gradium.text.rules import LANGUAGES, normalizer_for

__all__ = ["MAX_CUSTOM_RULES", "RewriteRules", "RuleError"]

# Each rule is a pass over every segment; more rules than this is not a pronunciation list but a
# way to buy CPU time with a few credits.
MAX_CUSTOM_RULES = 100

_SEPARATOR = re.compile(r"(?<!\\);|\n")
_REGEX_RULE = re.compile(r"/(.*)/([imsx]*)\s*=>(.*)", re.DOTALL)
_LANGUAGE_ALIASES = {"pt-br": "pt", "pt_br": "pt", "pt-pt": "pt", "en-us": "en", "en-gb": "en"}
_RE2_FLAGS = frozenset("ims")  # passed to RE2 inline, as (?ims); RE2 has no verbose mode


class RuleError(ValueError):
    """The rewrite-rules spec is invalid; the message names the offending rule."""


class _Pattern(Protocol):
    """What a rule needs of a compiled pattern: Python's ``re`` (literal rules) or RE2 (regexes)."""

    @property
    def groups(self) -> int: ...

    @property
    def groupindex(self) -> Mapping[str, int]: ...

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str) -> str: ...


@dataclass(frozen=True)
class _Rewrite:
    pattern: _Pattern
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
        if len(custom) > MAX_CUSTOM_RULES:
            raise RuleError(f"too many rewrite rules ({len(custom)}): at most {MAX_CUSTOM_RULES}")
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
    if not body:
        raise RuleError(f'invalid rewrite rule "{rule}": the regular expression is empty')
    if "x" in flag_letters:
        raise RuleError(f'invalid rewrite rule "{rule}": the x (verbose) flag is not supported')
    pattern = _compile_linear(rule, body, "".join(sorted(set(flag_letters) & _RE2_FLAGS)))
    _check_template(rule, pattern, target)
    return _Rewrite(pattern, target)


def _compile_linear(rule: str, body: str, flags: str) -> _Pattern:
    """Compile with RE2, whose matching time is linear in the text: a user's pattern can never
    backtrack exponentially (a ReDoS held a synthesis thread for hours for ~30 credits)."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to the server's stderr
    try:
        pattern: _Pattern = re2.compile(f"(?{flags}){body}" if flags else body, options)
    except re2.error as error:
        raw = error.args[0] if error.args else "invalid"
        reason = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        raise RuleError(
            f'invalid rewrite rule "{rule}": bad regular expression: {reason} '
            "(RE2 syntax: no look-arounds or back-references)"
        ) from None
    return pattern


def _check_template(rule: str, pattern: _Pattern, template: str) -> None:
    """Fail now, not during synthesis, on a replacement such as ``\\3`` with one group."""
    names = {index: name for name, index in pattern.groupindex.items()}
    groups = "".join(f"(?P<{names[i]}>)" if i in names else "()" for i in range(1, pattern.groups + 1))
    probe = re.compile(groups).match("")
    assert probe is not None  # empty groups always match the empty string
    try:
        probe.expand(template)
    except (re.error, IndexError) as error:
        raise RuleError(f'invalid rewrite rule "{rule}": bad replacement: {error}') from None
