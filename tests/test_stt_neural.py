"""The neural STT engine (Whisper + Silero VAD) through the real server, on real corpus recordings.

Covers the five languages over Gradium ``speech/asr`` (our wire client and the official client) and
Cartesia's streaming and batch routes, interim/final semantics, the end-of-turn signal, language
detection, engine selection by ``model_name``, and no text from silence, noise or tones.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import numpy as np

from conftest import CORPUS, LiveServer, run_official
from stt_corpus import LANGUAGE_SAMPLES, Clip, all_clips, corpus_clips, wer
from wire import audio_frames, exchange

MAX_WER = 0.35  # per clip; the benchmark reports the corpus figures (README)


def clip_named(name: str) -> Clip:
    return next(c for c in all_clips() if c.name == name)


def texts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "text"]


def check_words(clip: Clip, messages: list[dict[str, Any]], language: str) -> None:
    words = texts(messages)
    transcript = " ".join(str(w["text"]) for w in words)
    assert wer(clip.transcript, transcript, language) < MAX_WER, (clip.name, transcript)
    starts = [float(w["start_s"]) for w in words]
    assert starts == sorted(starts)
    assert all(0 <= float(w["start_s"]) <= float(w["stop_s"]) <= clip.duration_s + 1.1 for w in words)
    assert all(w["text"] == str(w["text"]).strip() and w["text"] for w in words)


async def test_five_languages_over_gradium_websocket(live_server: LiveServer) -> None:
    clips = corpus_clips()

    async def transcribe(clip: Clip) -> list[dict[str, Any]]:
        frames = audio_frames(
            clip.data, input_format=clip.input_format, json_config={"language": clip.language}
        )
        result = await exchange(live_server, "speech/asr", frames, timeout=180)
        assert result.messages[-1]["type"] == "end_of_stream" and result.close_code == 1000
        assert len(result.of_type("end_text")) == len(texts(result.messages))
        return result.messages

    results = await asyncio.gather(*(transcribe(clip) for clip in clips))
    for clip, messages in zip(clips, results, strict=True):
        check_words(clip, messages, clip.language)


async def test_language_is_detected_when_omitted_or_any(live_server: LiveServer) -> None:
    spanish, german = clip_named("es_fleurs_004.wav"), clip_named("de_fleurs_002.wav")
    omitted = exchange(live_server, "speech/asr", audio_frames(spanish.data, input_format="wav"), timeout=180)
    frames = audio_frames(german.data, input_format="wav", json_config={"language": "any"})
    anything = exchange(live_server, "speech/asr", frames, timeout=180)
    es_result, de_result = await asyncio.gather(omitted, anything)
    check_words(spanish, es_result.messages, "es")
    check_words(german, de_result.messages, "de")


async def test_real_time_stream_commits_words_early_and_ends_the_turn(live_server: LiveServer) -> None:
    """80 ms chunks at real-time pace, then 2 s of silence: the first words arrive while the speaker
    is still talking, and the 2 s horizon passes 0.9 within 1 s of silence after the sentence."""
    clip = clip_named("en_librivox_ss_0920.wav")  # 6 s, one sentence
    pcm = np.frombuffer(clip.data[44:], dtype="<i2")
    pcm = np.concatenate([pcm, np.zeros(32000, dtype=np.int16)]).tobytes()
    received: list[tuple[float, dict[str, Any]]] = []
    loop = asyncio.get_running_loop()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"ws://{live_server.host}:{live_server.port}/api/speech/asr",
            headers={"x-api-key": live_server.api_key},
        ) as ws,
    ):

        async def read() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    received.append((loop.time(), json.loads(msg.data)))

        reader = asyncio.ensure_future(read())
        setup = {"type": "setup", "input_format": "pcm_16000", "json_config": {"language": "en"}}
        await ws.send_str(json.dumps(setup))
        started = loop.time()
        for i, start in enumerate(range(0, len(pcm), 2560)):  # 80 ms at 16 kHz
            chunk = base64.b64encode(pcm[start : start + 2560]).decode()
            await ws.send_str(json.dumps({"type": "audio", "audio": chunk}))
            await asyncio.sleep(max(0.0, started + (i + 1) * 0.08 - loop.time()))
        await ws.send_str(json.dumps({"type": "end_of_stream"}))
        await asyncio.wait_for(reader, 60)
    speech_end = clip.duration_s
    words = [(t - started, m) for t, m in received if m["type"] == "text"]
    assert words and words[0][0] < speech_end, "no word was committed while the speaker talked"
    assert wer(clip.transcript, " ".join(m["text"] for _, m in words)) < MAX_WER
    last_word_end = max(float(m["stop_s"]) for _, m in words)
    steps = [m for _, m in received if m["type"] == "step"]
    during = [
        s["vad"][2]["inactivity_prob"] for s in steps if 1.0 < s["total_duration_s"] < last_word_end - 0.5
    ]
    assert max(during) < 0.5
    ended = [s["total_duration_s"] for s in steps if s["vad"][2]["inactivity_prob"] >= 0.9]
    assert ended and min(ended) - last_word_end <= 1.0, (last_word_end, ended[:3])


async def test_silence_noise_and_tones_give_no_text(live_server: LiveServer) -> None:
    rng = np.random.default_rng(7)
    rate = 16000
    t = np.arange(rate * 6) / rate
    tones = 0.3 * np.sin(2 * np.pi * (220 + 110 * np.floor(t * 2)) * t)  # a little melody
    signals = {
        "silence": np.zeros(rate * 6),
        "white noise": rng.normal(0, 0.1, rate * 6),
        "tones": tones,
    }

    async def run(signal: np.ndarray) -> list[dict[str, Any]]:
        pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()
        frames = audio_frames(pcm, input_format="pcm_16000", json_config={"language": "en"})
        return (await exchange(live_server, "speech/asr", frames, timeout=120)).messages

    results = await asyncio.gather(*(run(s) for s in signals.values()))
    for name, messages in zip(signals, results, strict=True):
        assert texts(messages) == [], (name, texts(messages))
        assert messages[-1]["type"] == "end_of_stream"


async def test_model_name_selects_the_engine_and_bad_languages_are_refused(live_server: LiveServer) -> None:
    clip = clip_named("en_goforward.raw")
    frames = audio_frames(clip.data, input_format="pcm_16000", model_name="pocketsphinx")
    small = await exchange(live_server, "speech/asr", frames)
    assert [m["text"] for m in texts(small.messages)] == ["go", "forward", "ten", "meters"]

    for setup, needle in [
        ({"json_config": {"language": "ja"}}, "installed: en, fr, de, es, pt"),
        ({"model_name": "pocketsphinx", "json_config": {"language": "fr"}}, "installed: en"),
        ({"model_name": "whisper-huge"}, "model_name"),
    ]:
        frames = [{"type": "setup", "input_format": "pcm", **setup}]
        result = await exchange(live_server, "speech/asr", frames)
        assert needle in result.error()["message"] and result.close_code == 1008


async def test_cartesia_streaming_gives_interim_then_final_per_utterance(live_server: LiveServer) -> None:
    clip = clip_named("fr_fleurs_005.wav")
    pcm = np.frombuffer(clip.data[44:], dtype="<i2").tobytes()
    frames: list[Any] = [pcm[i : i + 3200] for i in range(0, len(pcm), 3200)]
    frames.append("done")
    query = "model=ink-whisper&language=fr&encoding=pcm_s16le&sample_rate=16000"
    messages: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"ws://{live_server.host}:{live_server.port}/stt/websocket?{query}",
            headers={"X-API-Key": live_server.api_key, "Cartesia-Version": "2025-04-16"},
        ) as ws,
    ):
        for frame in frames:
            await (ws.send_str(frame) if isinstance(frame, str) else ws.send_bytes(frame))
            await asyncio.sleep(0.05)  # faster than real time, slow enough for partial passes
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                messages.append(json.loads(msg.data))
    transcripts = [m for m in messages if m["type"] == "transcript"]
    interim = [m for m in transcripts if not m["is_final"]]
    final = [m for m in transcripts if m["is_final"]]
    assert interim and final, [m["type"] for m in messages]
    assert transcripts.index(interim[0]) < transcripts.index(final[0])
    text = " ".join(m["text"] for m in final)
    assert wer(clip.transcript, text, "fr") < MAX_WER, text
    assert all(m["language"] == "fr" and "words" in m for m in final)
    assert messages[-1]["type"] == "done"


async def test_cartesia_batch_in_spanish(live_server: LiveServer) -> None:
    clip = clip_named("es_fleurs_004.wav")
    form = aiohttp.FormData()
    form.add_field("file", clip.data, filename="clip.wav", content_type="audio/wav")
    form.add_field("model", "ink-whisper")
    form.add_field("language", "es")
    form.add_field("timestamp_granularities[]", "word")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://{live_server.host}:{live_server.port}/stt",
            data=form,
            headers={"X-API-Key": live_server.api_key, "Cartesia-Version": "2025-04-16"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        body = await response.json()
    assert wer(clip.transcript, body["text"], "es") < MAX_WER, body["text"]
    assert body["is_final"] and body["language"] == "es"
    starts = [w["start"] for w in body["words"]]
    assert starts == sorted(starts) and len(body["words"]) == len(body["text"].split())


def test_official_client_transcribes_german_and_portuguese(live_server: LiveServer) -> None:
    german, portuguese = clip_named(LANGUAGE_SAMPLES[2]), clip_named(LANGUAGE_SAMPLES[4])
    jobs = [(str(CORPUS / german.name), "de"), (str(CORPUS / portuguese.name), "pt")]
    script = f"""
import asyncio, json, os
import gradium
client = gradium.client.GradiumClient(api_key=os.environ["GRADIUM_API_KEY"], base_url=os.environ["GRADIUM_BASE_URL"])
async def main():
    out = {{}}
    for path, language in {json.dumps(jobs)}:
        result = await client.stt(setup={{"model_name": "default", "input_format": "wav",
                                          "json_config": {{"language": language}}}}, audio=open(path, "rb").read())
        out[language] = result.text
    print("RESULT " + json.dumps(out))
asyncio.run(main())
"""
    done = run_official(script, live_server, timeout=240)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    values = json.loads(line.removeprefix("RESULT "))
    assert wer(german.transcript, values["de"], "de") < MAX_WER, values
    assert wer(portuguese.transcript, values["pt"], "pt") < MAX_WER, values
