"""The NumPy GE2E speaker encoder against Resemblyzer's own (torch) output on corpus speech."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS
from gradium.audio.files import read_audio_file
from gradium.engines.speaker_encoder import similarity, speaker_encoder
from gradium.engines.torch_checkpoint import CheckpointError, load_legacy_checkpoint

REFERENCE = json.loads((Path(__file__).parent / "data" / "resemblyzer_reference.json").read_text())


def _embed(name: str) -> np.ndarray:
    samples, rate = read_audio_file(CORPUS / name)
    return speaker_encoder().embed(samples, rate)


@pytest.mark.parametrize("name", sorted(REFERENCE["embeddings"]))
def test_embedding_equals_the_reference_implementation(name: str) -> None:
    ours = _embed(name)
    reference = np.array(REFERENCE["embeddings"][name], dtype=np.float32)
    assert ours.shape == (256,)
    assert np.max(np.abs(ours - reference)) < 1e-3


def test_same_speaker_is_closer_than_other_speakers() -> None:
    lj_a, lj_b = _embed("en_ljspeech_LJ001-0001.wav"), _embed("en_ljspeech_LJ001-0007.wav")
    reader = _embed("en_librivox_ss_0870.wav")
    assert similarity(lj_a, lj_b) > 0.85
    assert similarity(lj_a, reader) < similarity(lj_a, lj_b) - 0.2


def test_silence_is_an_error() -> None:
    with pytest.raises(ValueError, match="no speech"):
        speaker_encoder().embed(np.zeros(32000, np.float32), 16000)


def test_checkpoint_reader_refuses_foreign_classes(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, handle, protocol=2)
        handle.write(b"\x80\x02cos\nsystem\nq\x00.")  # a pickle that would import os.system
    with pytest.raises(CheckpointError, match=r"os\.system"):
        load_legacy_checkpoint(path)
