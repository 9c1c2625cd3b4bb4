"""The voice designer: prompt -> distinct drafts, previews, promotion, expiry rules, errors."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from audio_measure import median_f0
from conftest import LiveServer, run_official
from gradium.speech.voice_designer import design_profiles, read_prompt
from wire import exchange, read_wav, tts_frames


async def call(server: LiveServer, method: str, route: str, **kw: Any) -> tuple[int, Any, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{server.base_url}{route}", headers={"x-api-key": server.api_key}, **kw) as resp,
    ):
        body = await resp.read()
        is_json = resp.headers.get("content-type", "").startswith("application/json")
        return resp.status, json.loads(body) if is_json and body else None, body


def test_prompt_words_drive_the_profile() -> None:
    woman, man = read_prompt("a young woman, bright and fast", "en"), read_prompt("an old man with a deep voice", "en")
    assert woman.f0_hz > 200 > 115 > man.f0_hz
    assert woman.rate_scale > 1 > man.rate_scale and woman.formant_scale > 1 > man.formant_scale
    assert read_prompt("calm", "en").spread_scale < 1 < read_prompt("energetic", "en").spread_scale
    assert read_prompt("a British narrator", "en").accent == "en"
    assert read_prompt("a Brazilian speaker", "pt").accent == "pt-br"
    drafts = design_profiles("a cheerful woman", "en", 5, seed=1)
    assert len({(d.f0_median_hz, d.formant_scale) for d in drafts}) == 5  # distinct variations
    assert all(180 < d.f0_median_hz < 230 for d in drafts)


def test_drafts_get_neural_mixes_of_the_asked_gender_and_accent() -> None:
    def names(profile: object) -> list[str]:
        return [name for name, _ in profile.neural_voice["voice"]]  # type: ignore[attr-defined]

    british_men = design_profiles("a deep-voiced man with a British accent", "en", 4, seed=3)
    assert all(d.neural_voice and d.neural_voice["accent"] == "en-GB" for d in british_men)
    assert all(name.startswith("bm_") for d in british_men for name in names(d))
    women = design_profiles("a cheerful woman", "es", 3, seed=4)
    assert all(d.neural_voice["accent"] == "es" for d in women)  # type: ignore[index]
    assert all(name[1] == "f" for d in women for name in names(d))
    assert len({json.dumps(d.neural_voice) for d in women}) == 3  # three different voices
    french_men = design_profiles("an older man", "fr", 2, seed=5)
    assert all("ff_siwis" in names(d) and d.neural_voice["pitch_factor"] <= 1 for d in french_men)  # type: ignore[index]
    assert design_profiles("a man", "de", 1, seed=6)[0].neural_voice is None  # German: WORLD only


def test_official_client_designs_previews_and_promotes(live_server: LiveServer) -> None:
    script = """
import asyncio, json, os, gradium
async def main():
    c = gradium.client.GradiumClient(api_key=os.environ["GRADIUM_API_KEY"], base_url=os.environ["GRADIUM_BASE_URL"])
    before = (await c.credits())["remaining"]
    made = await c.voice_generate("a deep-voiced older man, calm", language="en", n_samples=3, wait=True, poll_interval=0.1)
    after = (await c.credits())["remaining"]
    entry = await c.voice_embedding_get(made["embeddings"][0]["embedding_id"])
    preview = await c.voice_tts(entry["embedding_id"], "Good evening and welcome.", output_format="wav")
    voice = await c.voice_from_embedding(entry["embedding_id"], name="Narrator", description="designed")
    again = None
    try:
        await c.voice_from_embedding(entry["embedding_id"], name="Twice")
    except Exception as exc:
        again = getattr(exc, "status", None)
    tts = await c.tts(setup={"voice_id": voice["uid"], "output_format": "wav"}, text="Good evening and welcome.")
    await c.voice_delete(voice["uid"])
    print("RESULT " + json.dumps(dict(made=made, cost=before - after, entry=entry, preview=len(preview.raw_data),
        voice=voice, again=again, tts=len(tts.raw_data))))
asyncio.run(main())
"""
    done = run_official(script, live_server)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    ids = [e["embedding_id"] for e in result["made"]["embeddings"]]
    assert len(set(ids)) == 3 and all(i.startswith("vox_emb_") for i in ids)
    assert result["cost"] == 300
    entry = result["entry"]
    assert entry["ready"] is True and entry["expires_at"] and entry["language"] == "en"
    assert result["preview"] > 48000 and result["tts"] > 48000
    assert result["voice"]["name"] == "Narrator" and result["voice"]["profile"]["source"] == "designer"
    assert result["again"] == 409


async def test_drafts_of_one_request_sound_different_and_match_the_prompt(live_server: LiveServer) -> None:
    status, made, _ = await call(live_server, "POST", "voice-generator/generate",
                                 json={"prompt": "a young woman", "language": "en", "n_samples": 2})
    assert status == 200
    pitches = []
    for entry in made["embeddings"]:
        result = await exchange(live_server, "speech/tts", tts_frames(
            "Hello, how are you doing today?", voice_id=entry["embedding_id"], output_format="wav",
            json_config={"temp": 0}))
        samples, rate = read_wav(result.audio())
        pitches.append(median_f0(samples, rate))
    assert all(pitch > 170 for pitch in pitches), pitches
    assert abs(pitches[0] - pitches[1]) > 3, pitches


async def test_designer_errors(live_server: LiveServer) -> None:
    for body, needle in [
        ({"prompt": "", "language": "en", "n_samples": 1}, "prompt"),
        ({"prompt": "a man", "language": "en", "n_samples": 6}, "n_samples"),
        ({"prompt": "a man", "language": "it", "n_samples": 1}, "unsupported language"),
    ]:
        status, error, _ = await call(live_server, "POST", "voice-generator/generate", json=body)
        assert status == 400 and needle in error["detail"], error
    status, error, _ = await call(live_server, "GET", "voice-generator/embeddings?embedding_id=vox_emb_nope")
    assert status == 404 and "not found" in error["detail"]
    status, error, _ = await call(live_server, "POST", "voices/from-embedding",
                                  json={"voxium_embedding_id": "vox_emb_nope", "name": "x"})
    assert status == 404
    status, error, _ = await call(live_server, "POST", "post/speech/tts",
                                  json={"voice_id": "vox_emb_nope", "text": "hi", "only_audio": True})
    assert status == 404 and "unknown voice_id" in error["detail"]
