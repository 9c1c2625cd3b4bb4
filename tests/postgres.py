"""A throwaway PostgreSQL cluster for tests: Debian's ``postgresql`` package, started per module.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free port (TCP on 127.0.0.1, its
socket in that directory), one database ``gradium``, trust authentication; stopped and deleted
afterwards. PostgreSQL refuses to run as root, so under root (CI) the server runs as the
``postgres`` system user the package creates. ``scripts/test.sh`` installs the package and sets
``GRADIUM_REQUIRE_POSTGRES=1``, so that in CI a missing PostgreSQL fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import free_port


def postgres_bin() -> Path | None:
    """The newest installed server's bin directory (``/usr/lib/postgresql/<major>/bin``)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return found[-1].parent if found else None


@dataclass
class Postgres:
    url: str  # postgresql://gradium@127.0.0.1:<port>/gradium
    root: Path
    bin: Path
    as_user: list[str]

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self.as_user, str(self.bin / tool), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "stop"],
            capture_output=True, timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL is not installed (apt-get install postgresql; scripts/test.sh does it)"
        if os.environ.get("GRADIUM_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    # Not pytest's tmp_path: its parents are private to root, and the server may run as postgres.
    root = Path(tempfile.mkdtemp(prefix="gradium-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    pg = Postgres(f"postgresql://gradium@127.0.0.1:{port}/gradium", root, bin_dir, as_user)
    data = root / "data"
    # fsync off: a test cluster is thrown away, and durability costs seconds per test on a busy disk.
    pg.run("initdb", "-D", str(data), "-U", "gradium", "--auth=trust", "-E", "UTF8", "--no-sync")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    pg.run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
    pg.run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "gradium", "gradium")
    return pg


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    pg = start_postgres()
    try:
        yield pg
    finally:
        pg.stop()
