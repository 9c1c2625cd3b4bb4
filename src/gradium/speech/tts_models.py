"""Which engine family speaks a request: Gradium's ``model_name`` and Cartesia's ``model_id``.

* ``best`` (Gradium ``default``, ``kokoro``; Cartesia ``sonic-2``, ``sonic`` and every other id):
  the voice's neural voice where the machine has one, else its formant voice.
* ``fast`` (Gradium ``fast`` or ``piper``; Cartesia ``sonic-turbo``): English voices speak with
  Piper's voice (about 9x cheaper than Kokoro, one masculine US voice); other languages as ``best``.
* ``formant`` (Gradium ``espeak`` or ``formant``): espeak-ng/flite, the smallest footprint.

Unknown names mean ``best``: clients send model names of their own (the official Gradium client
sends ``default``), and a voice must never fail for it.
"""

from __future__ import annotations

from dataclasses import replace

from gradium.engines.base import NeuralVoice, VoiceParams
from gradium.engines.kokoro import VOICE_SHA256
from gradium.engines.neural_tts import KOKORO, PIPER
from gradium.engines.piper import DEFAULT_MODEL

BEST, FAST, FORMANT = "best", "fast", "formant"
FAST_ENGLISH_VOICE = NeuralVoice(PIPER, DEFAULT_MODEL, "en-US")
GRADIUM_MODEL_NAMES = {
    "default": BEST,
    "kokoro": BEST,
    "neural": BEST,
    "fast": FAST,
    "piper": FAST,
    "espeak": FORMANT,
    "formant": FORMANT,
}
CARTESIA_MODEL_IDS = {"sonic-turbo": FAST}


def family_of_model_name(model_name: object) -> str:
    return GRADIUM_MODEL_NAMES.get(str(model_name or "default").strip().lower(), BEST)


def family_of_model_id(model_id: object) -> str:
    return CARTESIA_MODEL_IDS.get(str(model_id or "").strip().lower(), BEST)


def _is_stock_kokoro(voice: NeuralVoice) -> bool:
    parts = ((voice.voice, 1.0),) if isinstance(voice.voice, str) else voice.voice
    return voice.engine == KOKORO and all(name in VOICE_SHA256 for name, _ in parts)


def for_family(params: VoiceParams, family: str, *, cloned: bool = False) -> VoiceParams:
    """The voice's rendering in ``family``; voices without a neural voice are left as they are.
    A ``cloned`` voice (custom voices and drafts) has no Piper rendering: ``fast`` keeps it as is."""
    if family == FORMANT:
        return replace(params, neural=None)
    if family == FAST and params.neural is not None and params.language == "en" and not cloned:
        if not _is_stock_kokoro(params.neural):
            return params  # an operator's own voice file: only it speaks like itself
        return replace(params, neural=FAST_ENGLISH_VOICE)
    return params
