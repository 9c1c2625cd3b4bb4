"""Which voice a request asked for: ``voice_id`` first, then a ``voice`` name, else the default.

``resolve_voice`` knows the catalog only. ``resolve_request_voice`` also knows the organisation's
custom voices and voice-designer drafts (``vox_emb_...``): those resolve to the *closest base voice*
of their language (by median F0) plus their profile, and ``prepare_rendering`` turns that pair into
engine parameters and the WORLD transform that makes the base voice sound like the profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from gradium.accounts.errors import UnknownDraft, UnknownVoice
from gradium.accounts.store import AccountStore
from gradium.accounts.voice_store import DRAFT_ID_PREFIX
from gradium.catalog import DEFAULT_VOICE_ID, ESPEAK_LANGUAGE, CatalogVoice, load_catalog, voice_params
from gradium.catalog.aliases import canonical_voice_id
from gradium.engines.base import NEUTRAL_RATE_WPM, TTSEngine, VoiceParams
from gradium.engines.pitch import clamp_factor
from gradium.engines.voice_transform import (
    VoiceTransform,
    calibrate,
    plan_transform,
    rate_wpm_for,
    strength_from_cfg,
)
from gradium.speech.installed_voices import installed_voice, params_of
from gradium.speech.voice_designer import TYPICAL_SPEECH_RATE
from gradium.speech.voice_match import neural_voice_from_json
from gradium.speech.voice_profile import VoiceProfile, pyworld_available


class UnknownVoiceError(LookupError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def resolve_voice(voice_id: object, voice_name: object) -> CatalogVoice:
    catalog = load_catalog()
    if voice_id is not None and voice_id != "":
        voice = catalog.get(canonical_voice_id(str(voice_id)))
        if voice is None:
            raise UnknownVoiceError(
                f"unknown voice_id '{voice_id}': list voices with GET voices/?include_catalog=1"
            )
        return voice
    if voice_name is None or voice_name == "" or str(voice_name).lower() == "default":
        return catalog[DEFAULT_VOICE_ID]
    wanted = str(voice_name).casefold()
    # Names repeat across languages; prefer flagship voices, then catalog order.
    matches = [v for v in catalog.values() if v.name.casefold() == wanted]
    if not matches:
        raise UnknownVoiceError(
            f"unknown voice '{voice_name}': use a voice_id from GET voices/?include_catalog=1"
        )
    return sorted(matches, key=lambda v: not v.flagship)[0]


@dataclass(frozen=True)
class BaseVoice:
    """An engine voice that cloned voices are rendered from."""

    params: VoiceParams
    f0_hz: float  # its median F0, measured with WORLD dio on the calibration text
    warp_limits: tuple[float, float]  # envelope warps that keep it intelligible (round-trip WER)


# English: the two flite voices pocketsphinx understands best; slt warped upwards lost words fast.
_FLITE_BASES = (
    BaseVoice(VoiceParams("en", "en-us+edward", "rms"), 101.0, (0.9, 1.12)),
    BaseVoice(VoiceParams("en", "en-us+f2", "slt"), 165.0, (0.88, 1.02)),
)


def base_voices(language: str, *, flite: bool) -> tuple[BaseVoice, ...]:
    if language == "en" and flite:
        return _FLITE_BASES
    accent = ESPEAK_LANGUAGE.get(language, "en-us")
    # edward (English) and m3 are the clearest low espeak variants, f2 the clearest high one.
    low = "edward" if language == "en" else "m3"
    return (
        BaseVoice(VoiceParams(language, f"{accent}+{low}"), 100.0, (0.9, 1.1)),
        BaseVoice(VoiceParams(language, f"{accent}+f2"), 192.0, (0.9, 1.08)),
    )


def closest_base(profile: VoiceProfile, language: str, *, flite: bool) -> BaseVoice:
    """The base voice whose pitch is nearest (on a log scale): the smallest vocoder move."""
    return min(
        base_voices(language, flite=flite),
        key=lambda base: abs(math.log(base.f0_hz / profile.f0_median_hz)),
    )


@dataclass(frozen=True)
class ResolvedVoice:
    """A request's voice: engine parameters and, for custom voices and drafts, the profile to match."""

    uid: str
    language: str
    params: VoiceParams
    profile: VoiceProfile | None = None
    warp_limits: tuple[float, float] = (1.0, 1.0)
    kind: str = "catalog"  # "catalog", "custom", "draft" or "installed" (an operator's voice file)
    base_f0_hz: float = 0.0  # the base voice's nominal median F0 (custom voices and drafts)


def needs_database(voice_id: object) -> bool:
    """Whether resolving ``voice_id`` reads the database (a custom voice or draft), or only the
    in-memory catalog: the server then skips the thread hop for catalog voices."""
    if voice_id is None or voice_id == "" or installed_voice(voice_id) is not None:
        return False
    return canonical_voice_id(str(voice_id)) not in load_catalog()


def resolve_request_voice(
    store: AccountStore, org_id: int, voice_id: object, voice_name: object, *, flite: bool
) -> ResolvedVoice:
    """Catalog voice, the organisation's custom voice, or its live draft. Blocking (database)."""
    if needs_database(voice_id):
        uid = str(voice_id)
        try:
            if uid.startswith(DRAFT_ID_PREFIX):
                draft = store.get_draft(org_id, uid)
                return _custom(uid, draft.language, draft.profile, "draft", flite=flite)
            voice = store.get_voice(org_id, uid)
        except (UnknownVoice, UnknownDraft):
            raise UnknownVoiceError(
                f"unknown voice_id '{uid}': list voices with GET voices/?include_catalog=1"
            ) from None
        if voice.profile is None:
            raise UnknownVoiceError(f"voice '{uid}' has no voice profile; create it again")
        return _custom(uid, voice.language or "en", voice.profile, "custom", flite=flite)
    installed = installed_voice(voice_id)
    if installed is not None:
        return ResolvedVoice(installed.voice_id, installed.language, params_of(installed), kind="installed")
    catalog_voice = resolve_voice(voice_id, voice_name)
    return ResolvedVoice(
        catalog_voice.uid, catalog_voice.language, voice_params(catalog_voice, flite=flite)
    )


def _custom(
    uid: str, language: str, profile_json: dict[str, object], kind: str, *, flite: bool
) -> ResolvedVoice:
    profile = VoiceProfile.from_json(dict(profile_json))
    # A designed accent (e.g. British English) needs espeak's voice for it; flite speaks US English.
    accent = profile.extra.get("accent")
    accent = accent if isinstance(accent, str) and accent != ESPEAK_LANGUAGE.get(language) else None
    base = closest_base(profile, language, flite=flite and accent is None)
    params = base.params
    if accent is not None:
        variant = params.espeak_voice.partition("+")[2]
        params = replace(params, espeak_voice=f"{accent}+{variant}" if variant else accent)
    if profile.neural_voice is not None:
        # Cloned voices speak with their matched neural voice; the formant base stays for the
        # formant family (model_name "formant", or a server without neural engines).
        params = replace(params, neural=neural_voice_from_json(profile.neural_voice))
        if profile.source == "designer" and profile.speech_rate:
            # A designed pace ("fast", "slow") is the neural engine's speed.
            pace = profile.speech_rate / TYPICAL_SPEECH_RATE
            params = replace(params, rate_wpm=round(NEUTRAL_RATE_WPM * pace))
    return ResolvedVoice(uid, language, params, profile, base.warp_limits, kind, base.f0_hz)


def _speaks_neural(params: VoiceParams, engine: TTSEngine) -> bool:
    """Whether ``engine`` is the voice's neural engine (its voice is already the speaker's)."""
    return params.neural is not None and params.neural.engine == engine.name


def prepare_rendering(
    voice: ResolvedVoice, engine: TTSEngine, cfg_coef: float
) -> tuple[VoiceParams, VoiceTransform | None]:
    """Engine parameters and the per-segment transform for ``voice``. Blocking: the first call for a
    base voice synthesizes its calibration text, so run it on the engine's executor."""
    if voice.profile is None or _speaks_neural(voice.params, engine):
        return voice.params, None
    strength = strength_from_cfg(cfg_coef)
    if not pyworld_available():
        # Fallback without the vocoder: resampling moves F0 (and formants with it) towards the
        # target; envelope and intonation are not matched.
        factor = clamp_factor((voice.profile.f0_median_hz / voice.base_f0_hz) ** strength)
        return replace(voice.params, pitch_factor=factor), None
    base = calibrate(engine, voice.params)
    rate = rate_wpm_for(voice.profile, base, voice.params.rate_wpm, strength)
    plan = plan_transform(voice.profile, base, strength, voice.warp_limits)
    return replace(voice.params, rate_wpm=rate), VoiceTransform(plan)
