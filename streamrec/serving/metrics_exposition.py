"""What ``/metrics`` answers: this process's metrics or, under several API processes,
everyone's added up.

Each API process keeps its own counters, and a scrape reaches whichever process its
connection is handed to: with ``streamrec api --workers N`` a scraper would see
counters jump between processes' values. ``api_processes`` therefore gives the
processes one folder (prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``)
where each writes its values, and any process answers for all of them: counters and
histograms summed, gauges per their ``multiprocess_mode``.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, generate_latest, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_payload() -> bytes:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
