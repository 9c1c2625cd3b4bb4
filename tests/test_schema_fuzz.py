"""schemathesis against the server's OpenAPI document: generated requests never get a 5xx.

It covers every HTTP operation (Gradium, Cartesia and OpenAI routes) with schema-derived and
fuzzed bodies, plus stateful sequences, on a server of its own, with a fixed seed so that a
failure reproduces.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import LiveServer, start_server, stop_server

SEED = "149246684952053553336783392681363784298"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("schema-fuzz"))
    yield live
    stop_server(live)
    assert "Traceback" not in live.log(), live.log()[-4000:]


def test_no_generated_request_gets_a_server_error(server: LiveServer) -> None:
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [str(st), "run", f"{server.root_url}/openapi.json", "--checks", "not_a_server_error",
         "-H", f"x-api-key: {server.api_key}", "-H", f"Authorization: Bearer {server.api_key}",
         "--max-examples", "15", "--workers", "1", "--seed", SEED, "--request-timeout", "120"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout.split("SUMMARY")[-1]
