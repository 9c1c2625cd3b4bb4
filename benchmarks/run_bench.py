"""Thin runner for the committed benchmark: ``python benchmarks/run_bench.py [gradium bench options]``.

Same as ``gradium bench --out benchmarks/results``; it replaces the first rough capacity script.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gradium.cli.bench import bench

if __name__ == "__main__":
    bench.main(["--out", str(Path(__file__).parent / "results"), *sys.argv[1:]])
