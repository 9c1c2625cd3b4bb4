"""Give a cloned voice's profile its neural voice: the mix of stock voices that sounds most like it.

The sample's speaker embedding is taken when the sample is analysed (cheap, ~1 s). Matching needs
two renderings on the neural engine, so the server runs it through the engine's render queue at a
lower priority than live streams (:meth:`gradium.server.runtime.Runtime.match_neural_voice`).
Languages the mixing engine does not speak (German) keep the WORLD transform of a formant voice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from gradium.engines.base import NeuralVoice, Synthesis
from gradium.engines.speaker_encoder import speaker_encoder
from gradium.speech.voice_match import Embedding, match_voice
from gradium.speech.voice_profile import VoiceProfile
from gradium.speech.voice_space import ACCENT_OF_LANGUAGE, calibration_sentences, stock_voices

Render = Callable[[str, NeuralVoice, str], Synthesis]  # (text, voice, language) -> speech


def speaks(language: str) -> bool:
    """Whether cloned voices of ``language`` get a neural voice."""
    return language in ACCENT_OF_LANGUAGE


def embed_speech(synthesis: Synthesis) -> Embedding:
    return speaker_encoder().embed(synthesis.pcm.astype(np.float32) / 32768, synthesis.sample_rate)


def with_neural_voice(profile: VoiceProfile, language: str, render: Render) -> VoiceProfile:
    """``profile`` with ``neural_voice`` set from its speaker embedding. Blocking (renders twice)."""
    if not speaks(language):
        return replace(profile, neural_voice=None)
    if profile.speaker_embedding is None:
        return profile
    text = calibration_sentences(language)
    match = match_voice(
        np.array(profile.speaker_embedding, dtype=np.float32),
        profile.f0_median_hz,
        profile.envelope_db,
        language,
        stock_voices(),
        lambda voice: render(text, voice, language),
        embed_speech,
    )
    return replace(profile, neural_voice=match.to_json())

