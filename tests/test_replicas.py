"""Several replicas on one PostgreSQL database: shared credits, tokens and voices, admission control,
SIGTERM drain and the Prometheus metrics (README: "Running several replicas").

Three ``gradium serve`` processes share a real PostgreSQL (tests/postgres.py), a voices directory
and a token secret: A and B as configured for production, C with room for two streams only (the
saturated replica), later drained with SIGTERM. Figures (seconds, counts) are printed for the README,
never asserted on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import CORPUS, LiveServer, start_server, stop_server
from postgres import Postgres, postgres  # noqa: F401  (the module-scoped fixture)
from wire import audio_frames, corpus_pcm, exchange, tts_frames

EMMA = "YTpq7expH9539ERJ"
TEXT = "Hello there."
LJ = CORPUS / "en_ljspeech_LJ001-0001.wav"


@dataclass
class Replicas:
    a: LiveServer
    b: LiveServer
    c: LiveServer  # --max-streams 2
    env: dict[str, str]
    voices_dir: Path


@pytest.fixture(scope="module")
def replicas(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:  # noqa: F811
    root = tmp_path_factory.mktemp("replicas")
    voices_dir = root / "shared-voices"
    for name in ("a", "b", "c"):
        (root / name).mkdir()
    env = {
        "GRADIUM_DATABASE_URL": postgres.url,
        "GRADIUM_VOICES_DIR": str(voices_dir),
        "GRADIUM_TOKEN_SECRET": "a secret every replica is configured with",
        "GRADIUM_TTS_NEURAL": "0",  # espeak-ng/flite: quick to start, the sharing is what is tested
        "GRADIUM_STT_ENGINE": "pocketsphinx",
        "GRADIUM_STT_WORKERS": "1",
        "GRADIUM_LOG_FORMAT": "json",
    }
    a = start_server(root / "a", env=env)  # bootstraps the shared database: prints the admin key
    servers = [a]
    try:
        servers.append(start_server(root / "b", env=env, api_key=a.api_key))
        servers.append(start_server(root / "c", "--max-streams", "2", "--drain-timeout", "60", env=env,
                                   api_key=a.api_key))
        yield Replicas(*servers, env=env, voices_dir=voices_dir)
    finally:
        for server in servers:
            if server.process.poll() is None:
                stop_server(server)
    for server in servers:
        assert "Traceback" not in server.log(), server.log()


def cli(replicas: Replicas, *args: str) -> subprocess.CompletedProcess[str]:
    """The admin command line against the shared database (GRADIUM_DATABASE_URL)."""
    env = {**os.environ, **replicas.env}
    return subprocess.run(
        [sys.executable, "-m", "gradium", *args], env=env, capture_output=True, text=True, timeout=60
    )


def new_key(replicas: Replicas, name: str, credits: int) -> tuple[int, str]:
    created = cli(replicas, "orgs", "create", name, "--credits", str(credits), "--json")
    assert created.returncode == 0, created.stderr
    org = json.loads(created.stdout)
    key = cli(replicas, "keys", "create", "--org", str(org["id"]), "--json")
    assert key.returncode == 0, key.stderr
    return int(org["id"]), str(json.loads(key.stdout)["key"])


async def post_tts(
    session: aiohttp.ClientSession, server: LiveServer, key: str, text: str = TEXT
) -> tuple[int, dict[str, str], bytes]:
    async with session.post(
        f"{server.base_url}post/speech/tts",
        json={"text": text, "voice_id": EMMA, "output_format": "wav"},
        headers={"x-api-key": key},
    ) as response:
        return response.status, dict(response.headers), await response.read()


async def balance(server: LiveServer, key: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(
        f"{server.base_url}usages/credits", headers={"x-api-key": key}
    ) as response:
        assert response.status == 200
        return int((await response.json())["remaining"])


def scrape(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (name, sorted labels) -> value."""
    import urllib.request

    with urllib.request.urlopen(f"{server.root_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def delta(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_200_concurrent_paid_requests_over_two_replicas_leave_the_exact_balance(
    replicas: Replicas,
) -> None:
    # What one request costs (1 credit per spoken character), measured on a throwaway organisation.
    _, probe = new_key(replicas, "probe", 1000)
    async with aiohttp.ClientSession() as session:
        status, _, _ = await post_tts(session, replicas.a, probe)
    assert status == 200
    cost = 1000 - await balance(replicas.b, probe)
    assert cost == len(TEXT)
    # Credits for 150 requests and a half: 200 at once over both replicas, exactly 150 must be paid.
    credits = 150 * cost + cost // 2
    _, key = new_key(replicas, "race", credits)
    began = time.monotonic()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        results = await asyncio.gather(*(
            post_tts(session, replicas.a if index % 2 else replicas.b, key) for index in range(200)
        ))
    elapsed = time.monotonic() - began
    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 150 and statuses.count(402) == 50, statuses
    assert all(body.startswith(b"RIFF") for status, _, body in results if status == 200)
    assert await balance(replicas.a, key) == await balance(replicas.b, key) == cost // 2
    summary = json.loads(cli(replicas, "keys", "list", "--json").stdout)
    assert summary  # the admin CLI reads the shared database
    check = cli(replicas, "orgs", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    print(f"\nFIGURE 200 concurrent paid requests over 2 replicas: {elapsed:.2f} s, 150 paid, 50 got 402")


async def test_a_token_minted_on_a_works_on_b(replicas: Replicas) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{replicas.a.root_url}/access-token",
            json={"grants": {"tts": True}, "expires_in": 60},
            headers={"x-api-key": replicas.a.api_key},
        ) as response:
            assert response.status == 200
            token = (await response.json())["token"]
        body = {
            "model_id": "sonic-2",
            "transcript": TEXT,
            "voice": {"mode": "id", "id": EMMA},
            "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000},
        }
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        for server, credential, expected in [(replicas.b, token, 200), (replicas.b, forged, 401)]:
            headers = {"Authorization": f"Bearer {credential}", "Cartesia-Version": "2025-04-16"}
            async with session.post(f"{server.root_url}/tts/bytes", json=body, headers=headers) as response:
                assert response.status == expected, await response.text()


async def test_a_voice_cloned_on_a_speaks_on_b_at_once(replicas: Replicas) -> None:
    form = aiohttp.FormData()
    form.add_field("audio_file", LJ.read_bytes(), filename="sample.wav", content_type="audio/wav")
    form.add_field("name", "Linda")
    form.add_field("language", "en")
    headers = {"x-api-key": replicas.a.api_key}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{replicas.a.base_url}voices/", data=form, headers=headers) as response:
            assert response.status == 201, await response.text()
            voice = await response.json()
        # The sample is in the shared directory, not in A's data directory.
        assert (replicas.voices_dir / "1" / voice["filename"]).read_bytes() == LJ.read_bytes()
        assert not (replicas.a.data_dir / "voices").exists()
        spoken = await exchange(replicas.b, "speech/tts", tts_frames("Good morning.", voice_id=voice["uid"]))
        assert spoken.close_code == 1000 and len(spoken.audio()) > 10_000, spoken.messages[-1]
        # A change made on B is what A serves next (no replica caches a voice).
        async with session.put(
            f"{replicas.b.base_url}voices/{voice['uid']}", json={"name": "Linda B"}, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
        async with session.get(f"{replicas.a.base_url}voices/{voice['uid']}", headers=headers) as response:
            assert (await response.json())["name"] == "Linda B"
        async with session.delete(f"{replicas.a.base_url}voices/{voice['uid']}", headers=headers) as response:
            assert response.status in (200, 204)
    gone = await exchange(replicas.b, "speech/tts", tts_frames("Good morning.", voice_id=voice["uid"]))
    assert gone.close_code == 1008 and "unknown voice_id" in gone.error()["message"]


async def test_metrics_count_what_was_done(replicas: Replicas) -> None:
    server = replicas.b
    _, key = new_key(replicas, "metrics", 10 * len(TEXT) + len(TEXT) // 2)
    before = scrape(server)
    # Three WebSocket syntheses, ten HTTP ones of which one runs out of credits, one transcription.
    for _ in range(3):
        done = await exchange(server, "speech/tts", tts_frames(TEXT, voice_id=EMMA), api_key=key)
        assert done.close_code == 1000
    async with aiohttp.ClientSession() as session:
        statuses = [(await post_tts(session, server, key))[0] for _ in range(8)]
    assert statuses == [200] * 7 + [402]
    _, stt_key = new_key(replicas, "metrics-stt", 1000)
    pcm = corpus_pcm(LJ.name)[: 24000 * 4].tobytes()
    heard = await exchange(server, "speech/asr", audio_frames(pcm, input_format="pcm"), api_key=stt_key)
    assert heard.close_code == 1000, heard.messages[-1]
    words = len(heard.of_type("text"))
    after = scrape(server)

    assert delta(before, after, "gradium_streams_total", route="/api/speech/tts") == 3
    assert delta(before, after, "gradium_streams_total", route="/api/post/speech/tts") == 8
    assert delta(before, after, "gradium_streams_total", route="/api/speech/asr") == 1
    assert after[("gradium_active_streams", (("route", "/api/speech/tts"),))] == 0
    # Every synthesis that was paid produced audio: 3 + 7 first audios, on the flite/espeak engines.
    first_audio = sum(
        delta(before, after, "gradium_tts_time_to_first_audio_seconds_count", engine=engine)
        for engine in ("flite", "espeak")
    )
    assert first_audio == 10
    assert delta(before, after, "gradium_credits_charged_total", service="tts") == 10 * len(TEXT)
    assert delta(before, after, "gradium_credits_charged_total", service="stt") == 1000 - await balance(
        server, stt_key
    )
    assert delta(before, after, "gradium_errors_total", kind="http_402") == 1
    assert words > 0 and delta(before, after, "gradium_stt_word_latency_seconds_count") == words
    assert ("gradium_engine_queue_depth", (("engine", "espeak"),)) in after
    assert ("gradium_worker_restarts_total", ()) in after


async def open_tts(session: aiohttp.ClientSession, server: LiveServer) -> aiohttp.ClientWebSocketResponse:
    """A TTS stream that is set up and waits for its text."""
    ws = await session.ws_connect(
        f"ws://{server.host}:{server.port}/api/speech/tts", headers={"x-api-key": server.api_key}
    )
    await ws.send_json({"type": "setup", "voice_id": EMMA, "output_format": "wav"})
    assert (await ws.receive_json())["type"] == "ready"
    return ws


async def finish_tts(ws: aiohttp.ClientWebSocketResponse, text: str) -> list[str]:
    """Send the rest of a stream's text and read it to its end: the message types received."""
    await ws.send_json({"type": "text", "text": text})
    await ws.send_json({"type": "end_of_stream"})
    kinds = [json.loads(message.data)["type"] async for message in ws]
    assert ws.close_code == 1000 and kinds[-1] == "end_of_stream" and "audio" in kinds, (ws.close_code, kinds)
    return kinds


async def test_a_saturated_replica_refuses_at_once_and_another_serves(replicas: Replicas) -> None:
    c, b = replicas.c, replicas.b
    async with aiohttp.ClientSession() as session:
        # Two open streams (waiting for their text) fill C.
        held = [await open_tts(session, c) for _ in range(2)]
        began = time.monotonic()
        status, headers, body = await post_tts(session, c, c.api_key)
        refuse_http = time.monotonic() - began
        assert status == 503 and headers["Retry-After"] == "1"
        assert "at capacity (2 of 2 streams)" in json.loads(body)["detail"]
        began = time.monotonic()
        refused = await exchange(c, "speech/tts", tts_frames(TEXT, voice_id=EMMA))
        refuse_ws = time.monotonic() - began
        assert refused.close_code == 1013 and refused.error()["code"] == 1013
        # The client (or the load balancer) tries another replica, which serves it.
        status, _, body = await post_tts(session, b, b.api_key)
        assert status == 200 and body.startswith(b"RIFF")
        for ws in held:
            await finish_tts(ws, TEXT)
        # With the streams ended, C takes work again.
        status, _, _ = await post_tts(session, c, c.api_key)
        assert status == 200
    assert scrape(c)[("gradium_refused_total", (("reason", "capacity"),))] == 2
    print(f"\nFIGURE saturated replica refuses: HTTP 503 in {refuse_http * 1000:.0f} ms, "
          f"WebSocket 1013 in {refuse_ws * 1000:.0f} ms")


async def test_sigterm_drains_streams_in_flight_while_the_other_replica_serves(replicas: Replicas) -> None:
    c, b = replicas.c, replicas.b
    async with aiohttp.ClientSession() as session:
        streams = [await open_tts(session, c) for _ in range(2)]
        for ws in streams:
            await ws.send_json({"type": "text", "text": "This sentence is spoken before the signal."})
            assert (await ws.receive_json())["type"] == "audio"
        c.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        # Draining: not ready (load balancers stop sending), new work refused, still alive.
        deadline = time.monotonic() + 10
        while True:
            async with session.get(f"{c.base_url}health/ready") as response:
                if response.status == 503:
                    assert "draining" in (await response.json())["problems"]["server"]
                    break
            assert time.monotonic() < deadline, "readiness never went to 503"
            await asyncio.sleep(0.05)
        status, headers, _ = await post_tts(session, c, c.api_key)
        assert status == 503 and "Retry-After" in headers
        refused = await exchange(c, "speech/tts", tts_frames(TEXT, voice_id=EMMA))
        assert refused.close_code == 1013 and "shutting down" in refused.error()["message"]
        async with session.get(f"{c.base_url}health/live") as response:
            assert response.status == 200
        # The other replica keeps serving.
        status, _, body = await post_tts(session, b, b.api_key)
        assert status == 200 and body.startswith(b"RIFF")
        # The streams in flight get their text after the signal, and finish normally.
        more = " And these three sentences after it. They are spoken in full. Then the stream ends."
        await asyncio.gather(*(finish_tts(ws, more) for ws in streams))
    assert c.process.wait(timeout=30) == 0
    exited = time.monotonic() - signalled
    drained = re.search(r"drained in ([0-9.]+) s", c.log())
    assert drained is not None, c.log()
    print(f"\nFIGURE SIGTERM, 2 streams open: drained in {drained.group(1)} s, exit after {exited:.2f} s")


async def test_json_log_lines_carry_the_request_id(replicas: Replicas) -> None:
    server = replicas.b
    headers = {"x-api-key": "gd_" + "x" * 40, "x-request-id": "trace-42"}
    async with aiohttp.ClientSession() as session, session.post(
        f"{server.base_url}post/speech/tts", json={"text": TEXT}, headers=headers
    ) as response:
        assert response.status == 401 and response.headers["x-request-id"] == "trace-42"
    deadline = time.monotonic() + 10
    while True:  # the access line is written once the response has gone
        lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        mine = [line for line in lines if line.get("request_id") == "trace-42"]
        if len(mine) >= 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert {line["logger"] for line in mine} == {"gradium.protocol", "uvicorn.access"}, mine
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
