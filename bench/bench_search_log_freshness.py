"""Search-click freshness: a click posted to ``/v1/events`` → counted by the API's reranker.

    .venv/bin/python -m bench.bench_search_log_freshness [--model PATH] [--clicks 300] \
        [--rate 20]

Starts its own Kafka and Redis, one worker and one API process serving a reranker trained
with a search log (default: the model file ``streamrec train reranker`` writes). Posts
``--clicks`` search clicks (CLICK events carrying a query, each a new (query, sku) pair)
one request each through ``POST /v1/events`` at ``--rate`` a second, after
``--warm-up`` clicks that are not measured, and polls the API's gauge
``streamrec_search_log_pairs`` every ``--poll-ms``. Every click comes from one user, so
they share a ``user.events`` partition and arrive in order: click i is counted when the
gauge reaches its start value + i. Path measured: HTTP → Kafka → users worker (recorder,
Redis stream) → the API's follower → the search log the rerank features read. Reports
p50/p90/p99/max of post → counted and how many never arrived within ``--timeout``.
Prints a table, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from streamrec.evaluation.deployment_services import deployment_settings
from streamrec.evaluation.live_deployment import LiveDeployment
from streamrec.evaluation.run_context import load_avg
from streamrec.rerank.reranker_model_file import search_log_pairs
from streamrec.settings import load_settings
from streamrec.streams.admin import ensure_topics

GAUGE = "streamrec_search_log_pairs"


def gauge_value(text: str) -> float | None:
    """The gauge's sample (exactly this name: the counter beside it shares the prefix)."""
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == GAUGE:
            return float(value)
    return None


class GaugePoller(threading.Thread):
    """Polls the API's /metrics; remembers when the gauge first reached each value."""

    def __init__(self, url: str, interval_s: float) -> None:
        super().__init__(name="gauge-poller", daemon=True)
        self.url = url
        self.interval_s = interval_s
        self.reached: list[tuple[float, float]] = []  # (perf_counter, value), values rising
        self.stopped = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stopped.is_set():
                try:
                    value = gauge_value(client.get(self.url).text)
                except httpx.HTTPError:
                    value = None
                now = time.perf_counter()
                if value is not None and (not self.reached or value > self.reached[-1][1]):
                    self.reached.append((now, value))
                self.stopped.wait(self.interval_s)

    def latest(self) -> float:
        return self.reached[-1][1] if self.reached else 0.0

    def first_at_least(self, value: float) -> float | None:
        return next((t for t, v in self.reached if v >= value), None)


def click(n: int, run: str) -> dict[str, Any]:
    return {"event_id": f"{run}-click-{n}", "user_id": f"{run}-shopper", "type": "CLICK",
            "sku": f"{run}-product-{n % 50}", "query": f"bench query {run} {n}",
            "ts": int(time.time() * 1000)}


def pcts(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 1),
            "p90": round(float(np.percentile(a, 90)), 1),
            "p99": round(float(np.percentile(a, 99)), 1), "max": round(float(a.max()), 1),
            "n": len(values)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a reranker model file with a search log (default: "
                             "<cache_dir>/rerank/lightgbm-reranker.json)")
    parser.add_argument("--clicks", type=int, default=300)
    parser.add_argument("--warm-up", type=int, default=20)
    parser.add_argument("--rate", type=float, default=20.0, help="clicks a second")
    parser.add_argument("--poll-ms", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds after the last click to wait for the stragglers")
    args = parser.parse_args(argv)

    base = load_settings()
    model = (args.model or base.cache_dir / "rerank" / "lightgbm-reranker.json").expanduser()
    if not model.is_file():
        raise SystemExit(f"no model file at {model}: run `streamrec train reranker` first")
    if not search_log_pairs(model):
        raise SystemExit(f"{model} has no search log: train it without --no-search-log")

    started = time.perf_counter()
    run = f"r{int(time.time())}"
    with deployment_settings(None, None) as settings:
        ensure_topics(settings)
        with LiveDeployment(settings, env={"STREAMREC_RERANK_MODEL_PATH": str(model)},
                            api_workers=1) as live:
            live.start()
            poller = GaugePoller(f"{live.url}/metrics", args.poll_ms / 1000)
            poller.start()
            while not poller.reached:  # the follower has read the model file's log
                time.sleep(0.05)
            start_value = poller.latest()
            load_before = load_avg()
            sent: list[float] = []
            total = args.warm_up + args.clicks
            t0 = time.perf_counter()
            with httpx.Client(timeout=10) as client:
                for n in range(total):
                    due = t0 + n / args.rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                    sent.append(time.perf_counter())
                    response = client.post(f"{live.url}/v1/events", json=[click(n, run)])
                    response.raise_for_status()
                    if response.json().get("accepted") != 1:
                        raise SystemExit(f"click {n} was not accepted: {response.text}")
            deadline = time.perf_counter() + args.timeout
            while poller.latest() < start_value + total and time.perf_counter() < deadline:
                time.sleep(0.05)
            poller.stopped.set()
            poller.join()
            load_after = load_avg()

    latencies: list[float] = []
    lost = 0
    for n in range(args.warm_up, total):
        at = poller.first_at_least(start_value + n + 1)
        if at is None:
            lost += 1
        else:
            latencies.append((at - sent[n]) * 1000)
    stats = pcts(latencies)
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    print(f"search-click freshness, {args.clicks} clicks at {args.rate:g}/s "
          f"(after {args.warm_up} warm-up), model {model.name} ({machine})")
    print(f"  post -> counted by the API's search log: p50 {stats.get('p50')} ms, "
          f"p90 {stats.get('p90')} ms, p99 {stats.get('p99')} ms, max {stats.get('max')} ms; "
          f"{lost} of {args.clicks} not counted within {args.timeout:g} s")
    print(f"  load {load_before} -> {load_after}; total run "
          f"{time.perf_counter() - started:.0f} s")
    print(json.dumps({
        "bench": "search_log_freshness",
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine,
        "model": str(model), "clicks": args.clicks, "warm_up": args.warm_up,
        "rate": args.rate, "poll_ms": args.poll_ms, "latency_ms": stats, "lost": lost,
        "load_avg_before": load_before, "load_avg_after": load_after}))


if __name__ == "__main__":
    main()
