"""Shared fixtures: a real ``gradium serve`` subprocess on a free port with a temporary data dir."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"
# The official clients live in their own virtual environment (our package is also named gradium).
OFFICIAL_PYTHON = Path(
    os.environ.get("GRADIUM_OFFICIAL_PYTHON", REPO / ".peers" / "official" / "bin" / "python")
)

KEY_LINE = re.compile(r"API key \(shown once[^)]*\): (\S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running server: where it listens, its admin key, its data directory and its log."""

    host: str
    port: int
    api_key: str
    data_dir: Path
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/"

    def env(self) -> dict[str, str]:
        """Environment for a client subprocess pointed at this server."""
        return {**os.environ, "GRADIUM_BASE_URL": self.base_url, "GRADIUM_API_KEY": self.api_key}

    def cli(
        self, *args: str, input: str | bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``gradium`` command line against this server's data directory / URL."""
        return subprocess.run(
            [sys.executable, "-m", "gradium", *args],
            env=self.env(),
            input=input if isinstance(input, str) or input is None else input.decode(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    tmp: Path, *extra: str, env: dict[str, str] | None = None, api_key: str | None = None
) -> LiveServer:
    """``api_key``: a key that already exists (a replica whose shared database was bootstrapped by
    another, so that it prints none)."""
    port = free_port()
    data_dir = tmp / "data"
    log_path = tmp / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gradium",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"server did not become healthy:\n{log_path.read_text()}")
    if api_key is None:
        match = KEY_LINE.search(log_path.read_text())
        if match is None:
            process.kill()
            raise RuntimeError(f"server printed no API key:\n{log_path.read_text()}")
        api_key = match.group(1)
    return LiveServer("127.0.0.1", port, api_key, data_dir, process, log_path)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole session (tests must not depend on each other's credit usage)."""
    server = start_server(tmp_path_factory.mktemp("server"))
    yield server
    stop_server(server)
    assert "Traceback" not in server.log(), server.log()


def run_official(script: str, server: LiveServer, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a Python snippet with the official gradium==0.6.4 / cartesia==2.0.17 clients."""
    if not OFFICIAL_PYTHON.exists():
        pytest.fail(f"official clients not installed at {OFFICIAL_PYTHON} (run .ci/setup-peers)")
    return subprocess.run(
        [str(OFFICIAL_PYTHON), "-c", script],
        env={**server.env(), "PYTHONPATH": ""},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def official_results(script: str, server: LiveServer, timeout: float = 120) -> dict[str, Any]:
    """Run ``script`` (which fills a dict named ``out``) with the official clients; return ``out``."""
    done = run_official(script + '\nprint("RESULT " + json.dumps(out))\n', server, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    values: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return values
