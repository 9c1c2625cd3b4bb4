"""Cloning in neural voice space through the real server, graded with the speaker encoder.

A clone made from 10 s of a corpus speaker must speak with a Kokoro mix of that speaker's perceived
gender, and its speech must be closer (GE2E cosine) to *held-out* speech of the speaker than the
formant+WORLD clone of the same sample. The full per-speaker table against every stock voice is
benchmarks/cloning_neural.py.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import numpy as np
import pytest

from conftest import CORPUS, LiveServer
from gradium.audio.files import read_audio_file
from gradium.engines.speaker_encoder import similarity, speaker_encoder
from test_voices_api import call, create
from wire import exchange, tts_frames

LJ_SAMPLE, LJ_HELD_OUT = CORPUS / "en_ljspeech_LJ001-0001.wav", CORPUS / "en_ljspeech_LJ001-0007.wav"
READER_SAMPLE = CORPUS / "en_librivox_ss_0870.wav"
TEXT = "I would like to book a table for two people at seven o'clock tonight, near the river."


def mix_names(voice: dict[str, Any]) -> list[str]:
    neural = voice["profile"]["neural_voice"]
    assert neural["engine"] == "kokoro"
    mix = neural["voice"]
    return [mix] if isinstance(mix, str) else [name for name, _ in mix]


async def speak(server: LiveServer, voice_id: str, **setup: object) -> np.ndarray:
    frames = tts_frames(TEXT, output_format="pcm_24000", voice_id=voice_id, **setup)
    result = await exchange(server, "speech/tts", frames)
    assert result.messages[-1]["type"] == "end_of_stream", result.messages[-3:]
    words = result.of_type("text")
    assert [w["text"] for w in words][:3] == ["I", "would", "like"]
    return np.frombuffer(result.audio(), dtype=np.int16).astype(np.float32) / 32768


def held_out_similarity(speech: np.ndarray, held_out: object) -> float:
    reference, rate = read_audio_file(held_out)  # type: ignore[arg-type]
    encoder = speaker_encoder()
    return similarity(encoder.embed(speech, 24000), encoder.embed(reference, rate))


@pytest.fixture(scope="module")
async def lj_clone(live_server: LiveServer) -> dict[str, Any]:
    status, voice = await create(live_server, LJ_SAMPLE.read_bytes(), name="lj neural", language="en")
    assert status == 201, voice
    return voice


async def test_a_feminine_speaker_gets_a_feminine_kokoro_mix(lj_clone: dict[str, Any]) -> None:
    names = mix_names(lj_clone)
    assert names and all(name[1] == "f" for name in names), names
    neural = lj_clone["profile"]["neural_voice"]
    assert neural["accent"] in ("en-US", "en-GB")
    assert 0.5 < neural["similarity"] <= 1.0
    # LJ Speech's recording is brighter than any Kokoro voice: the clone keeps a timbre equaliser.
    assert len(neural["eq_db"]) == 32 and max(abs(g) for g in neural["eq_db"]) > 1.0, neural


async def test_the_neural_clone_is_closer_to_held_out_speech_than_the_dsp_clone(
    live_server: LiveServer, lj_clone: dict[str, Any]
) -> None:
    neural = held_out_similarity(await speak(live_server, lj_clone["uid"]), LJ_HELD_OUT)
    dsp = held_out_similarity(await speak(live_server, lj_clone["uid"], model_name="formant"), LJ_HELD_OUT)
    assert neural > dsp + 0.05, (neural, dsp)
    assert neural > 0.6


async def test_cartesia_clone_of_a_masculine_reader_speaks_masculine(live_server: LiveServer) -> None:
    form = aiohttp.FormData()
    form.add_field("clip", READER_SAMPLE.read_bytes(), filename="reader.wav", content_type="audio/wav")
    form.add_field("name", "reader")
    form.add_field("language", "en")
    headers = {"X-API-Key": live_server.api_key, "Cartesia-Version": "2025-04-16"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{live_server.root_url}/voices/clone", data=form, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        voice_id = (await response.json())["id"]
    status, _, voice = await call(live_server, "GET", f"voices/{voice_id}")
    assert status == 200
    assert all(name[1] == "m" for name in mix_names(voice))
    body = {
        "model_id": "sonic-2",
        "transcript": TEXT,
        "voice": {"mode": "id", "id": voice_id},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000},
        "language": "fr",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{live_server.root_url}/tts/bytes", json=body, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        assert len(await response.read()) > 24000 * 2  # over a second of speech, in French


async def test_changing_the_language_moves_the_accent_and_german_stays_on_dsp(
    live_server: LiveServer, lj_clone: dict[str, Any]
) -> None:
    status, voice = await create(live_server, LJ_SAMPLE.read_bytes(), name="lj polyglot", language="en")
    assert status == 201
    status, _, french = await call(live_server, "PUT", f"voices/{voice['uid']}", json={"language": "fr"})
    assert status == 200, french
    assert french["profile"]["neural_voice"]["accent"] == "fr"
    status, _, german = await call(live_server, "PUT", f"voices/{voice['uid']}", json={"language": "de"})
    assert status == 200, german
    assert german["profile"]["neural_voice"] is None
    audio = await speak(live_server, voice["uid"])  # German phonemes on the formant voice
    assert audio.size > 24000
