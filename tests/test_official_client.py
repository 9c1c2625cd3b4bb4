"""The unmodified official ``gradium==0.6.4`` client, pointed at our server, in its own virtualenv."""

from __future__ import annotations

import json
import textwrap

from conftest import CORPUS, LiveServer, run_official

PRELUDE = """
import asyncio, io, json, os, wave
import numpy as np
import gradium
client = gradium.client.GradiumClient(api_key=os.environ["GRADIUM_API_KEY"], base_url=os.environ["GRADIUM_BASE_URL"])
def report(**values):
    print("RESULT " + json.dumps(values))
"""


def run(server: LiveServer, body: str) -> dict[str, object]:
    script = (
        PRELUDE
        + "\nasync def main():\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\nasyncio.run(main())\n"
    )
    done = run_official(script, server)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    values: dict[str, object] = json.loads(line.removeprefix("RESULT "))
    return values


def test_official_tts_wav_and_timestamps(live_server: LiveServer) -> None:
    values = run(
        live_server,
        """
        result = await client.tts(setup={"model_name": "default", "voice_id": "YTpq7expH9539ERJ", "output_format": "wav"},
                                  text="Hello, world! Welcome to Gradium.")
        with wave.open(io.BytesIO(result.raw_data)) as w:
            rate = w.getframerate(); n = len(w.readframes(w.getnframes())) // 2
        report(rate=rate, seconds=n / rate, sample_rate=result.sample_rate, request_id=result.request_id,
               words=[t.text for t in result.text_with_timestamps],
               ordered=all(a.start_s <= b.start_s for a, b in zip(result.text_with_timestamps, result.text_with_timestamps[1:])))
    """,
    )
    assert values["rate"] == 48000 and values["sample_rate"] == 48000 and values["request_id"]
    assert 1.0 < float(values["seconds"]) < 5.0  # type: ignore[arg-type]
    assert [str(w).strip(",.!") for w in values["words"]] == ["Hello", "world", "Welcome", "to", "Gradium"]  # type: ignore[union-attr]
    assert values["ordered"]


def test_official_tts_stream_generator_pcm(live_server: LiveServer) -> None:
    values = run(
        live_server,
        """
        async def text_generator():
            for piece in ["Hello, ", "this is ", "a streaming ", "example."]:
                yield piece
        stream = await client.tts_stream(setup={"voice_id": "YTpq7expH9539ERJ", "output_format": "pcm"}, text=text_generator())
        sizes = [len(chunk) async for chunk in stream.iter_bytes()]
        result = await client.tts(setup={"voice_id": "LFZvm12tW_z0xfGo", "output_format": "pcm"}, text="Hi there.")
        report(sizes=sizes, pcm=len(result.pcm()), pcm16=str(result.pcm16().dtype))
    """,
    )
    sizes = values["sizes"]
    assert isinstance(sizes, list) and sizes[0] == 7680 and all(s == 7680 for s in sizes[:-1])
    assert values["pcm16"] == "int16" and int(values["pcm"]) > 10000  # type: ignore[call-overload]


def test_official_stt_on_a_real_recording(live_server: LiveServer) -> None:
    values = run(
        live_server,
        f"""
        data = open("{CORPUS / "en_librivox_ss_0870.wav"}", "rb").read()
        result = await client.stt(setup={{"model_name": "default", "input_format": "wav"}}, audio=data)
        report(text=result.text, request_id=result.request_id)
    """,
    )
    assert len(str(values["text"]).split()) > 5 and values["request_id"]


def test_official_realtime_tts_multiplexing(live_server: LiveServer) -> None:
    values = run(
        live_server,
        """
        async with client.tts_realtime(send_setup_on_start=False) as tts:
            for rid in ("one", "two"):
                await tts.send_setup({"output_format": "pcm", "client_req_id": rid, "close_ws_on_eos": False})
                await tts.send_text(f"Request {rid}.", client_req_id=rid)
                await tts.send_eos(client_req_id=rid)
            audio = {"one": 0, "two": 0}; ends = 0
            async for msg in tts:
                if msg["type"] == "audio":
                    audio[msg["client_req_id"]] += len(msg["audio"])
                elif msg["type"] == "end_of_stream":
                    ends += 1
                    if ends == 2:
                        break
        report(audio=audio)
    """,
    )
    audio = values["audio"]
    assert isinstance(audio, dict) and audio["one"] > 0 and audio["two"] > 0


def test_official_voices_credits_and_http_tts(live_server: LiveServer) -> None:
    values = run(
        live_server,
        """
        voices = await client.voice_get(include_catalog=True)
        emma = await client.voice_get("YTpq7expH9539ERJ")
        credits = await gradium.usages.get(client)
        audio = await client.voice_tts("YTpq7expH9539ERJ", "Preview.")
        report(n=len(voices), emma=emma["name"], credits=credits, audio=len(audio.raw_data))
    """,
    )
    assert int(values["n"]) >= 239  # type: ignore[call-overload]
    credits = values["credits"]
    assert isinstance(credits, dict) and {
        "remaining",
        "allocated",
        "remaining_credits",
        "allocated_credits",
    } <= set(credits)
    assert values["emma"] == "Emma" and int(values["audio"]) > 1000  # type: ignore[call-overload]


def test_official_client_sees_a_readable_auth_error(live_server: LiveServer) -> None:
    script = PRELUDE.replace('os.environ["GRADIUM_API_KEY"]', '"gd_wrong"') + textwrap.dedent("""
        async def main():
            try:
                await client.tts(setup={"output_format": "wav"}, text="Hi")
            except Exception as exc:
                report(error=str(exc))
        asyncio.run(main())
    """)
    done = run_official(script, live_server)
    assert "invalid or revoked API key (1008)" in done.stdout, done.stdout + done.stderr
