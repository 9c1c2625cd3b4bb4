"""Issue 12: each defect found by attacking the running server, reproduced and shown fixed.

Every refused request must give the documented error (WebSocket: an ``error`` message then close
1008; HTTP: JSON ``{"detail"}`` with a 4xx status) and charge nothing; the balance is read before
and after to prove it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conftest import LiveServer, start_server, stop_server
from wire import audio_frames, exchange, tts_frames

CARTESIA_VERSION = "2025-04-16"
LONE_SURROGATE = "abc \ud800 def."


async def remaining(server: LiveServer) -> int:
    status, body = await gradium_http(server, "GET", "usages/credits")
    assert status == 200, body
    value: int = body["remaining"]
    return value


async def gradium_http(server: LiveServer, method: str, route: str, **kwargs: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, server.base_url + route, headers={"x-api-key": server.api_key}, **kwargs
        ) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.read()


async def cartesia_http(server: LiveServer, method: str, route: str, **kwargs: Any) -> tuple[int, Any]:
    headers = {"X-API-Key": server.api_key, "Cartesia-Version": CARTESIA_VERSION}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{server.root_url}/{route}", headers=headers, **kwargs) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.read()


async def cartesia_ws(
    server: LiveServer, frames: list[Any], timeout: float = 30
) -> tuple[list[Any], int | None]:
    """Send frames on the Cartesia TTS WebSocket, read until it closes: (messages, close code)."""
    headers = {"X-API-Key": server.api_key, "Cartesia-Version": CARTESIA_VERSION}
    url = f"ws://{server.host}:{server.port}/tts/websocket"
    messages: list[Any] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
        for frame in frames:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(json.dumps(frame))
        try:
            async with asyncio.timeout(timeout):
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        messages.append(json.loads(msg.data))
                        if messages[-1].get("done") and not isinstance(frame, bytes):
                            await ws.close()
        except TimeoutError:
            pass
        return messages, ws.close_code


def cartesia_body(transcript: str, **extra: Any) -> dict[str, Any]:
    return {
        "model_id": "sonic-2",
        "transcript": transcript,
        "voice": {"mode": "id", "id": "YTpq7expH9539ERJ"},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
        "language": "en",
        **extra,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of formant voices only (fast on a small machine); no traceback may reach its log."""
    env = {"GRADIUM_TTS_NEURAL": "0", "GRADIUM_STT_ENGINE": "pocketsphinx", "GRADIUM_STT_WORKERS": "1"}
    env["GRADIUM_CREDENTIAL_RECHECK_S"] = "1"
    live = start_server(Path(tmp_path_factory.mktemp("reliability")), env=env)
    yield live
    stop_server(live)
    assert "Traceback" not in live.log(), live.log()


# 1. output_format "" -------------------------------------------------------------------------------


async def test_http_tts_empty_output_format_is_the_default_wav(server: LiveServer) -> None:
    status, body = await gradium_http(
        server, "POST", "post/speech/tts", json={"text": "Hi.", "output_format": "", "model_name": "formant"}
    )
    assert status == 200, body
    assert body[:4] == b"RIFF"


async def test_http_tts_unknown_output_format_is_400_and_free(server: LiveServer) -> None:
    before = await remaining(server)
    status, body = await gradium_http(
        server, "POST", "post/speech/tts", json={"text": "Hi there.", "output_format": "mp5"}
    )
    assert status == 400 and "output format" in body["detail"]
    assert await remaining(server) == before


# 2. lone surrogates and control characters --------------------------------------------------------


async def test_ws_tts_lone_surrogate_is_1008_and_free(server: LiveServer) -> None:
    before = await remaining(server)
    result = await exchange(server, "speech/tts", tts_frames(LONE_SURROGATE))
    assert "surrogate" in result.error()["message"] and result.close_code == 1008
    assert await remaining(server) == before


async def test_ws_tts_control_character_is_1008(server: LiveServer) -> None:
    result = await exchange(server, "speech/tts", tts_frames("abc \x00 def."))
    assert "control character" in result.error()["message"] and result.close_code == 1008


async def test_http_tts_lone_surrogate_is_400_and_free(server: LiveServer) -> None:
    before = await remaining(server)
    status, body = await gradium_http(server, "POST", "post/speech/tts", json={"text": LONE_SURROGATE})
    assert status == 400 and "surrogate" in body["detail"]
    status, body = await cartesia_http(server, "POST", "tts/bytes", json=cartesia_body(LONE_SURROGATE))
    assert status == 400 and "surrogate" in body["detail"]
    assert await remaining(server) == before


async def post_raw(server: LiveServer, url: str, data: Any, content_type: str | None) -> tuple[int, Any]:
    headers = {"x-api-key": server.api_key, "Cartesia-Version": CARTESIA_VERSION}
    if content_type is not None:
        headers["content-type"] = content_type
    async with (
        aiohttp.ClientSession(skip_auto_headers=["Content-Type"]) as session,
        session.post(url, data=data, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_an_oversized_json_body_is_413_before_it_is_read_and_free(server: LiveServer) -> None:
    """JSON bodies were buffered whole before any limit: a client could make the server hold
    hundreds of MB. Declared, chunked and untyped bodies over 1 MiB are now refused unread."""
    before = await remaining(server)
    huge = json.dumps({"text": "a" * (2 * 1024 * 1024)}).encode()
    tts_url = server.base_url + "post/speech/tts"
    status, body = await post_raw(server, tts_url, huge, "application/json")
    assert status == 413 and "larger than 1024 KiB" in body["detail"], body
    status, body = await post_raw(server, server.root_url + "/tts/bytes", huge, None)  # untyped
    assert status == 413 and "larger than" in body["detail"], body

    async def chunks() -> Any:  # chunked transfer: no content-length to refuse it by
        for _ in range(24):
            yield b"[" * 65536

    status, body = await post_raw(server, tts_url, chunks(), "application/json")
    assert status == 413 and "larger than" in body["detail"], body
    assert await remaining(server) == before
    status, body = await gradium_http(server, "POST", "post/speech/tts", json={"text": "Still here."})
    assert status == 200


async def test_cartesia_ws_lone_surrogate_is_a_clear_error(server: LiveServer) -> None:
    before = await remaining(server)
    messages, _ = await cartesia_ws(server, [{**cartesia_body(LONE_SURROGATE), "context_id": "c1"}])
    errors = [m for m in messages if m["type"] == "error"]
    assert errors and "surrogate" in errors[0]["error"], messages
    assert "codec" not in errors[0]["error"] and "encode" not in errors[0]["error"]
    assert await remaining(server) == before


async def test_cartesia_voice_name_with_lone_surrogate_is_400(server: LiveServer) -> None:
    body = {"name": "bad \ud800 name", "embedding": [0.1] * 192, "language": "en"}
    status, answer = await cartesia_http(server, "POST", "voices/", json=body)
    assert status == 400 and "surrogate" in answer["detail"]


# 4. Cartesia WebSocket binary frame ---------------------------------------------------------------


async def test_cartesia_ws_binary_frame_is_an_error_then_1008(server: LiveServer) -> None:
    messages, close_code = await cartesia_ws(server, [b"\x00\x01\x02"])
    assert messages and messages[0]["type"] == "error" and "binary" in messages[0]["error"]
    assert close_code == 1008


# 12. WAV sizes ------------------------------------------------------------------------------------


async def test_http_tts_wav_has_real_sizes(server: LiveServer) -> None:
    status, body = await gradium_http(
        server, "POST", "post/speech/tts", json={"text": "Real sizes.", "model_name": "formant"}
    )
    assert status == 200
    with wave.open(io.BytesIO(body)) as wav:
        assert wav.getnframes() * 2 == len(body) - 44
        assert 0.3 < wav.getnframes() / wav.getframerate() < 5


@pytest.mark.parametrize("route", ["speech/tts"])
async def test_ws_tts_still_works(server: LiveServer, route: str) -> None:
    result = await exchange(server, route, tts_frames("Still fine.", output_format="pcm"))
    assert result.messages[-1]["type"] == "end_of_stream" and result.audio()


# 11. an unfinished tag at the end of the text -----------------------------------------------------


async def test_unfinished_break_tag_is_an_error_and_free(server: LiveServer) -> None:
    before = await remaining(server)
    result = await exchange(server, "speech/tts", tts_frames('Hello <break time="1s"', output_format="pcm"))
    assert "malformed <break> tag" in result.error()["message"] and result.close_code == 1008
    assert not result.audio()
    status, body = await gradium_http(
        server, "POST", "post/speech/tts", json={"text": 'Hello <break time="1s"'}
    )
    assert status == 400 and "malformed" in body["detail"]
    assert await remaining(server) == before


# 14. silence of <break> tags is capped per request ------------------------------------------------


async def test_breaks_past_the_silence_cap_are_refused_and_free(server: LiveServer) -> None:
    before = await remaining(server)
    text = "Hi. " + '<break time="2s"/>' * 5_000
    result = await exchange(server, "speech/tts", tts_frames(text, output_format="pcm"))
    assert "60 s of silence" in result.error()["message"] and result.close_code == 1008
    status, body = await gradium_http(server, "POST", "post/speech/tts", json={"text": text[:20_000]})
    assert status == 400 and "silence" in body["detail"]
    assert await remaining(server) == before


async def test_breaks_within_the_cap_still_work(server: LiveServer) -> None:
    text = "One. " + '<break time="2s"/>' * 3 + " Two."
    result = await exchange(server, "speech/tts", tts_frames(text, output_format="pcm_16000"))
    assert result.messages[-1]["type"] == "end_of_stream"
    assert len(result.audio()) / 2 / 16_000 >= 6.0


# 6. WAV headers at absurd rates --------------------------------------------------------------------


def wav_header_at(rate: int, data: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


async def test_asr_wav_at_one_hertz_is_refused_and_free(server: LiveServer) -> None:
    before = await remaining(server)
    frames = audio_frames(wav_header_at(1, bytes(300)), input_format="wav")
    result = await exchange(server, "speech/asr", frames)
    assert "out of range" in result.error()["message"] and result.close_code == 1008
    assert await remaining(server) == before


# 13. the command line -----------------------------------------------------------------------------


def test_cli_reader_that_stops_reading_is_not_an_error(server: LiveServer) -> None:
    # The pipe's read end is closed before the command writes: what `| head` does, without the race.
    process = subprocess.Popen(
        [sys.executable, "-m", "gradium", "voices", "list", "--catalog"],
        env=server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    assert "Broken pipe" not in stderr and "Traceback" not in stderr


def test_cli_unknown_output_extension_is_an_error(server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "out.xyz"
    proc = server.cli("tts", "Hello.", "-o", str(out))
    assert proc.returncode == 2 and "--format" in proc.stderr and not out.exists()
    proc = server.cli("tts", "Hello.", "-o", str(out), "--format", "pcm", "--model-name", "formant")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:4] != b"RIFF"


def test_cli_global_api_key_before_the_command(server: LiveServer) -> None:
    env = {k: v for k, v in server.env().items() if k != "GRADIUM_API_KEY"}
    command = [sys.executable, "-m", "gradium", "--api-key", server.api_key, "credits"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "remaining" in json.loads(proc.stdout)
    # A key after the command name still wins over the one before it.
    command = [sys.executable, "-m", "gradium", "--api-key", server.api_key, "credits", "--api-key", "gd_x"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "API key" in proc.stderr


def test_cli_wav_file_has_real_sizes(server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "short.wav"
    proc = server.cli("tts", "Short and sized.", "-o", str(out), "--model-name", "formant")
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    with wave.open(str(out)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
        assert wav.getnframes() * wav.getsampwidth() == len(data) - 44
    assert 0.5 < seconds < 10


# 5. a user's regular expression cannot stall synthesis --------------------------------------------


async def test_catastrophic_rewrite_rule_does_not_stall_synthesis(server: LiveServer) -> None:
    config = json.dumps({"rewrite_rules": "/(a+)+$/ => x"})
    started = asyncio.get_running_loop().time()
    result = await exchange(
        server, "speech/tts", tts_frames("a" * 60 + "!", output_format="pcm", json_config=config)
    )
    assert result.messages[-1]["type"] == "end_of_stream"
    assert asyncio.get_running_loop().time() - started < 10  # Python's re: ~2^60 steps, never


# 7. the STT pool recovers from a worker killed at start-up ----------------------------------------


def stt_workers_of(server: LiveServer) -> list[int]:
    """Process ids of the server's STT worker processes (spawned children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == server.process.pid and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


async def health(server: LiveServer) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(server.base_url + "health") as response:
        return response.status, await response.json()


async def test_stt_recovers_when_its_first_worker_dies_while_starting(tmp_path: Path) -> None:
    env = {"GRADIUM_TTS_NEURAL": "0", "GRADIUM_STT_ENGINE": "pocketsphinx", "GRADIUM_STT_WORKERS": "1"}
    server = start_server(tmp_path, env=env)
    try:
        frames = audio_frames(bytes(48_000), input_format="pcm")
        first = asyncio.ensure_future(exchange(server, "speech/asr", frames, pause_s=0.2))
        killed: list[int] = []
        for _ in range(2_000):  # the lazily started worker: kill it before it is ready
            if killed := stt_workers_of(server):
                break
            await asyncio.sleep(0.005)
        assert killed, "no STT worker started"
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        result = await first
        assert result.error()["code"] in (1008, 1011)
        status, body = await health(server)
        assert status in (200, 503), body
        for _ in range(300):  # the replacement gets ready; health says so
            status, body = await health(server)
            if status == 200:
                break
            assert "stt" in body["problems"]
            await asyncio.sleep(0.1)
        assert status == 200, body
        result = await exchange(server, "speech/asr", frames)
        assert result.messages[-1]["type"] == "end_of_stream", result.messages
        assert not set(killed) & set(stt_workers_of(server))
    finally:
        stop_server(server)


# 10. kill -9 during paid streams: the ledger still adds up ----------------------------------------

LONG_TEXT = " ".join(f"Sentence number {i} is spoken and paid for clause by clause." for i in range(40))


def ledger_check(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradium", "orgs", "check", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def usage_credits(data_dir: Path) -> tuple[int, int, int]:
    """(allocated, remaining, booked usage) of the default organisation, read from the file."""
    with sqlite3.connect(data_dir / "gradium.db") as db:
        allocated, remaining = db.execute(
            "SELECT allocated_credits, remaining_credits FROM organisations WHERE name = 'default'"
        ).fetchone()
        (booked,) = db.execute("SELECT COALESCE(SUM(credits), 0) FROM usage").fetchone()
    return int(allocated), int(remaining), int(booked)


async def test_sigkill_during_paid_streams_keeps_the_ledger(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"GRADIUM_TTS_NEURAL": "0"})
    try:
        frames = tts_frames(LONG_TEXT, output_format="pcm_16000", model_name="formant")
        streams = [asyncio.ensure_future(exchange(server, "speech/tts", frames)) for _ in range(20)]
        for _ in range(200):  # until the streams have paid for some clauses
            await asyncio.sleep(0.05)
            if (await remaining(server)) < 1_000_000 - 2_000:
                break
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
        await asyncio.gather(*streams, return_exceptions=True)
    finally:
        stop_server(server)
    allocated, left, booked = usage_credits(server.data_dir)
    assert allocated - left > 0, "nothing was charged before the kill"
    assert allocated == left + booked, (allocated, left, booked)
    check = ledger_check(server.data_dir)
    assert check.returncode == 0 and "ledger ok" in check.stdout, check.stderr
    # The server starts again on the same data and serves; the ledger still adds up after it.
    restarted = start_again(server, tmp_path / "restart.log")
    try:
        result = await exchange(restarted, "speech/tts", tts_frames("After the crash.", output_format="pcm"))
        assert result.messages[-1]["type"] == "end_of_stream"
    finally:
        stop_server(restarted)
    assert ledger_check(server.data_dir).returncode == 0


def start_again(server: LiveServer, log_path: Path) -> LiveServer:
    """``gradium serve`` on the same port and data directory (its key is already in the database)."""
    command = [sys.executable, "-m", "gradium", "serve", "--host", server.host, "--port", str(server.port)]
    command += ["--data-dir", str(server.data_dir)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRADIUM_TTS_NEURAL": "0"}
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    restarted = LiveServer(server.host, server.port, server.api_key, server.data_dir, process, log_path)
    for _ in range(600):
        try:
            with urllib.request.urlopen(restarted.base_url + "health", timeout=1) as response:
                if response.status == 200:
                    return restarted
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the server did not start again:\n{log_path.read_text()}")


# 3. HTTP: charged only for audio that is sent -----------------------------------------------------

# 124 billable characters in several clauses: the first ones fit in 67 credits, the rest do not.
RUN_OUT_TEXT = (
    "The first clause fits in the credits. The second clause fits as well. "
    "But this third clause is well beyond what is left now."
)


async def test_http_tts_that_runs_out_of_credits_charges_nothing(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--initial-credits", "67", env={"GRADIUM_TTS_NEURAL": "0"})
    try:
        assert len(RUN_OUT_TEXT) == 124
        body = {"text": RUN_OUT_TEXT, "model_name": "formant"}
        status, answer = await gradium_http(server, "POST", "post/speech/tts", json=body)
        assert status == 402 and "insufficient credits" in answer["detail"]
        assert await remaining(server) == 67
        wav = {"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000}
        cartesia = cartesia_body(RUN_OUT_TEXT, model_id="sonic-2", output_format=wav)
        status, answer = await cartesia_http(server, "POST", "tts/bytes", json=cartesia)
        assert status == 402 and "insufficient credits" in answer["detail"], answer
        assert await remaining(server) == 67
        status, audio = await gradium_http(
            server, "POST", "post/speech/tts", json={"text": "Short.", "model_name": "formant"}
        )
        assert status == 200 and audio[:4] == b"RIFF"
        assert await remaining(server) == 67 - len("Short.")
    finally:
        stop_server(server)
    assert "Traceback" not in server.log(), server.log()
    assert ledger_check(server.data_dir).returncode == 0


# 8. credentials are checked again on an open socket -----------------------------------------------


def new_key(server: LiveServer) -> tuple[int, str]:
    created = server.cli("keys", "create", "--name", "temp", "--json", "--data-dir", str(server.data_dir))
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    return int(info["id"]), str(info["key"])


def revoke(server: LiveServer, key_id: int) -> None:
    revoked = server.cli("keys", "revoke", str(key_id), "--data-dir", str(server.data_dir))
    assert revoked.returncode == 0, revoked.stderr


async def test_revoked_key_cannot_start_a_new_request_on_an_open_socket(server: LiveServer) -> None:
    key_id, key = new_key(server)
    url = f"ws://{server.host}:{server.port}/api/speech/tts"
    setup = {"type": "setup", "output_format": "pcm", "close_ws_on_eos": False, "model_name": "formant"}
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers={"x-api-key": key}) as ws:
        await ws.send_json({**setup, "client_req_id": "a"})
        await ws.send_json({"type": "text", "text": "First.", "client_req_id": "a"})
        await ws.send_json({"type": "end_of_stream", "client_req_id": "a"})
        while (await ws.receive_json(timeout=30))["type"] != "end_of_stream":
            pass
        revoke(server, key_id)
        await ws.send_json({**setup, "client_req_id": "b"})
        messages = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
        assert messages[-1]["type"] == "error" and "revoked" in messages[-1]["message"], messages
        assert ws.close_code == 1008


async def test_revoked_key_ends_a_running_request_within_the_recheck_period(server: LiveServer) -> None:
    key_id, key = new_key(server)
    # A request that waits for more text: only the periodic check can end it (idle timeout: 60 s).
    frames = [{"type": "setup", "output_format": "pcm"}, {"type": "text", "text": "Waiting for more"}]
    running = asyncio.ensure_future(exchange(server, "speech/tts", frames, api_key=key, timeout=30))
    await asyncio.sleep(0.5)
    revoke(server, key_id)
    revoked_at = asyncio.get_running_loop().time()
    result = await running
    assert "revoked" in result.error()["message"] and result.close_code == 1008
    assert asyncio.get_running_loop().time() - revoked_at < 5  # GRADIUM_CREDENTIAL_RECHECK_S=1


async def test_expired_access_token_cannot_open_a_new_cartesia_context(server: LiveServer) -> None:
    status, minted = await cartesia_http(
        server, "POST", "access-token", json={"grants": {"tts": True}, "expires_in": 2}
    )
    assert status == 200, minted
    url = f"ws://{server.host}:{server.port}/tts/websocket?access_token={minted['token']}"
    context = {**cartesia_body("First context."), "model_id": "sonic-2"}
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json({**context, "context_id": "one"})
        while not (message := await ws.receive_json(timeout=30)).get("done"):
            pass
        assert message["type"] == "done", message
        await asyncio.sleep(2.5)  # the token expires
        await ws.send_json({**context, "context_id": "two"})
        messages = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
        assert messages and messages[-1]["type"] == "error", messages
        assert "expired" in messages[-1]["error"] and ws.close_code == 1008



async def test_expired_access_token_ends_a_cartesia_stt_stream(server: LiveServer) -> None:
    status, minted = await cartesia_http(
        server, "POST", "access-token", json={"grants": {"stt": True}, "expires_in": 2}
    )
    assert status == 200, minted
    query = f"access_token={minted['token']}&encoding=pcm_s16le&sample_rate=16000&language=en"
    url = f"ws://{server.host}:{server.port}/stt/websocket?{query}"
    messages: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:

        async def speak() -> None:
            for _ in range(100):  # 10 s of silence in real time, unless the server ends it first
                await ws.send_bytes(bytes(3200))
                await asyncio.sleep(0.1)

        sender = asyncio.ensure_future(speak())
        try:
            async with asyncio.timeout(20):
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        messages.append(json.loads(msg.data))
        finally:
            sender.cancel()
        assert ws.close_code == 1008, messages
    errors = [m for m in messages if m["type"] == "error"]
    assert errors and "expired" in errors[-1]["message"], messages

# 9. back-pressure: a client that never reads ------------------------------------------------------


def raw_websocket(server: LiveServer, path: str) -> socket.socket:
    """A WebSocket client on a plain socket with a tiny receive buffer, so that it can truly not
    read (client libraries read into their own buffers behind the application's back)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((server.host, server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {server.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nx-api-key: {server.api_key}\r\n\r\n"
    )
    sock.sendall(request.encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)  # byte by byte: nothing after the headers is consumed
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def masked_text_frame(text: str) -> bytes:
    payload, mask = text.encode(), os.urandom(4)
    length = len(payload)
    header = bytes([0x81]) + (
        bytes([0x80 | length]) if length < 126
        else bytes([0x80 | 126]) + struct.pack(">H", length) if length < 65536
        else bytes([0x80 | 127]) + struct.pack(">Q", length)
    )  # fmt: skip
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# The README's bound: 4 MiB of queued messages per socket, plus the kernel's socket buffers and the
# segment being synthesized; the margin covers allocator noise on a shared machine.
NON_READER_MAX_GROWTH_MB = 64


async def test_a_client_that_never_reads_is_bounded_then_closed(tmp_path: Path) -> None:
    env = {"GRADIUM_TTS_NEURAL": "0", "GRADIUM_SLOW_READER_TIMEOUT_S": "3"}
    server = start_server(tmp_path, env=env)
    try:
        warm = await exchange(server, "speech/tts", tts_frames("Warm up.", output_format="pcm"))
        assert warm.messages[-1]["type"] == "end_of_stream"
        baseline = rss_mb(server.process.pid)
        sock = raw_websocket(server, "/api/speech/tts")
        text = "This sentence is spoken again and again to a client that never reads. " * 280
        for frame in tts_frames(text, output_format="pcm", model_name="formant"):
            sock.sendall(masked_text_frame(json.dumps(frame)))
        peak = baseline
        for _ in range(60):  # 12 s: the queue fills, synthesis pauses, the socket is closed
            await asyncio.sleep(0.2)
            peak = max(peak, rss_mb(server.process.pid))
        # Now read: what the server kept for this client is bounded, and it then closed the socket.
        sock.settimeout(30)
        received = 0
        while chunk := await asyncio.to_thread(sock.recv, 1 << 16):
            received += len(chunk)
        sock.close()
        before = await remaining(server)
        assert peak - baseline < NON_READER_MAX_GROWTH_MB, (baseline, peak)
        # 20,000 characters are ~20 minutes of 48 kHz audio (~150 MB as base64 JSON): a fraction came.
        assert received < 16 * 1024 * 1024, received
        # Paid only for what was synthesized before it paused: nowhere near the whole text.
        assert 1_000_000 - before < len(text) // 4, before
        status, _ = await health(server)
        assert status == 200
    finally:
        stop_server(server)
    log = server.log()
    assert "Traceback" not in log, log


async def test_credentials_in_query_strings_never_reach_the_log(server: LiveServer) -> None:
    status, minted = await cartesia_http(server, "POST", "access-token", json={"expires_in": 60})
    assert status == 200
    for name, secret in (("access_token", minted["token"]), ("api_key", server.api_key)):
        url = f"ws://{server.host}:{server.port}/tts/websocket?{name}={secret}"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.close()
        await asyncio.sleep(0.2)
        shown_once = 1 if name == "api_key" else 0  # the first start prints its new key once
        assert server.log().count(secret) == shown_once, f"{name} leaked into the log"
    assert "access_token=[redacted]" in server.log()
