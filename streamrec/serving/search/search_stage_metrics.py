"""Per-stage timing of the search and similar-items pipelines (one histogram, by stage name)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

STAGE_SECONDS = Histogram(
    "streamrec_search_stage_seconds", "Time spent in one stage of a search request", ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
RUNGS = Counter("streamrec_search_rung_total", "Which fallback rung served a search", ["rung"])


@contextmanager
def timed(stage: str, timings: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        timings[stage] = round(elapsed * 1000, 3)
        STAGE_SECONDS.labels(stage).observe(elapsed)
