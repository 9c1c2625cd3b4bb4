"""The server under test: one started here (``gradium serve`` on a free port) or one given by URL."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

KEY_LINE = re.compile(r"API key \(shown once[^)]*\): (\S+)")
# Enough credits for a full run, including a 10,000-request soak, on a server started here.
BENCH_CREDITS = 1_000_000_000


@dataclass
class Target:
    base_url: str  # ends with /api/
    api_key: str
    pid: int | None  # known only for a local server: memory and CPU figures need it
    process: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(work_dir: Path, extra_args: tuple[str, ...] = ()) -> Target:
    """Start ``gradium serve`` with a fresh data directory and wait until it is healthy."""
    port = _free_port()
    log_path = work_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gradium",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(work_dir / "data"),
                "--initial-credits",
                str(BENCH_CREDITS),
                "--log-level",
                "warning",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}/api/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(base + "health", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"server did not become healthy:\n{log_path.read_text(errors='replace')}")
    match = KEY_LINE.search(log_path.read_text(errors="replace"))
    if match is None:
        process.kill()
        raise RuntimeError("the server printed no API key")
    return Target(base, match.group(1), process.pid, process)


def attach(base_url: str, api_key: str, pid: int | None) -> Target:
    if not base_url.endswith("/"):
        base_url += "/"
    return Target(base_url, api_key, pid)
