"""The OpenAI audio API driven by the real ``openai`` Python SDK (its own virtualenv, like the
official clients), against the real server."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest

from conftest import CORPUS, REPO, LiveServer

OPENAI_PYTHON = Path(os.environ.get("GRADIUM_OPENAI_PYTHON", REPO / ".peers" / "openai" / "bin" / "python"))
JFK = CORPUS / "en_jfk.flac"  # "And so, my fellow Americans, ask not what your country can do for you, ..."
SENTENCE = "Hello from the OpenAI route of a self-hosted server."

PRELUDE = """
import base64, json, os, sys
import openai
from openai import OpenAI
client = OpenAI(api_key=os.environ["GRADIUM_API_KEY"], base_url=os.environ["OPENAI_BASE_URL"], max_retries=0)
out = {}
def error_of(call):
    try:
        call()
    except openai.APIStatusError as exc:
        return {"status": exc.status_code, "body": exc.body, "class": type(exc).__name__}
    return None
"""


def run_openai(script: str, server: LiveServer, timeout: float = 240) -> dict[str, Any]:
    if not OPENAI_PYTHON.exists():
        pytest.fail(f"the openai SDK is not installed at {OPENAI_PYTHON} (run scripts/test.sh)")
    env = {**server.env(), "PYTHONPATH": "", "OPENAI_BASE_URL": f"{server.root_url}/v1"}
    done = subprocess.run(
        [str(OPENAI_PYTHON), "-c", PRELUDE + script + '\nprint("RESULT " + json.dumps(out))\n'],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate


async def credits(server: LiveServer) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.base_url + "usages/credits", headers={"x-api-key": server.api_key}) as response,
    ):
        return int((await response.json())["remaining"])


def test_speech_in_every_format(live_server: LiveServer, tmp_path: Path) -> None:
    script = f"""
for fmt in ["mp3", "opus", "aac", "flac", "wav", "pcm"]:
    response = client.audio.speech.create(
        model="tts-1", voice="nova", input={SENTENCE!r}, response_format=fmt
    )
    path = os.path.join({str(tmp_path)!r}, "speech." + fmt)
    open(path, "wb").write(response.content)
    out[fmt] = response.response.headers["content-type"]
"""
    types = run_openai(script, live_server)
    assert types == {
        "mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
        "wav": "audio/wav", "pcm": "audio/pcm",
    }  # fmt: skip
    pcm = np.frombuffer((tmp_path / "speech.pcm").read_bytes(), dtype="<i2")
    seconds = pcm.size / 24000
    assert 1.5 < seconds < 8 and np.abs(pcm).max() > 1000
    for fmt in ("mp3", "opus", "aac", "flac", "wav"):
        assert abs(decoded_seconds((tmp_path / f"speech.{fmt}").read_bytes()) - seconds) < 0.3, fmt


async def test_speech_streams_and_bills_characters(live_server: LiveServer) -> None:
    before = await credits(live_server)
    script = f"""
import time
started = time.monotonic()
arrivals = []
with client.audio.speech.with_streaming_response.create(
    model="gpt-4o-mini-tts", voice="onyx", input={(SENTENCE + " ") * 4!r}, response_format="pcm", speed=1.25
) as response:
    for chunk in response.iter_bytes():
        arrivals.append((time.monotonic() - started, len(chunk)))
out["arrivals"] = arrivals
events = []
with client.audio.speech.with_streaming_response.create(
    model="tts-1", voice="alloy", input="Short one.", response_format="mp3",
    extra_body={{"stream_format": "sse"}},
) as response:
    out["sse_type"] = response.headers["content-type"]
    for line in response.iter_lines():
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
out["sse"] = [(e["type"], len(e.get("audio", ""))) for e in events]
out["sse_usage"] = events[-1].get("usage")
"""
    result = run_openai(script, live_server)
    arrivals = result["arrivals"]
    total = sum(n for _, n in arrivals)
    # Streamed as made: the first bytes come well before the last (four sentences rendered in turn).
    assert len(arrivals) > 3 and arrivals[0][0] < arrivals[-1][0] - 0.5, arrivals
    assert total / 2 / 24000 > 4
    assert result["sse_type"].startswith("text/event-stream")
    kinds = [kind for kind, _ in result["sse"]]
    assert kinds[-1] == "speech.audio.done" and kinds.count("speech.audio.delta") >= 1
    assert result["sse_usage"]["input_tokens"] == len("Short one.")
    spent = before - await credits(live_server)
    assert spent == len(((SENTENCE + " ") * 4).strip()) + len("Short one.")  # 1 credit a character


def test_transcriptions_in_every_format(live_server: LiveServer) -> None:
    script = f"""
def create(**kw):
    with open({str(JFK)!r}, "rb") as f:
        return client.audio.transcriptions.create(model="whisper-1", file=f, **kw)
out["json"] = create().text
out["text"] = create(response_format="text")
out["srt"] = create(response_format="srt")
out["vtt"] = create(response_format="vtt")
verbose = create(response_format="verbose_json", timestamp_granularities=["word", "segment"], language="en")
out["verbose"] = verbose.model_dump()
deltas, done = [], None
with open({str(JFK)!r}, "rb") as f:
    for event in client.audio.transcriptions.create(model="gpt-4o-transcribe", file=f, stream=True):
        if event.type == "transcript.text.delta":
            deltas.append(event.delta)
        elif event.type == "transcript.text.done":
            done = event.text
out["stream"] = {{"deltas": deltas, "done": done}}
"""
    result = run_openai(script, live_server)
    text = result["json"].lower()
    assert "fellow americans" in text and "country" in text, text
    assert result["text"].strip().lower() == text.strip()
    assert result["srt"].startswith("1\n00:00:0") and " --> " in result["srt"] and "," in result["srt"]
    assert result["vtt"].startswith("WEBVTT\n\n00:00:0") and "." in result["vtt"].split("\n")[2]
    verbose = result["verbose"]
    assert verbose["language"] == "english" and 10 < verbose["duration"] < 12
    words = verbose["words"]
    assert len(words) == len(verbose["text"].split()) and words[0]["start"] < words[-1]["end"]
    assert all(a["start"] <= b["start"] for a, b in itertools.pairwise(words))
    assert verbose["segments"] and verbose["segments"][0]["start"] <= words[0]["start"] + 0.01
    stream = result["stream"]
    assert len(stream["deltas"]) > 5 and "".join(stream["deltas"]) == stream["done"]
    assert "americans" in stream["done"].lower()


def test_models_errors_and_keys(live_server: LiveServer) -> None:
    script = """
out["models"] = [m.id for m in client.models.list()]
def speak(**kw):
    return client.audio.speech.create(model="tts-1", input="Hi", **kw)
out["bad_voice"] = error_of(lambda: speak(voice="nobody-here"))
out["bad_format"] = error_of(lambda: speak(voice="echo", response_format="ogg"))
out["bad_speed"] = error_of(lambda: speak(voice="echo", speed=9))
out["catalog_voice"] = len(speak(voice="Emma", response_format="pcm").content)
wrong = OpenAI(api_key="gd_wrong", base_url=os.environ["OPENAI_BASE_URL"], max_retries=0)
out["bad_key"] = error_of(lambda: wrong.models.list())
junk = ("x.wav", b"not audio at all" * 100)
out["not_audio"] = error_of(lambda: client.audio.transcriptions.create(model="whisper-1", file=junk))
"""
    result = run_openai(script, live_server)
    assert {"tts-1", "gpt-4o-mini-tts", "whisper-1", "gpt-4o-transcribe"} <= set(result["models"])
    for name in ("bad_voice", "bad_format", "bad_speed", "not_audio"):
        error = result[name]
        assert error["status"] == 400 and error["class"] == "BadRequestError", (name, error)
        assert error["body"]["message"]  # the SDK's body is the "error" object
    assert "nobody-here" in result["bad_voice"]["body"]["message"]
    assert result["bad_voice"]["body"]["param"] == "voice"
    assert result["bad_key"]["status"] == 401 and result["bad_key"]["class"] == "AuthenticationError"
    assert result["catalog_voice"] > 24000


async def test_http_errors_carry_detail_and_keys_stay_out_of_the_log(live_server: LiveServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{live_server.root_url}/v1/audio/speech",
            json={"model": "tts-1", "input": "Hi", "voice": "nobody-here"},
            headers={"Authorization": f"Bearer {live_server.api_key}"},
        ) as response,
    ):
        body = await response.json()
    assert response.status == 400
    assert body["detail"] == body["error"]["message"] and "nobody-here" in body["detail"]
    log = live_server.log()
    assert "protocol error protocol=openai route=/v1/audio/speech" in log
    # The key is printed once at the first start (the operator must see it), and never logged.
    assert live_server.api_key not in log.replace(f"store it now): {live_server.api_key}", "")


def test_translation_to_english(live_server: LiveServer) -> None:
    french = CORPUS / "fr_fleurs_005.wav"  # "giancarlo fisichella a perdu le contrôle de sa voiture ..."
    script = f"""
with open({str(french)!r}, "rb") as f:
    out["text"] = client.audio.translations.create(model="whisper-1", file=f).text
with open({str(french)!r}, "rb") as f:
    verbose = client.audio.translations.create(model="whisper-1", file=f, response_format="verbose_json")
out["verbose"] = verbose.model_dump()
"""
    result = run_openai(script, live_server)
    text = result["text"].lower()
    # Whisper base: "jean-carlos fittiela lost his car and finished the race after the race."
    assert {"lost", "car", "race"} <= set(text.replace(".", " ").split()) and "voiture" not in text, text
    assert result["verbose"]["task"] == "translate" and result["verbose"]["language"] == "english"


async def test_credits_running_out(tmp_path: Path) -> None:
    """No credits: 402 before any audio. Credits that run out mid-text: the audio of what was paid
    stops there (the status was already sent), and SSE ends with an error event."""
    from conftest import start_server, stop_server

    server = start_server(tmp_path, "--initial-credits", "60")
    text = "This first sentence fits. But this second sentence is well beyond the remaining credit."
    url = f"{server.root_url}/v1/audio/speech"
    headers = {"Authorization": f"Bearer {server.api_key}"}
    try:
        async with aiohttp.ClientSession() as session:
            body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"}
            async with session.post(url, json=body, headers=headers) as response:
                assert response.status == 200
                audio = await response.read()
            async with session.post(url, json={**body, "stream_format": "sse"}, headers=headers) as response:
                lines = (await response.text()).splitlines()
            events = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
            body["input"] = "Incomprehensibilities are expensive words."  # more than what is left
            async with session.post(url, json=body, headers=headers) as response:
                assert response.status == 402
                error = await response.json()
        assert 0.5 < len(audio) / 2 / 24000 < 3  # "This first sentence fits." and no more
        assert events[-1]["type"] == "error" and "credits" in events[-1]["error"]["message"]
        assert "insufficient credits" in error["detail"] and error["error"]["type"] == "insufficient_quota"
    finally:
        stop_server(server)
    assert "Traceback" not in server.log()
