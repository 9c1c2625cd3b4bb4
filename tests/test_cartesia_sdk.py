"""Every method of the Cartesia SDK reference, run by the unmodified ``cartesia==2.0.17`` SDK.

Each test is one subprocess in the official clients' virtualenv that batches many calls and prints
one ``RESULT`` line. The base URL says ``localhost`` because the SDK picks plain ``ws://`` only
when that word is in the URL (protocol sheet §1).
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from conftest import CORPUS, LiveServer, official_results

PRELUDE = """
import asyncio, base64, io, json, os, time, wave
import httpx
from cartesia import AsyncCartesia, Cartesia
from cartesia.core.api_error import ApiError
KEY = os.environ["GRADIUM_API_KEY"]
BASE = os.environ["GRADIUM_BASE_URL"].replace("127.0.0.1", "localhost").removesuffix("/api/")
CORPUS = {corpus!r}
VOICE = {{"mode": "id", "id": "YTpq7expH9539ERJ"}}
F32 = {{"container": "raw", "encoding": "pcm_f32le", "sample_rate": 44100}}
S16 = {{"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}}
client = Cartesia(api_key=KEY, base_url=BASE)
out = {{}}
def credits():
    r = httpx.get(BASE + "/api/usages/credits", headers={{"x-api-key": KEY}})
    return r.json()["remaining_credits"]
def error_of(call):
    try:
        result = call()
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str, dict)):
            list(result)
    except ApiError as exc:
        return [exc.status_code, exc.body]
    except Exception as exc:
        return [type(exc).__name__, str(exc)]
    return None
"""


def run(server: LiveServer, body: str, timeout: float = 120) -> dict[str, Any]:
    script = PRELUDE.format(corpus=str(CORPUS) + "/") + textwrap.dedent(body)
    return official_results(script, server, timeout=timeout)


def test_status_tokens_and_tts_http(live_server: LiveServer) -> None:
    values = run(
        live_server,
        """
        out["status"] = client.api_status.get().dict()
        out["slash_status"] = Cartesia(api_key=KEY, base_url=BASE + "/").api_status.get().ok
        token = client.auth.access_token(grants={"stt": True}, expires_in=60).token
        tts_token = client.auth.access_token(grants={"tts": True}).token
        sizes = {}
        for container, encoding, rate in [("raw", "pcm_f32le", 44100), ("raw", "pcm_s16le", 8000),
                                          ("raw", "pcm_mulaw", 8000), ("raw", "pcm_alaw", 16000),
                                          ("wav", "pcm_s16le", 24000), ("wav", "pcm_f32le", 48000),
                                          ("raw", "pcm_s16le", 22050)]:
            fmt = {"container": container, "encoding": encoding, "sample_rate": rate}
            data = b"".join(client.tts.bytes(model_id="sonic-2", transcript="Hello, world!", voice=VOICE,
                                             language="en", output_format=fmt))
            sizes[f"{container}_{encoding}_{rate}"] = len(data)
            if container == "wav":
                with wave.open(io.BytesIO(data)) if encoding == "pcm_s16le" else io.BytesIO() as w:
                    if encoding == "pcm_s16le":
                        out["wav_frames"] = [w.getframerate(), w.getnframes()]
        out["sizes"] = sizes
        mp3 = b"".join(client.tts.bytes(model_id="sonic-2", transcript="Hello, world!", voice=VOICE,
                                        output_format={"container": "mp3", "sample_rate": 44100, "bit_rate": 128000}))
        out["mp3_head"] = mp3[:3].hex()
        before = credits()
        capped = b"".join(client.tts.bytes(model_id="sonic-2", transcript="A longer sentence that runs for a while.",
                                           voice=VOICE, output_format=S16, duration=0.5, speed="fast",
                                           generation_config={"volume": 1.2, "speed": 1.1, "emotion": "calm"},
                                           pronunciation_dict_id=None))
        out["capped_bytes"] = len(capped)
        out["charged"] = before - credits()
        events = list(client.tts.sse(model_id="sonic-2", transcript="Hello, world! How are you?", voice=VOICE,
                                     language="en", output_format=S16, add_timestamps=True,
                                     add_phoneme_timestamps=True, context_id="sse-1"))
        out["sse_types"] = sorted({e.type for e in events})
        out["sse_last"] = events[-1].type
        out["sse_words"] = [w for e in events if e.type == "timestamps" for w in e.word_timestamps.words]
        out["sse_phonemes"] = [p for e in events if e.type == "phoneme_timestamps"
                               for p in e.phoneme_timestamps.phonemes]
        out["sse_audio"] = sum(len(base64.b64decode(e.data)) for e in events if e.type == "chunk")
        out["sse_context"] = {e.context_id for e in events} == {"sse-1"}
        french = list(client.tts.sse(model_id="sonic-2", transcript="Bonjour, à demain.", language="fr",
                                     voice={"mode": "id", "id": "b35yykvVppLXyw_l"}, output_format=S16,
                                     add_phoneme_timestamps=True))
        out["phonemes"] = [list(zip(e.phoneme_timestamps.phonemes, e.phoneme_timestamps.start,
                                    e.phoneme_timestamps.end)) for e in french if e.type == "phoneme_timestamps"]
        speech = lambda c, **kw: c.tts.bytes(model_id="sonic-2", transcript="Hi", voice=kw.get("voice", VOICE),
                                             output_format=kw.get("fmt", S16))
        out["errors"] = {
            "bad_key": error_of(lambda: speech(Cartesia(api_key="gd_wrong", base_url=BASE))),
            "no_grant": error_of(lambda: speech(Cartesia(api_key=token, base_url=BASE))),
            "forged": error_of(lambda: speech(Cartesia(api_key=tts_token[:-4] + "AAAA", base_url=BASE))),
            "unknown_voice": error_of(lambda: speech(client, voice={"mode": "id", "id": "nope"})),
            "bad_format": error_of(lambda: speech(client, fmt={"container": "ogg", "sample_rate": 16000})),
            "bad_rate": error_of(lambda: speech(client, fmt={**S16, "sample_rate": 12345})),
            "sse_wav": error_of(lambda: client.tts.sse(model_id="sonic-2", transcript="x", voice=VOICE,
                                 output_format={"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000})),
            "token_voices": error_of(lambda: Cartesia(api_key=tts_token, base_url=BASE).voices.list()),
        }
        out["token_tts"] = len(b"".join(speech(Cartesia(api_key=tts_token, base_url=BASE))))
        """,
    )
    assert values["status"]["ok"] is True and values["status"]["version"] and values["slash_status"]
    sizes = values["sizes"]
    assert all(size > 1000 for size in sizes.values())
    # Same speech in every format (prosody varies a little per request, hence the tolerance).
    seconds = sizes["raw_pcm_f32le_44100"] / (44100 * 4)
    assert sizes["raw_pcm_s16le_8000"] / (8000 * 2) == pytest.approx(seconds, rel=0.15)
    assert values["wav_frames"][0] == 24000 and values["wav_frames"][1] > 10_000
    assert values["mp3_head"].startswith("fffb") or values["mp3_head"].startswith("494433")
    assert values["capped_bytes"] == 16000  # 0.5 s of 16 kHz s16le
    assert values["charged"] == len("A longer sentence that runs for a while.")
    assert values["sse_types"] == ["chunk", "done", "phoneme_timestamps", "timestamps"]
    assert values["sse_last"] == "done" and values["sse_context"] and values["sse_audio"] > 10_000
    assert values["sse_words"] == ["Hello", "world", "How", "are", "you"]
    assert "ə" in values["sse_phonemes"] and "w" in values["sse_phonemes"]  # "Hello, world", in IPA
    # espeak-ng's own phonemes, in IPA, with their own times: "Bonjour" is b ɔ̃ ʒ u ʁ.
    phonemes = [p for piece in values["phonemes"] for p in piece]
    names = "".join(name for name, _, _ in phonemes)
    assert "ɔ̃" in names and "ʒ" in names and "ʁ" in names, phonemes
    assert all(start < end for _, start, end in phonemes)
    assert [start for _, start, _ in phonemes] == sorted(start for _, start, _ in phonemes)
    errors = values["errors"]
    assert errors["bad_key"][0] == 401 and errors["forged"][0] == 401
    assert errors["no_grant"][0] == 403 and errors["token_voices"][0] == 403
    assert errors["unknown_voice"][0] == 404
    assert errors["bad_format"][0] == 400 and errors["bad_rate"][0] == 400 and errors["sse_wav"][0] == 400
    assert values["token_tts"] > 1000


def test_tts_and_stt_websockets_sync(live_server: LiveServer) -> None:
    values = run(
        live_server,
        """
        ws = client.tts.websocket()
        result = ws.send(model_id="sonic-2", transcript="Hello there, websocket.", voice=VOICE, output_format=S16,
                         stream=False, add_timestamps=True)
        out["send"] = [len(result.audio), result.word_timestamps.words]
        def pieces():
            yield from ["Hel", "lo ", "wor", "ld, how are you ", "doing today?"]
        words, audio = [], 0
        for chunk in ws.context("sync-ctx").send(model_id="sonic-2", transcript=pieces(), voice=VOICE,
                                                 output_format=F32, add_timestamps=True):
            audio += len(chunk.audio or b"")
            words += chunk.word_timestamps.words if chunk.word_timestamps else []
        out["context"] = [audio, words]
        out["ws_error"] = error_of(lambda: ws.send(model_id="sonic-2", transcript="x", voice={"mode": "id", "id": "nope"},
                                                   output_format=S16, stream=False))
        ws.close()
        raw = open(CORPUS + "en_goforward.raw", "rb").read()
        stt = client.stt.websocket(model="ink-whisper", language="en", encoding="pcm_s16le", sample_rate=16000)
        messages = list(stt.transcribe([raw[i:i + 3200] for i in range(0, len(raw), 3200)]))
        out["stt_types"] = [m["type"] for m in messages]
        out["stt_text"] = " ".join(m["text"] for m in messages if m["type"] == "transcript" and m["is_final"])
        out["stt_ids"] = len({m["request_id"] for m in messages})
        out["bad_ws"] = error_of(lambda: Cartesia(api_key="gd_wrong", base_url=BASE).tts.websocket())
        bad_stt = client.stt.websocket(model="ink-whisper", language="ja", encoding="pcm_s16le", sample_rate=16000)
        out["stt_language_error"] = error_of(lambda: list(bad_stt.receive()))
        # Close explicitly: the SDK's __del__ close can hang at interpreter exit (daemon threads frozen).
        bad_stt.close()
        """,
    )
    audio, words = values["send"]
    assert audio > 10_000 and words == ["Hello", "there", "websocket"]
    audio, words = values["context"]
    assert audio > 50_000 and words == ["Hello", "world", "how", "are", "you", "doing", "today"]
    assert "not found" in values["ws_error"][1]
    assert values["stt_types"][-2:] == ["flush_done", "done"] and values["stt_ids"] == 1
    assert values["stt_text"].lower().strip(".") == "go forward 10 meters"
    assert "401" in values["bad_ws"][1]
    assert "installed: en, fr, de, es, pt" in values["stt_language_error"][1]


def test_async_client_flush_interleave_cancel(live_server: LiveServer) -> None:
    values = run(
        live_server,
        """
        async def main():
            ac = AsyncCartesia(api_key=KEY, base_url=BASE)
            out["status"] = (await ac.api_status.get()).ok
            out["token"] = bool((await ac.auth.access_token(grants={"tts": True}, expires_in=30)).token)
            out["bytes"] = sum([len(c) async for c in ac.tts.bytes(model_id="sonic-2", transcript="Hi async.",
                                                                  voice=VOICE, output_format=F32)])
            out["sse"] = [e.type async for e in ac.tts.sse(model_id="sonic-2", transcript="Hi.", voice=VOICE,
                                                           output_format=S16, add_timestamps=True)]
            ws = await ac.tts.websocket()
            ctx = ws.context("flushing")
            await ctx.send(model_id="sonic-2", transcript="First part of the text. ", voice=VOICE,
                           output_format=F32, continue_=True)
            first = await ctx.flush()
            before = sum([len(o.audio or b"") async for o in first()])
            await ctx.send(model_id="sonic-2", transcript="Second part.", voice=VOICE, output_format=F32,
                           continue_=True)
            await ctx.no_more_inputs()
            after = sum([len(o.audio or b"") async for o in ctx.receive()])
            out["flush"] = [before, after]
            a, b = ws.context("A"), ws.context("B")
            await a.send(model_id="sonic-2", transcript="Context A speaks. ", voice=VOICE, output_format=F32,
                         continue_=True)
            await b.send(model_id="sonic-2", transcript="Context B speaks too.", voice=VOICE, output_format=F32)
            await a.send(model_id="sonic-2", transcript="And A ends.", voice=VOICE, output_format=F32)
            async def drain(ctx):
                return sum([len(o.audio or b"") async for o in ctx.receive()])
            out["interleaved"] = await asyncio.gather(drain(a), drain(b))
            c = ws.context("C")
            await c.send(model_id="sonic-2", transcript="This is going to be cancelled. " * 20, voice=VOICE,
                         output_format=F32, continue_=True)
            await c.cancel()
            result = await ws.send(model_id="sonic-2", transcript="After cancel.", voice=VOICE,
                                   output_format=F32, stream=False, add_timestamps=True)
            out["after_cancel"] = [len(result.audio), result.word_timestamps.words]
            await ws.close()
            raw = open(CORPUS + "en_goforward.raw", "rb").read()
            stt = await ac.stt.websocket(model="ink-whisper", language="en", encoding="pcm_s16le",
                                         sample_rate=16000)
            for i in range(0, len(raw), 3200):
                await stt.send(raw[i:i + 3200])
            await stt.send("finalize")
            await stt.send("done")
            messages = [m async for m in stt.receive()]
            out["stt"] = [m["type"] for m in messages][-2:]
            await stt.close()
            result = await ac.stt.transcribe(file=open(CORPUS + "en_cards_005.wav", "rb"), model="ink-whisper",
                                             timestamp_granularities=["word"])
            out["transcribe"] = [result.text, len(result.words or [])]
            pager = await ac.voices.list(limit=50)
            out["voices"] = len([v async for v in pager])
            await ac.close()
        asyncio.run(main())
        """,
    )
    assert values["status"] and values["token"] and values["bytes"] > 10_000
    assert values["sse"][-1] == "done" and "timestamps" in values["sse"]
    before, after = values["flush"]
    assert before > 50_000 and after > 20_000
    assert all(n > 50_000 for n in values["interleaved"])
    assert values["after_cancel"][0] > 10_000 and values["after_cancel"][1] == ["After", "cancel"]
    assert values["stt"] == ["flush_done", "done"]
    assert values["transcribe"][0] and values["transcribe"][1] > 0
    assert values["voices"] >= 239  # the catalog, plus this organisation's own voices if any


def test_stt_batch_voices_infill_and_voice_changer(live_server: LiveServer) -> None:
    values = run(
        live_server,
        """
        before = credits()
        result = client.stt.transcribe(file=open(CORPUS + "en_librivox_ss_0870.wav", "rb"), model="ink-whisper",
                                       language="en", timestamp_granularities=["word"])
        out["batch_charge"] = before - credits()
        out["batch"] = [result.text, result.duration, [w.dict() for w in result.words][:2]]
        raw = client.stt.transcribe(file=open(CORPUS + "en_goforward.raw", "rb").read(), model="ink-whisper",
                                    encoding="pcm_s16le", sample_rate=16000)
        out["raw"] = [raw.text, raw.words]
        flac = client.stt.transcribe(file=open(CORPUS + "en_librispeech_2412-153948-0000.flac", "rb"),
                                     model="ink-whisper")
        out["flac"] = len(flac.text.split())
        out["stt_errors"] = [error_of(lambda: client.stt.transcribe(file=b"garbage" * 50, model="ink-whisper")),
                             error_of(lambda: client.stt.transcribe(file=open(CORPUS + "en_cards_005.wav", "rb"),
                                                                    model="ink-whisper", language="ja"))]
        pages = list(client.voices.list(limit=100).iter_pages())
        out["pages"] = [len(p.items) for p in pages]
        masculine = list(client.voices.list(limit=7, gender="masculine", expand=["embedding", "is_starred"]))
        out["masculine"] = [len(masculine), sorted({v.gender for v in masculine}), len(masculine[0].embedding),
                            masculine[0].is_starred]
        out["owned"] = len(list(client.voices.list(is_owner=True)))
        first_page = client.voices.list(limit=3).items
        back = httpx.get(BASE + "/voices/", params={"limit": 2, "ending_before": first_page[2].id},
                         headers={"X-API-Key": KEY}).json()
        out["ending_before"] = [v["id"] for v in back["data"]] == [v.id for v in first_page[:2]]
        past_end = httpx.get(BASE + "/voices/", params={"starting_after": pages[-1].items[-1].id},
                             headers={"X-API-Key": KEY}).json()
        out["past_end"] = [past_end["data"], past_end["next_page"], past_end["has_more"]]
        voice = client.voices.get(id="YTpq7expH9539ERJ")
        out["get"] = [voice.name, voice.language, voice.description is not None, voice.is_owner]
        mix = client.voices.mix(voices=[{"id": "YTpq7expH9539ERJ", "weight": 0.5},
                                        {"id": "LFZvm12tW_z0xfGo", "weight": 0.5}])
        out["mix"] = len(mix.embedding)
        mixed = b"".join(client.tts.bytes(model_id="sonic-2", transcript="Mixed.", output_format=S16,
                                          voice={"mode": "embedding", "embedding": mix.embedding}))
        out["mixed_audio"] = len(mixed)
        clip = open(CORPUS + "en_cards_005.wav", "rb").read()
        out["voice_errors"] = [
            error_of(lambda: client.voices.get(id="nope")),
            error_of(lambda: client.voices.delete(id="YTpq7expH9539ERJ")),
            error_of(lambda: client.voices.update(id="nope", name="n", description="d")),
            error_of(lambda: client.voices.clone(clip=b"not audio" * 50, name="n", language="en", mode="similarity")),
            error_of(lambda: client.voices.create(name="n", description="d", embedding=[])),
            error_of(lambda: client.voices.localize(voice_id="nope", name="n", description="d",
                                                    language="es", original_speaker_gender="female", dialect="pe")),
            error_of(lambda: client.voices.mix(voices=[{"id": "nope", "weight": 1.0}])),
        ]
        before = credits()
        infill = b"".join(client.infill.bytes(left_audio=clip, right_audio=clip, model_id="sonic-2", language="en",
                                              transcript="middle segment", voice_id="YTpq7expH9539ERJ",
                                              output_format_container="wav", output_format_sample_rate=44100,
                                              output_format_encoding="pcm_s16le",
                                              voice_experimental_controls_speed="slowest",
                                              voice_experimental_controls_emotion=["surprise:high", "curiosity:high"]))
        out["infill_charge"] = before - credits()
        with wave.open(io.BytesIO(infill)) as w:
            out["infill"] = [w.getframerate(), w.getnframes() / w.getframerate()]
        before = credits()
        changed = b"".join(client.voice_changer.bytes(clip=clip, voice_id="LFZvm12tW_z0xfGo",
                                                      output_format_container="raw", output_format_sample_rate=44100,
                                                      output_format_encoding="pcm_f32le"))
        out["vc_charge"] = before - credits()
        out["vc_bytes"] = len(changed)
        events = list(client.voice_changer.sse(clip=clip, voice_id="LFZvm12tW_z0xfGo", output_format_container="raw",
                                               output_format_sample_rate=16000, output_format_encoding="pcm_s16le"))
        out["vc_sse"] = [events[0].type, events[-1].type, len(events)]
        out["vc_error"] = error_of(lambda: client.voice_changer.bytes(clip=clip, voice_id="nope",
                                                                      output_format_container="raw",
                                                                      output_format_sample_rate=16000,
                                                                      output_format_encoding="pcm_s16le"))
        """,
    )
    text, duration, words = values["batch"]
    assert len(text.split()) > 5 and abs(duration - 7.1) < 0.2 and set(words[0]) == {"word", "start", "end"}
    assert values["batch_charge"] == 4  # ceil(7.1 s / 2)
    assert values["raw"] == ["Go forward 10 meters.", None]  # no words unless asked for
    assert values["flac"] > 3
    assert [e[0] for e in values["stt_errors"]] == [400, 400]
    # The organisation's own voices (none here, unless another test made some) come before the catalog.
    assert values["pages"][0] == 100 and sum(values["pages"]) == 239 + values["owned"]
    count, genders, embedding, starred = values["masculine"]
    assert count > 7 and genders == ["masculine"] and embedding == 192 and starred is False
    assert values["ending_before"]
    assert values["past_end"] == [[], None, False]
    assert values["get"] == ["Emma", "en", True, False]
    assert values["mix"] == 192 and values["mixed_audio"] > 5000
    statuses = [e[0] for e in values["voice_errors"]]
    assert statuses == [404, 403, 404, 400, 400, 404, 404]  # custom voices: test_cartesia_voices.py
    assert values["infill_charge"] == 300 + len("middle segment")
    assert values["infill"][0] == 44100 and values["infill"][1] > 0.5
    assert values["vc_charge"] == 53  # ceil(15 credits x 3.5 s)
    assert values["vc_bytes"] > 40_000
    assert values["vc_sse"][0] == "chunk" and values["vc_sse"][1] == "done"
    assert values["vc_error"][0] == 404
