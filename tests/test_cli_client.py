"""The client commands of the ``gradium`` CLI, run as subprocesses against the real server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gradium
from conftest import CORPUS, LiveServer

VOICE = "YTpq7expH9539ERJ"


def test_tts_to_wav_file(live_server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    proc = live_server.cli("tts", "Hello from the command line.", "-o", str(out), "--voice-id", VOICE)
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data[:4] == b"RIFF" and int.from_bytes(data[24:28], "little") == 48000
    assert not (tmp_path / "hello.wav.part").exists()


def test_tts_format_from_extension_and_speed(live_server: LiveServer, tmp_path: Path) -> None:
    normal, fast = tmp_path / "normal.pcm", tmp_path / "fast.pcm"
    text = "This sentence is read at two different speeds by the server."
    assert live_server.cli("tts", text, "-o", str(normal)).returncode == 0
    proc = live_server.cli("tts", text, "-o", str(fast), "--speed", "2.0")
    assert proc.returncode == 0, proc.stderr
    assert normal.read_bytes()[:4] != b"RIFF"  # raw pcm
    assert fast.stat().st_size < normal.stat().st_size
    ogg = tmp_path / "x.ogg"
    assert live_server.cli("tts", "Opus please.", "-o", str(ogg)).returncode == 0
    assert ogg.read_bytes()[:4] == b"OggS"


def test_tts_text_from_stdin_to_stdout_pipe(live_server: LiveServer) -> None:
    # Binary stdout: run the command directly instead of through the text-mode cli() helper.
    proc = subprocess.run(
        [sys.executable, "-m", "gradium", "tts", "-", "--format", "wav"],
        input=b"Read from standard input.",
        env=live_server.env(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout[:4] == b"RIFF" and len(proc.stdout) > 48000


def test_stt_wav_and_flac(live_server: LiveServer) -> None:
    proc = live_server.cli("stt", str(CORPUS / "en_librivox_ss_0870.wav"))
    assert proc.returncode == 0, proc.stderr
    assert any(w in proc.stdout.lower() for w in ("dashwood", "leisure", "consider")), proc.stdout
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    proc = live_server.cli("stt", str(CORPUS / "en_jfk.flac"), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert "request_id" in lines[-1]
    segments = lines[:-1]
    assert segments and all(s["stop_s"] >= s["start_s"] for s in segments)
    # JFK's 1961 broadcast is the corpus's hardest clip for pocketsphinx; a few words must survive.
    assert {"you", "your", "do"} & set(" ".join(s["text"] for s in segments).lower().split())


def test_stt_opus_file(live_server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "speech.ogg"
    assert live_server.cli("tts", "Testing the opus decoder.", "-o", str(out)).returncode == 0
    proc = live_server.cli("stt", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_account_commands(live_server: LiveServer) -> None:
    proc = live_server.cli("credits")
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout), dict)
    proc = live_server.cli("usage")
    assert proc.returncode == 0, proc.stderr
    proc = live_server.cli("voices", "list", "--catalog")
    assert proc.returncode == 0, proc.stderr
    assert VOICE in proc.stdout
    proc = live_server.cli("voices", "show", VOICE)
    assert proc.returncode == 0 and json.loads(proc.stdout)["uid"] == VOICE


def test_voice_commands_lifecycle(live_server: LiveServer, tmp_path: Path) -> None:
    proc = live_server.cli("voices", "create", str(CORPUS / "en_librivox_ss_0870.wav"), "--name", "cli voice")
    if proc.returncode != 0:
        assert "Traceback" not in proc.stderr
        return  # custom voices are another issue; the error must still be one clean line
    uid = json.loads(proc.stdout)["uid"]
    assert live_server.cli("voices", "update", uid, "--name", "renamed").returncode == 0
    assert live_server.cli("voices", "delete", uid).returncode == 0
    proc = live_server.cli("voices", "show", uid)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1


def test_user_errors_are_one_line(live_server: LiveServer, tmp_path: Path) -> None:
    proc = live_server.cli("credits", "--api-key", "gd_wrong")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = live_server.cli("stt", str(tmp_path / "missing.wav"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    proc = live_server.cli("tts", "x", "-o", str(tmp_path / "x.wav"), "--speed", "-1")
    assert proc.returncode == 2
    proc = live_server.cli("tts", "x", "-o", str(tmp_path / "x.wav"), "--base-url", "127.0.0.1:1/api")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_sync_client(live_server: LiveServer) -> None:
    with gradium.SyncGradiumClient(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        result = client.tts({"voice_id": VOICE, "output_format": "wav"}, "Hello from a script.")
        assert result.raw_data[:4] == b"RIFF"
        chunks = list(client.tts_iter_bytes({"voice_id": VOICE, "output_format": "pcm"}, "Streaming."))
        assert chunks
        assert isinstance(client.credits(), dict)


def test_wav_helper_reads_streaming_header(live_server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "w.wav"
    assert live_server.cli("tts", "Short.", "-o", str(out)).returncode == 0
    result = gradium.client.TTSResult(out.read_bytes(), 48000, "wav", None)
    assert len(result.pcm16()) > 0
