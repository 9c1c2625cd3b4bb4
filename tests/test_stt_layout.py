"""How many STT worker processes, and threads in each, a server starts by default."""

from __future__ import annotations

from gradium.workers.stt_pool import pool_layout


def test_pool_layout_gives_whisper_threads_and_pocketsphinx_processes() -> None:
    assert pool_layout(2, "whisper", None, None) == (1, 2)
    assert pool_layout(16, "whisper", None, None) == (4, 4)
    assert pool_layout(2, "whisper", 2, None) == (2, 1)  # the cores shared out among the workers
    assert pool_layout(8, "whisper", None, 3) == (3, 3)
    assert pool_layout(4, "pocketsphinx", None, None) == (4, 1)  # it holds the GIL
    assert pool_layout(1, "whisper", None, None) == (1, 1)
