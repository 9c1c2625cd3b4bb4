"""The README's client and command-line examples run, verbatim, against a real server."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, LiveServer

README = (REPO / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


PYTHON_EXAMPLES = blocks(section("Python client"), "python")
SHELL_EXAMPLES = [
    line.split("#")[0].strip()
    for block in blocks(section("Command line"), "bash")
    for line in block.splitlines()
    if line.strip()
]


def test_readme_has_examples() -> None:
    assert len(PYTHON_EXAMPLES) >= 3 and len(SHELL_EXAMPLES) >= 5


@pytest.mark.parametrize("index", range(len(PYTHON_EXAMPLES)))
def test_python_example(live_server: LiveServer, index: int, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PYTHON_EXAMPLES[index]],
        env=live_server.env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    if index == 0:
        assert "thursday" in done.stdout.lower()  # the transcript heard the spoken words
    if index == 1:
        assert "rejected: 401" in done.stdout


def test_command_line_examples(live_server: LiveServer, tmp_path: Path) -> None:
    """Run the shell block line by line (pipes included), in order, in one directory."""
    for line in SHELL_EXAMPLES:
        command = line.replace("gradium ", f"{shlex.quote(sys.executable)} -m gradium ")
        done = subprocess.run(
            command,
            shell=True,
            env=live_server.env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{line}\n{done.stderr}"
    assert (tmp_path / "hello.wav").read_bytes().startswith(b"RIFF")
    assert (tmp_path / "stdin.ogg").read_bytes().startswith(b"OggS")
