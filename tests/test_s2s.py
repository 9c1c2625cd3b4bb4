"""speech/s2s: streaming STT of the input, committed words re-spoken in the chosen voice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from conftest import LiveServer, run_official
from wire import audio_frames, corpus_pcm, exchange

EMMA = "YTpq7expH9539ERJ"
CLIP = "en_librivox_ss_0870.wav"  # "and mister john dashwood had then leisure to consider how much ..."


async def test_s2s_defaults_pcm_in_and_out_and_respeaks_the_words(live_server: LiveServer) -> None:
    pcm = corpus_pcm(CLIP, 24000)
    result = await exchange(live_server, "speech/s2s", audio_frames(pcm.tobytes(), chunk=3840, voice_id=EMMA))
    ready = result.messages[0]
    assert ready["type"] == "ready" and ready["request_id"]
    assert ready["sample_rate"] == 48000 and ready["frame_size"] == 3840
    words = [m for m in result.of_type("text")]
    assert all(m["stream_id"] == 0 and m["start_s"] <= m["stop_s"] for m in words)
    text = " ".join(str(m["text"]).lower().strip(".,!?") for m in words)
    assert sum(w in text.split() for w in ("john", "dashwood", "consider", "power")) >= 3, text
    audio = result.audio()
    assert len(audio) % 2 == 0 and len(audio) / 2 / 48000 > 2.0
    assert np.abs(np.frombuffer(audio, dtype=np.int16)).max() > 3000
    assert result.messages[-1]["type"] == "end_of_stream" and result.close_code == 1000


async def test_s2s_rejects_translation_and_bad_setup(live_server: LiveServer) -> None:
    frames = audio_frames(b"\0\0" * 2400, voice_id=EMMA, json_config={"target_language": "fr"})
    error = (await exchange(live_server, "speech/s2s", frames)).error()
    assert error["code"] == 1008 and "translation is not supported" in error["message"]
    error = (await exchange(live_server, "speech/s2s", audio_frames(b"", voice_id="nope"))).error()
    assert "unknown voice_id" in error["message"]
    error = (await exchange(live_server, "speech/s2s", audio_frames(b"", input_format="mp4"))).error()
    assert "input_format" in error["message"]


def test_official_client_s2s_with_numpy_input(live_server: LiveServer, tmp_path: Path) -> None:
    np.save(tmp_path / "in.npy", corpus_pcm(CLIP, 24000)[: 24000 * 4])
    script = f"""
import asyncio, json, os, numpy as np, gradium
async def main():
    c = gradium.client.GradiumClient(api_key=os.environ["GRADIUM_API_KEY"], base_url=os.environ["GRADIUM_BASE_URL"])
    audio = np.load({str(tmp_path / "in.npy")!r})
    r = await c.s2s({{"voice_id": "{EMMA}"}}, audio, sample_rate=24000)
    print("RESULT " + json.dumps(dict(rate=r.sample_rate, n=len(r.raw_data), text=r.text, rid=r.request_id)))
asyncio.run(main())
"""
    done = run_official(script, live_server)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["rate"] == 48000 and result["rid"] and result["n"] > 48000 and result["text"]
