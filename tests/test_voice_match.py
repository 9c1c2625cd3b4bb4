"""Choosing a neural voice in embedding space: the parts that need no rendering."""

from __future__ import annotations

import numpy as np

from gradium.speech.voice_match import candidate_voices, fitted_mix, with_native_share
from gradium.speech.voice_space import stock_voices


def test_a_mix_of_stock_embeddings_is_recovered() -> None:
    stock = {v.name: v for v in stock_voices()}
    target = 0.6 * stock["af_sarah"].embedding + 0.4 * stock["bf_lily"].embedding
    mix = dict(fitted_mix(target / np.linalg.norm(target), candidate_voices(stock_voices(), 200.0)))
    assert set(mix) == {"af_sarah", "bf_lily"}
    assert abs(mix["af_sarah"] - 0.6) < 0.05


def test_candidates_follow_the_speakers_pitch() -> None:
    assert all(v.feminine for v in candidate_voices(stock_voices(), 156.0))
    assert not any(v.feminine for v in candidate_voices(stock_voices(), 120.0))


def test_foreign_mixes_keep_half_of_the_languages_own_voices() -> None:
    assert with_native_share((("af_nicole", 1.0),), "ff_siwis", {"ff_siwis"}) == (
        ("af_nicole", 0.5),
        ("ff_siwis", 0.5),
    )
    mixed = dict(with_native_share((("em_alex", 0.2), ("am_echo", 0.8)), "em_alex", {"em_alex", "em_santa"}))
    assert mixed == {"em_alex": 0.5, "am_echo": 0.5}
    already = (("ef_dora", 0.7), ("af_heart", 0.3))
    assert with_native_share(already, "ef_dora", {"ef_dora"}) == already
