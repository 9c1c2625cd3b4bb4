"""Memory and CPU of a server process tree, read from Linux ``/proc`` (no psutil dependency).

The server is one main process (event loop + TTS engine threads) plus STT worker processes, so
memory is reported for the main process alone and for the whole tree. RSS counts shared pages in
every process that maps them; PSS splits them, so the tree's PSS is what the server really costs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_MB = 1024 * 1024


def available() -> bool:
    return (_PROC / "self" / "stat").exists()


def _stat_fields(pid: int) -> list[str]:
    text = (_PROC / str(pid) / "stat").read_text()
    # The command name (field 2) may contain spaces; everything after its closing paren is fixed.
    return text[text.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """All descendants of ``pid`` (STT workers and anything they spawn)."""
    parents: dict[int, int] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue  # the process exited while we looked
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads) since it started."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _kb_field(path: Path, name: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass(frozen=True)
class Memory:
    main_rss_mb: float
    tree_rss_mb: float
    tree_pss_mb: float
    processes: int


def memory(pid: int) -> Memory:
    main = _kb_field(_PROC / str(pid) / "status", "VmRSS")
    rss, pss, count = 0, 0, 0
    for member in [pid, *children(pid)]:
        try:
            rss += _kb_field(_PROC / str(member) / "status", "VmRSS")
            pss += _kb_field(_PROC / str(member) / "smaps_rollup", "Pss")
            count += 1
        except OSError:
            continue
    return Memory(round(main / _MB, 1), round(rss / _MB, 1), round(pss / _MB, 1), count)
