"""Neural voices through the real server: engine choice per voice and model, identity, odd text.

The general TTS behaviour (formats, tags, timestamps, speed, flush, multiplexing) is covered by
tests/test_server_tts.py, whose default voice (Emma) is a Kokoro voice; the official clients'
tests speak with neural voices too.
"""

from __future__ import annotations

import aiohttp
import numpy as np
import pytest
import pyworld

from conftest import LiveServer, start_server, stop_server
from wire import exchange, tts_frames

EMMA, KENT, LEO, ELISE, MIA = (
    "YTpq7expH9539ERJ",
    "LFZvm12tW_z0xfGo",
    "axlOaUiFyOZhy4nv",
    "b35yykvVppLXyw_l",
    "-uP9MuGtBqAvEyxI",
)


def median_f0(audio: bytes, rate: int) -> float:
    pcm = np.frombuffer(audio, dtype=np.int16).astype(np.float64) / 32768
    f0, _ = pyworld.dio(pcm, rate)
    return float(np.median(f0[f0 > 0]))


async def speak(server: LiveServer, text: str, **setup: object) -> tuple[bytes, list[dict[str, object]]]:
    result = await exchange(server, "speech/tts", tts_frames(text, output_format="pcm_16000", **setup))
    assert result.messages[-1]["type"] == "end_of_stream", result.messages[-3:]
    return result.audio(), result.of_type("text")


async def get_json(server: LiveServer, route: str) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.base_url + route, headers={"x-api-key": server.api_key}) as response,
    ):
        assert response.status == 200
        body: dict[str, object] = await response.json()
        return body


async def test_models_route_lists_the_engine_families(live_server: LiveServer) -> None:
    models = await get_json(live_server, "models")
    tts = {m["model_name"]: m for m in models["tts"]}  # type: ignore[index,union-attr]
    assert set(tts) == {"default", "fast", "formant"}
    assert "kokoro" in str(tts["default"]["engine"]) and "piper" in str(tts["fast"]["engine"])
    stt = {m["model_name"]: m for m in models["stt"]}  # type: ignore[index,union-attr]
    assert stt["whisper"]["default"] is True and stt["whisper"]["models"]["en"] == "tiny.en"  # type: ignore[index]


async def test_model_name_picks_the_engine_family(live_server: LiveServer) -> None:
    text = "The meeting has moved to Thursday afternoon."
    kokoro, kokoro_words = await speak(live_server, text, voice_id=KENT)
    piper, piper_words = await speak(live_server, text, voice_id=KENT, model_name="fast")
    formant, _ = await speak(live_server, text, voice_id=KENT, model_name="formant")
    assert len({kokoro, piper, formant}) == 3  # three different engines, three different renderings
    for words in (kokoro_words, piper_words):
        assert [str(w["text"]).strip(".") for w in words] == text.rstrip(".").split()
        starts = [float(w["start_s"]) for w in words]  # type: ignore[arg-type]
        assert starts == sorted(starts)
    assert float(kokoro_words[-1]["stop_s"]) <= len(kokoro) / 2 / 16000 + 0.05  # type: ignore[arg-type]


async def test_feminine_and_masculine_voices_keep_their_pitch(live_server: LiveServer) -> None:
    """French has one (feminine) Kokoro voice: masculine French voices are a blend, pitched down."""
    elise, _ = await speak(live_server, "Bonjour, comment allez-vous aujourd'hui ?", voice_id=ELISE)
    leo, _ = await speak(live_server, "Bonjour, comment allez-vous aujourd'hui ?", voice_id=LEO)
    emma, _ = await speak(live_server, "Hello there, how are you doing today?", voice_id=EMMA)
    kent, _ = await speak(live_server, "Hello there, how are you doing today?", voice_id=KENT)
    assert median_f0(elise, 16000) >= 165 and median_f0(emma, 16000) >= 165
    assert median_f0(leo, 16000) <= 150 and median_f0(kent, 16000) <= 140


async def test_german_speaks_with_espeak(live_server: LiveServer) -> None:
    audio, words = await speak(live_server, "Guten Tag, wie geht es Ihnen?", voice_id=MIA)
    assert len(audio) > 16000 and [str(w["text"]).strip(",") for w in words][:2] == ["Guten", "Tag"]


@pytest.mark.parametrize(
    "text",
    [
        "Great news 🎉🎉 see you soon!",
        "Control\x07 characters\x00 and\x1b escapes.",
        "Lone surrogate \ud800 in the middle.",
        "Mixed scripts: hello, Привет, こんにちは, مرحبا.",
        "a" * 10_000,
        "Supercalifragilisticexpialidocious " * 3,
    ],
)
async def test_odd_text_is_spoken_or_refused_cleanly(live_server: LiveServer, text: str) -> None:
    result = await exchange(
        live_server, "speech/tts", tts_frames(text, voice_id=EMMA, output_format="pcm_16000"), timeout=120
    )
    last = result.messages[-1]
    assert last["type"] in ("end_of_stream", "error"), last
    if last["type"] == "error":
        assert last["message"] and result.close_code == 1008
        assert not result.of_type("audio")
    else:
        assert result.close_code == 1000
    # The server still serves: a normal request right after works.
    audio, _ = await speak(live_server, "Still here.", voice_id=EMMA)
    assert len(audio) > 8000


async def test_neural_engines_can_be_turned_off(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_server(tmp_path_factory.mktemp("formant"), env={"GRADIUM_TTS_NEURAL": "0"})
    try:
        models = await get_json(server, "models")
        assert "kokoro" not in str(models["tts"])
        audio, words = await speak(server, "Hello from the small footprint mode.", voice_id=EMMA)
        assert len(audio) > 16000 and len(words) == 6
    finally:
        stop_server(server)
