"""LiveKit Agents' (and pipecat's) Gradium and Cartesia services, unmodified, against the real server.

The frameworks live in their own virtualenv (scripts/test.sh installs pipecat-ai 1.14.0 and
livekit-agents 1.8.9 with their plugins); each driver in tests/peers/ runs there and prints a
``RESULT`` line.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, LiveServer
from wire import corpus_pcm, exchange, tts_frames

FRAMEWORKS_PYTHON = Path(
    os.environ.get("GRADIUM_FRAMEWORKS_PYTHON", REPO / ".peers" / "frameworks" / "bin" / "python")
)
PEERS = Path(__file__).parent / "peers"
CLIP = "en_librivox_ss_0870.wav"  # "Mr. John Dashwood had then leisure to consider how much ..."


def run_driver(name: str, server: LiveServer, *args: str, timeout: float = 400) -> dict[str, Any]:
    if not FRAMEWORKS_PYTHON.exists():
        pytest.fail(f"the frameworks are not installed at {FRAMEWORKS_PYTHON} (run scripts/test.sh)")
    env = {**server.env(), "PYTHONPATH": "", "ROOT_URL": server.root_url}
    done = subprocess.run(
        [str(FRAMEWORKS_PYTHON), str(PEERS / name), *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def finals(events: list[list[Any]]) -> list[str]:
    return [text.lower() for _, kind, text in events if kind == "FINAL_TRANSCRIPT"]


def test_livekit_services_with_their_defaults(live_server: LiveServer, tmp_path: Path) -> None:
    corpus_pcm(CLIP, rate=24000).tofile(tmp_path / "clip24.pcm")
    corpus_pcm(CLIP, rate=16000).tofile(tmp_path / "clip16.pcm")
    result = run_driver(
        "livekit_services.py", live_server, str(tmp_path / "clip24.pcm"), str(tmp_path / "clip16.pcm")
    )
    # TTS: the default voices (Gradium "Everly", Cartesia "Katie") are aliases of catalog voices.
    assert result["gradium_tts_s"] > 1.5 and result["gradium_tts_stream_s"] > 1.0
    assert result["cartesia_tts_s"] > 1.0
    # STT: interim results, then one final per turn, two turns on one stream.
    for name in ("gradium_stt", "cartesia_stt", "cartesia_turns"):
        events = result[name]
        kinds = [kind for _, kind, _ in events]
        assert "TIMEOUT" not in kinds, (name, events)
        assert "INTERIM_TRANSCRIPT" in kinds
        assert kinds.index("INTERIM_TRANSCRIPT") < kinds.index("FINAL_TRANSCRIPT")
        texts = finals(events)
        assert len(texts) >= 2 and all("dashwood" in t and "power" in t for t in texts[:2]), (name, texts)


async def test_pipecat_services_with_their_defaults(live_server: LiveServer, tmp_path: Path) -> None:
    # The first sentence of a fresh server loads the engine: not what pipecat's timeouts measure.
    await exchange(live_server, "speech/tts", tts_frames("Warm up.", output_format="pcm"))
    corpus_pcm(CLIP, rate=16000).tofile(tmp_path / "clip16.pcm")
    result = run_driver("pipecat_services.py", live_server, str(tmp_path / "clip16.pcm"))
    for name in ("gradium_tts", "cartesia_tts"):  # two sentences, one context each, one socket
        assert result[name]["errors"] == [] and result[name]["audio_s"] > 4.0, (name, result[name])
    for name in ("gradium_stt", "cartesia_stt"):  # string flush ids (Gradium), two turns each
        stt = result[name]
        assert stt["errors"] == [] and stt["interims"] > 0, (name, stt)
        texts = [t.lower() for t in stt["finals"]]
        assert len(texts) >= 2 and all("dashwood" in t and "power" in t for t in texts), (name, texts)
