"""Percentile summaries shared by every benchmark section (plain floats, so they go straight to JSON)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Summary = dict[str, float | int | None]


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summarize(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> Summary:
    """n, p50, p95, max and mean of ``values`` times ``scale`` (e.g. 1000 for seconds -> ms)."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value * scale, digits)

    return {
        "n": len(values),
        "p50": rounded(percentile(values, 50)),
        "p95": rounded(percentile(values, 95)),
        "max": rounded(max(values)) if values else None,
        "mean": rounded(float(np.mean(values))) if values else None,
    }


def ratio(server: float | int | None, raw: float | int | None) -> float | None:
    """server / raw, or None when either is missing or raw is zero (no meaningful ratio)."""
    if server is None or raw is None or raw <= 0 or math.isnan(float(raw)):
        return None
    return round(float(server) / float(raw), 2)
