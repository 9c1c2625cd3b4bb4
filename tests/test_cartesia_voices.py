"""Cartesia voice methods on the organisation's custom voices, driven by the official ``cartesia==2.0.17``.

Two fresh organisations keep these voices away from the other tests' catalog counts: A owns the
voices, B must not see them (404 everywhere). Unit checks of the embedding <-> profile mapping and
of the denoiser run in-process.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import textwrap
from typing import Any

import numpy as np
import pytest

from conftest import CORPUS, LiveServer, official_results
from gradium.server.protocols.cartesia.enhance import denoise
from gradium.server.protocols.cartesia.voicing import embedding_from_profile, profile_from_embedding
from gradium.speech.voice_profile import analyse_voice

PRELUDE = """
import asyncio, base64, io, json, os, wave
import httpx
from cartesia import AsyncCartesia, Cartesia
from cartesia.core.api_error import ApiError
KEY = os.environ["GRADIUM_API_KEY"]
OTHER = os.environ["OTHER_KEY"]
BASE = os.environ["GRADIUM_BASE_URL"].replace("127.0.0.1", "localhost").removesuffix("/api/")
CLIP = {clip!r}
CATALOG = "YTpq7expH9539ERJ"
S16 = {{"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}}
client = Cartesia(api_key=KEY, base_url=BASE)
other = Cartesia(api_key=OTHER, base_url=BASE)
out = {{}}
def credits():
    return httpx.get(BASE + "/api/usages/credits", headers={{"x-api-key": KEY}}).json()["remaining_credits"]
def status_of(call):
    try:
        result = call()
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str, dict)):
            list(result)
    except ApiError as exc:
        return exc.status_code
    except Exception as exc:
        return str(exc)
    return None
def speak(voice_id, transcript="Hello there, this is my own voice.", language="en"):
    return b"".join(client.tts.bytes(model_id="sonic-2", transcript=transcript, language=language,
                                     voice={{"mode": "id", "id": voice_id}}, output_format=S16))
"""


@dataclasses.dataclass
class OrgView(LiveServer):
    """The shared server as organisation A sees it; ``OTHER_KEY`` (organisation B) joins the env."""

    other_key: str = ""

    def env(self) -> dict[str, str]:
        return {**super().env(), "OTHER_KEY": self.other_key}


@pytest.fixture(scope="module")
def orgs(live_server: LiveServer) -> OrgView:
    keys = []
    dd = ("--data-dir", str(live_server.data_dir))
    for name in ("cartesia-voices-a", "cartesia-voices-b"):
        org = json.loads(live_server.cli("orgs", "create", name, "--credits", "100000", *dd, "--json").stdout)
        created = live_server.cli("keys", "create", "--org", str(org["id"]), "--name", "t", *dd, "--json")
        keys.append(json.loads(created.stdout)["key"])
    fields = {f.name: getattr(live_server, f.name) for f in dataclasses.fields(LiveServer)}
    return OrgView(**{**fields, "api_key": keys[0]}, other_key=keys[1])


def run(server: OrgView, body: str) -> dict[str, Any]:
    script = PRELUDE.format(clip=str(CORPUS / "en_librivox_ss_0870.wav")) + textwrap.dedent(body)
    return official_results(script, server)


def median_f0(raw_s16: str) -> float:
    samples = np.frombuffer(base64.b64decode(raw_s16), dtype="<i2")
    return analyse_voice(samples, 16000).f0_median_hz


def test_sync_custom_voice_lifecycle(orgs: OrgView) -> None:
    values = run(
        orgs,
        """
        clip = open(CLIP, "rb").read()
        similar = client.voices.clone(clip=clip, name="Reader", language="en", mode="similarity",
                                      description="LibriVox reader")
        stable = client.voices.clone(clip=("reader.wav", clip, "audio/wav"), name="Reader clean",
                                     language="en", mode="stability", enhance=True)
        out["clone"] = [similar.name, similar.description, similar.language, similar.is_public,
                        bool(similar.user_id)]
        owned = list(client.voices.list(is_owner=True, expand=["embedding"]))
        out["owned"] = [[v.id for v in owned] == [similar.id, stable.id], owned[0].is_owner,
                        len(owned[0].embedding), owned[0].embedding[0]]
        out["all"] = len(list(client.voices.list(limit=100)))
        out["first_page"] = [v.id for v in client.voices.list(limit=2).items] == [similar.id, stable.id]
        got = client.voices.get(id=similar.id)
        out["get"] = [got.is_owner, got.language, got.dict().get("gender")]
        updated = client.voices.update(id=similar.id, name="Narrator", description="renamed")
        out["update"] = [updated.name, updated.description, client.voices.get(id=similar.id).name]
        before = credits()
        out["tts"] = [len(speak(similar.id)), len(speak(stable.id)), before - credits()]
        before = credits()
        speak(CATALOG)
        out["tts"].append(before - credits())  # the same price as a catalog voice
        events = list(client.tts.sse(model_id="sonic-2", transcript="Streaming events.", add_timestamps=True,
                                     voice={"mode": "id", "id": similar.id}, output_format=S16))
        out["sse"] = [events[-1].type, sum(len(e.data or "") for e in events if e.type == "chunk")]
        ws = client.tts.websocket()
        result = ws.send(model_id="sonic-2", transcript="Over the socket.", output_format=S16,
                         voice={"mode": "id", "id": similar.id}, stream=False, add_timestamps=True)
        out["ws"] = [len(result.audio), result.word_timestamps.words]
        ws.close()
        high = client.voices.create(name="High", description="from an embedding",
                                    embedding=[1.0, 0.5] + [0.0] * 190)
        low = client.voices.create(name="Low", description="", embedding=[-1.0, -0.3, 0.2, 0.0] + [0.0] * 188,
                                   language="en")
        head = next(v for v in client.voices.list(is_owner=True, expand=["embedding"]) if v.id == high.id)
        out["create"] = [high.is_owner, low.language, [round(x, 2) for x in head.embedding[:4]]]
        out["pitch"] = [base64.b64encode(speak(high.id)).decode(), base64.b64encode(speak(low.id)).decode()]
        spanish = client.voices.localize(voice_id=similar.id, name="Lector", description="in Spanish",
                                         language="es", original_speaker_gender="male", dialect="mx")
        french = client.voices.localize(voice_id=CATALOG, name="Emma FR", description="Emma in French",
                                        language="fr", original_speaker_gender="female")
        japanese = client.voices.localize(voice_id=low.id, name="Low JA", description="", language="ja",
                                          original_speaker_gender="male")
        out["localize"] = [spanish.language, french.language, japanese.language, spanish.is_public,
                           len(speak(spanish.id, "Hola, buenos días.", "es")),
                           len(speak(french.id, "Bonjour.", "fr")),
                           len(speak(japanese.id, "こんにちは", "ja"))]
        short = open(CLIP.replace("en_librivox_ss_0870", "en_cards_005"), "rb").read()
        infill = b"".join(client.infill.bytes(left_audio=short, right_audio=short, model_id="sonic-2",
                                              language="en", transcript="in between", voice_id=similar.id,
                                              output_format_container="raw", output_format_sample_rate=16000,
                                              output_format_encoding="pcm_s16le"))
        changed = b"".join(client.voice_changer.bytes(clip=short, voice_id=similar.id,
                                                      output_format_container="raw",
                                                      output_format_sample_rate=16000,
                                                      output_format_encoding="pcm_s16le"))
        drafts = httpx.post(BASE + "/api/voice-generator/generate", headers={"x-api-key": KEY},
                            json={"prompt": "a young woman", "language": "en", "n_samples": 1}).json()
        out["other_routes"] = [len(infill), len(changed), len(speak(drafts["embeddings"][0]["embedding_id"]))]
        mix = client.voices.mix(voices=[{"id": similar.id, "weight": 0.5}, {"id": CATALOG, "weight": 0.5}])
        out["mix"] = len(mix.embedding)
        out["other"] = [
            status_of(lambda: other.voices.get(id=similar.id)),
            status_of(lambda: other.voices.update(id=similar.id, name="x", description="y")),
            status_of(lambda: other.voices.delete(id=similar.id)),
            status_of(lambda: other.voices.localize(voice_id=similar.id, name="x", description="",
                                                    language="de", original_speaker_gender="male")),
            status_of(lambda: other.voices.mix(voices=[{"id": similar.id, "weight": 1.0}])),
            status_of(lambda: other.tts.bytes(model_id="sonic-2", transcript="Hi.", output_format=S16,
                                              voice={"mode": "id", "id": similar.id})),
            len(list(other.voices.list(is_owner=True))),
        ]
        out["errors"] = [
            status_of(lambda: client.voices.clone(clip=b"garbage" * 100, name="n", language="en",
                                                  mode="similarity")),
            status_of(lambda: client.voices.clone(clip=clip, name="n", language="en", mode="fast")),
            status_of(lambda: client.voices.clone(clip=clip, name="n", language="ja", mode="similarity")),
            status_of(lambda: client.voices.create(name="n", description="d", embedding=[])),
            status_of(lambda: client.voices.localize(voice_id="nope", name="n", description="", language="de",
                                                     original_speaker_gender="male")),
            status_of(lambda: client.voices.update(id=CATALOG, name="n", description="d")),
            status_of(lambda: client.voices.delete(id=CATALOG)),
        ]
        client.voices.delete(id=stable.id)
        out["deleted"] = [status_of(lambda: client.voices.get(id=stable.id)),
                          status_of(lambda: speak(stable.id)),
                          status_of(lambda: client.voices.delete(id=stable.id))]
        """,
    )
    assert values["clone"] == ["Reader", "LibriVox reader", "en", False, True]
    in_order, owner, size, gender = values["owned"]
    assert in_order and owner and size == 192 and gender < 0  # a low male reader
    assert values["all"] == 241 and values["first_page"]
    assert values["get"] == [True, "en", "masculine"]
    assert values["update"] == ["Narrator", "renamed", "Narrator"]
    similar, stable, charged, catalog_price = values["tts"]
    assert similar > 20_000 and stable > 20_000 and charged == 2 * catalog_price > 60
    assert values["sse"][0] == "done" and values["sse"][1] > 10_000
    assert values["ws"][0] > 10_000 and values["ws"][1] == ["Over", "the", "socket"]
    assert values["create"][:2] == [True, "en"] and values["create"][2] == [1.0, 0.5, 0.0, 0.0]
    high, low = (median_f0(audio) for audio in values["pitch"])
    assert high > 1.8 * low, (high, low)  # about 238 Hz against 104 Hz
    assert values["localize"][:4] == ["es", "fr", "ja", False]
    assert all(n > 5_000 for n in values["localize"][4:])
    assert values["mix"] == 192
    assert all(n > 10_000 for n in values["other_routes"])  # infill, voice changer, a designer draft
    assert values["other"] == [404, 404, 404, 404, 404, 404, 0]
    assert values["errors"] == [400, 400, 400, 400, 404, 403, 403]
    assert values["deleted"] == [404, 404, 404]


def test_async_clone_websocket_and_delete(orgs: OrgView) -> None:
    values = run(
        orgs,
        """
        async def main():
            ac = AsyncCartesia(api_key=KEY, base_url=BASE)
            voice = await ac.voices.clone(clip=open(CLIP, "rb"), name="Async reader", language="en",
                                          mode="similarity", enhance=False)
            pager = await ac.voices.list(is_owner=True)
            out["listed"] = voice.id in [v.id async for v in pager]
            chunks = ac.tts.bytes(model_id="sonic-2", transcript="Async bytes.", output_format=S16,
                                  voice={"mode": "id", "id": voice.id})
            out["bytes"] = sum([len(c) async for c in chunks])
            ws = await ac.tts.websocket()
            ctx = ws.context("custom")
            await ctx.send(model_id="sonic-2", transcript="A custom voice in a context. ", output_format=S16,
                           voice={"mode": "id", "id": voice.id}, continue_=True)
            await ctx.no_more_inputs()
            out["context"] = sum([len(o.audio or b"") async for o in ctx.receive()])
            bad = ws.context("bad")
            await bad.send(model_id="sonic-2", transcript="Nobody.", output_format=S16,
                           voice={"mode": "id", "id": "NoSuchVoice00000"})
            try:
                [o async for o in bad.receive()]
                out["bad"] = None
            except Exception as exc:
                out["bad"] = str(exc)
            await ws.close()
            await ac.voices.delete(id=voice.id)
            try:
                await ac.voices.get(id=voice.id)
            except ApiError as exc:
                out["gone"] = exc.status_code
            await ac.close()
        asyncio.run(main())
        """,
    )
    assert values["listed"] and values["bytes"] > 10_000 and values["context"] > 20_000
    assert "not found" in values["bad"]
    assert values["gone"] == 404


def test_embedding_profile_round_trip() -> None:
    """Gender and pitch together set the median F0; reading a profile back gives one canonical pair."""
    profile = profile_from_embedding([0.4, -0.2, 0.3, -0.5] + [0.0] * 188, "en")
    back = embedding_from_profile(profile, "SomeVoiceUid0001")
    assert len(back) == 192 and back[2:4] == pytest.approx([0.3, -0.5], abs=0.01)
    again = profile_from_embedding(back, "en")
    assert again.f0_median_hz == pytest.approx(profile.f0_median_hz, rel=0.01)
    assert again.speech_rate == pytest.approx(profile.speech_rate, rel=0.01)
    assert again.f0_spread_st == pytest.approx(profile.f0_spread_st, rel=0.01)
    low, high = profile_from_embedding([-1.0], "en"), profile_from_embedding([1.0], "en")
    assert round(low.f0_median_hz) == 115 and round(high.f0_median_hz) == 200
    fast, slow = profile_from_embedding([0.0, 0.0, 1.0], "en"), profile_from_embedding([0.0, 0.0, -1.0], "en")
    assert (fast.speech_rate or 0) > (slow.speech_rate or 0)


def test_denoise_lowers_noise_and_keeps_the_tone() -> None:
    rate = 16000
    t = np.arange(rate * 2) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (t % 0.5 < 0.25)  # intermittent, like speech
    noise = np.random.default_rng(1).normal(0, 0.02, t.size)
    clean = denoise(tone + noise, rate)
    assert clean.shape == t.shape
    gaps = t % 0.5 > 0.3
    assert np.std(clean[gaps]) < 0.5 * np.std(noise[gaps])
    kept = np.dot(clean[~gaps], tone[~gaps]) / np.dot(tone[~gaps], tone[~gaps])
    assert 0.8 < kept < 1.1
