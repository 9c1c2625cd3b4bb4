"""TTS ``json_config`` options: parsing, validation with clear errors, and their effect on a voice."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, replace
from typing import Any

from gradium.engines.base import VoiceParams
from gradium.text.normalize import RewriteRules, RuleError


class OptionError(ValueError):
    """A json_config value of the wrong type or out of range; the message names key and range."""


_RANGES: dict[str, tuple[float, float, float]] = {
    # key: (minimum, maximum, default)
    "padding_bonus": (-4.0, 4.0, 0.0),
    "temp": (0.0, 1.4, 0.7),
    "cfg_coef": (1.0, 4.0, 2.0),
}


@dataclass(frozen=True)
class TtsOptions:
    padding_bonus: float = 0.0  # speech rate: negative faster, positive slower
    temp: float = 0.7  # prosody variation; 0 = identical bytes for identical input
    cfg_coef: float = 2.0  # strength of a cloned voice's traits (1 = base voice)
    rewrite_rules: RewriteRules | None = None

    @property
    def speed(self) -> float:
        """Rate multiplier: each 4 points of padding_bonus halve or double the speech rate."""
        return float(2.0 ** (-self.padding_bonus / 4.0))


def parse_json_config(raw: Any) -> dict[str, Any]:
    """``json_config`` arrives as a string holding JSON, an object, or null (§13.6)."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise OptionError(f"json_config is not valid JSON: {exc.msg}") from None
        if raw is None:
            return {}
    if not isinstance(raw, dict):
        raise OptionError("json_config must be a JSON object")
    return raw


def number_in_range(config: dict[str, Any], key: str, low: float, high: float, default: float) -> float:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise OptionError(f"json_config '{key}' must be a number between {low:g} and {high:g}")
    try:
        number = float(value)
    except ValueError:
        raise OptionError(f"json_config '{key}' must be a number between {low:g} and {high:g}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise OptionError(f"json_config '{key}' must be between {low:g} and {high:g}, got {value!r}")
    return number


def parse_tts_options(raw: Any) -> TtsOptions:
    config = parse_json_config(raw)
    values = {key: number_in_range(config, key, *bounds) for key, bounds in _RANGES.items()}
    rules_spec = config.get("rewrite_rules")
    rules = None
    if rules_spec is not None:
        if not isinstance(rules_spec, str):
            raise OptionError("json_config 'rewrite_rules' must be a string (e.g. \"en\")")
        try:
            rules = RewriteRules.parse(rules_spec)
        except RuleError as exc:
            raise OptionError(f"json_config 'rewrite_rules': {exc}") from None
    return TtsOptions(rewrite_rules=rules, **values)


def apply_speed(voice: VoiceParams, options: TtsOptions) -> VoiceParams:
    rate = round(voice.rate_wpm * options.speed)
    return replace(voice, rate_wpm=max(80, min(450, rate)))


def vary_prosody(voice: VoiceParams, temp: float, rng: random.Random) -> VoiceParams:
    """Per-segment prosody variation that grows with ``temp`` (none at 0, so output is reproducible)."""
    if temp <= 0:
        return voice
    spread = temp / 1.4
    pitch = voice.pitch + round(rng.uniform(-8, 8) * spread)
    pitch_range = voice.pitch_range + round(rng.uniform(-15, 15) * spread)
    rate = voice.rate_wpm * (1 + rng.uniform(-0.05, 0.05) * spread)
    factor = voice.pitch_factor * (1 + rng.uniform(-0.03, 0.03) * spread)
    return replace(
        voice,
        pitch=max(0, min(99, pitch)),
        pitch_range=max(0, min(99, pitch_range)),
        rate_wpm=max(80, min(450, round(rate))),
        pitch_factor=factor,
        reproducible=False,
    )
