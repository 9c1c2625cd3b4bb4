"""Custom voices over HTTP on a live server: create (clone), list, get, update, delete, isolation.

The official 0.6.4 client drives the happy path; raw aiohttp checks status codes, content types and
the error bodies the official client cannot show.
"""

from __future__ import annotations

import io
import itertools
import json
import wave
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from conftest import CORPUS, LiveServer, run_official
from wire import exchange, read_wav, tts_frames

LJ = CORPUS / "en_ljspeech_LJ001-0001.wav"


def url(server: LiveServer, route: str) -> str:
    return f"{server.base_url}{route}"


async def create(
    server: LiveServer, data: bytes, *, key: str | None = None, filename: str = "sample.wav", **fields: str
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("audio_file", data, filename=filename, content_type="audio/wav")
    for name, value in fields.items():
        form.add_field(name, value)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url(server, "voices/"), data=form, headers={"x-api-key": key or server.api_key}) as resp,
    ):
        return resp.status, await resp.json()


async def call(server: LiveServer, method: str, route: str, *, key: str | None = None, **kw: Any) -> tuple[int, str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url(server, route), headers={"x-api-key": key or server.api_key}, **kw) as resp,
    ):
        body = await resp.read()
        return resp.status, resp.headers.get("content-type", ""), json.loads(body) if body else None


@pytest.fixture(scope="module")
def other_key(live_server: LiveServer) -> str:
    """An API key of a second organisation."""
    dd = ("--data-dir", str(live_server.data_dir))
    org = json.loads(live_server.cli("orgs", "create", "voices-other", "--credits", "10000", *dd, "--json").stdout)
    created = live_server.cli("keys", "create", "--org", str(org["id"]), "--name", "t", *dd, "--json")
    key: str = json.loads(created.stdout)["key"]
    return key


def test_official_client_voice_lifecycle(live_server: LiveServer) -> None:
    script = f"""
import asyncio, json, os, gradium
async def main():
    c = gradium.client.GradiumClient(api_key=os.environ["GRADIUM_API_KEY"], base_url=os.environ["GRADIUM_BASE_URL"])
    v = await c.voice_create({str(LJ)!r}, language="en", name="Linda", description="read speech")
    listed = [x["uid"] for x in await c.voice_get()]
    with_catalog = len(await c.voice_get(include_catalog=True))
    got = await c.voice_get(v["uid"])
    updated = await c.voice_update(v["uid"], name="Linda J", language="en")
    tts = await c.tts(setup={{"voice_id": v["uid"], "output_format": "pcm"}}, text="Hello from my cloned voice.")
    deleted = await c.voice_delete(v["uid"])
    after = [x["uid"] for x in await c.voice_get()]
    print("RESULT " + json.dumps(dict(v=v, listed=listed, with_catalog=with_catalog, got=got, updated=updated,
        audio=len(tts.raw_data), words=[w.text for w in tts.text_with_timestamps], deleted=deleted, after=after)))
asyncio.run(main())
"""
    done = run_official(script, live_server)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    voice = result["v"]
    uid = voice["uid"]
    assert len(uid) == 16 and uid.isalnum()
    assert voice["name"] == "Linda" and voice["language"] == "en" and voice["is_catalog"] is False
    assert 180 < voice["profile"]["f0_median_hz"] < 260  # Linda Johnson: a female voice
    assert uid in result["listed"] and result["with_catalog"] >= 239 + 1
    assert result["got"]["description"] == "read speech"
    assert result["updated"]["name"] == "Linda J"
    assert result["audio"] > 48000 * 2 and [w.strip(".") for w in result["words"]] == [
        "Hello", "from", "my", "cloned", "voice"]
    assert result["deleted"] is None and uid not in result["after"]
    assert not list((live_server.data_dir / "voices").rglob(f"{uid}*"))  # the sample went with it


async def test_clone_tts_streams_in_every_format_with_timestamps(live_server: LiveServer) -> None:
    status, voice = await create(live_server, LJ.read_bytes(), name="Linda", language="en")
    assert status == 201 and voice["uid"] and voice["error"] is None
    sample = live_server.data_dir / "voices" / "1" / voice["filename"]
    assert sample.read_bytes() == LJ.read_bytes()
    plain = await exchange(live_server, "speech/tts", tts_frames(
        "One moment please. <break time=\"0.5s\" /> Thank you.", voice_id=voice["uid"], output_format="wav",
        json_config={"temp": 0}))
    assert plain.close_code == 1000 and plain.messages[0]["type"] == "ready"
    samples, rate = read_wav(plain.audio())
    assert rate == 48000 and 2.0 < len(samples) / rate < 6.0
    words = plain.of_type("text")
    assert [w["text"].strip(".") for w in words] == ["One", "moment", "please", "Thank", "you"]
    assert all(a["stop_s"] <= b["start_s"] + 1e-3 for a, b in itertools.pairwise(words))
    opus = await exchange(live_server, "speech/tts", tts_frames("Hello.", voice_id=voice["uid"], output_format="opus"))
    assert opus.audio().startswith(b"OggS")
    await call(live_server, "DELETE", f"voices/{voice['uid']}")
    assert not sample.exists()


async def test_cfg_coef_one_is_the_base_voice_and_two_moves_pitch(live_server: LiveServer) -> None:
    """cfg_coef is the strength of the WORLD transform: clones rendered on the formant voices."""
    from audio_measure import median_f0

    status, voice = await create(live_server, LJ.read_bytes(), name="Linda", language="en")
    assert status == 201
    f0 = {}
    for cfg in (1, 2):
        result = await exchange(live_server, "speech/tts", tts_frames(
            "The weather is lovely today, isn't it?", voice_id=voice["uid"], output_format="pcm_16000",
            model_name="formant", json_config={"temp": 0, "cfg_coef": cfg}))
        f0[cfg] = median_f0(np.frombuffer(result.audio(), dtype=np.int16), 16000)
    reference = voice["profile"]["f0_median_hz"]
    assert abs(f0[2] / reference - 1) < abs(f0[1] / reference - 1)
    assert f0[2] > f0[1] * 1.15  # the female clone speaks clearly higher than its base voice
    await call(live_server, "DELETE", f"voices/{voice['uid']}")


async def test_other_organisations_voice_is_404_everywhere(live_server: LiveServer, other_key: str) -> None:
    status, voice = await create(live_server, LJ.read_bytes(), name="mine", language="en")
    uid = voice["uid"]
    assert (await call(live_server, "GET", f"voices/{uid}", key=other_key))[0] == 404
    assert (await call(live_server, "PUT", f"voices/{uid}", key=other_key, json={"name": "x"}))[0] == 404
    assert (await call(live_server, "DELETE", f"voices/{uid}", key=other_key))[0] == 404
    listed = (await call(live_server, "GET", "voices/?limit=0&include_catalog=0", key=other_key))[2]
    assert uid not in [v["uid"] for v in listed]
    status, _, body = await call(live_server, "POST", "post/speech/tts", key=other_key,
                                 json={"voice_id": uid, "text": "hi", "only_audio": True})
    assert status == 404 and "unknown voice_id" in body["detail"]
    ws = await exchange(live_server, "speech/tts", tts_frames("hi", voice_id=uid), api_key=other_key)
    assert ws.error()["code"] == 1008 and "unknown voice_id" in ws.error()["message"]
    # ... and it still exists for its owner.
    assert (await call(live_server, "GET", f"voices/{uid}"))[0] == 200
    status, content_type, body = await call(live_server, "DELETE", f"voices/{uid}")
    assert status == 204 and content_type.startswith("application/json") and body is None


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "fields", "status", "needle"),
    [
        (b"not audio at all", {}, 400, "unrecognised audio file"),
        (_wav_bytes(np.zeros(16000 * 5, dtype=np.int16), 16000), {}, 400, "silent"),
        (_wav_bytes(np.zeros(16000 * 61, dtype=np.int16) + 1000, 16000), {}, 400, "limit is 60 s"),
        (LJ.read_bytes(), {"language": "xx"}, 400, "unsupported language"),
        (LJ.read_bytes(), {"start_s": "abc"}, 400, "start_s"),
        (LJ.read_bytes(), {"start_s": "9.0"}, 400, "less than 2 s"),
        (LJ.read_bytes(), {"input_format": "aiff"}, 400, "unsupported input_format"),
        (b"RIFF" + b"\0" * (10 * 1024 * 1024), {}, 413, "larger than 10 MB"),
    ],
    ids=["garbage", "silence", "too-long", "language", "start-nan", "start-late", "format", "too-big"],
)
async def test_bad_uploads_get_a_clear_json_error(
    live_server: LiveServer, data: bytes, fields: dict[str, str], status: int, needle: str
) -> None:
    got_status, body = await create(live_server, data, name="bad", **fields)
    assert got_status == status and needle in body["detail"], body


async def test_update_start_s_reanalyses_and_catalog_voices_are_read_only(live_server: LiveServer) -> None:
    status, voice = await create(live_server, LJ.read_bytes(), name="Linda")
    assert status == 201 and voice["language"] == "en"  # pre-0.6.4 clients send no language
    status, _, updated = await call(live_server, "PUT", f"voices/{voice['uid']}", json={"start_s": 2.0})
    assert status == 200 and updated["start_s"] == 2.0 and updated["profile"] != voice["profile"]
    status, _, body = await call(live_server, "PUT", f"voices/{voice['uid']}", json={"start_s": 30.0})
    assert status == 400 and "start_s" in body["detail"]
    assert (await call(live_server, "PUT", "voices/YTpq7expH9539ERJ", json={"name": "x"}))[0] == 403
    assert (await call(live_server, "DELETE", "voices/YTpq7expH9539ERJ"))[0] == 403
    assert (await call(live_server, "GET", "voices/YTpq7expH9539ERJ"))[2]["is_catalog"] is True
    await call(live_server, "DELETE", f"voices/{voice['uid']}")


def test_store_cleans_up_sample_when_the_row_fails(tmp_path: Path) -> None:
    from gradium.accounts import AccountStore

    store = AccountStore(tmp_path)
    store.migrate()
    with pytest.raises(Exception):  # noqa: B017 - no such organisation: the foreign key fails
        store.create_voice(999, name="x", language="en", audio=b"RIFF", extension="wav")
    assert not list((tmp_path / "voices").rglob("*.wav"))
    store.close()
