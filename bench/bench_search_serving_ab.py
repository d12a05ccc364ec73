"""Search serving A/B on one ingest: `/v1/search` latency and API CPU of configurations
run in turn, several rounds, on the same catalog and the same queries.

On this shared box the same code's 8-client p95 moves by 10-30% between runs minutes
apart (its CPU per request with it: 7.7 against 9.9 ms in two runs of
``bench_search_quality``), more than the effects worth measuring. So this bench ingests
the Home Depot catalog once, then for each round restarts the API under every variant
(ABBA order in alternate rounds, so a drift of the box does not favour one) and drives
the same distinct queries at it (a restarted API has an empty embedding cache: every
query is a miss, every time). A variant is ``NAME:KEY=VALUE,...`` of ``STREAMREC_*``
settings for the API, or ``PYTHONPATH`` to run another checkout's code (a ``git
worktree`` of the commit to compare with); ``base`` (no change) always runs.

    python -m bench.bench_search_serving_ab --variant fast:RERANK_MAX_DEPTH=50 --rounds 3
    git worktree add /tmp/before HEAD~1
    cd /tmp && PYTHONPATH=$OLDPWD python -m bench.bench_search_serving_ab \
        --data-dir $OLDPWD/../shared/data --variant before:PYTHONPATH=/tmp/before

(from outside the checkout: the API processes run ``python -m streamrec``, which puts
the current folder first on the import path, ahead of a variant's ``PYTHONPATH``).

Prints one line per run, the medians per variant, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamrec.evaluation.deployment_services import deployment_settings
from streamrec.evaluation.live_deployment import LiveDeployment, tree_cpu_seconds
from streamrec.evaluation.phase_progress import LogPhaseProgress
from streamrec.evaluation.run_context import load_avg
from streamrec.evaluation.search_evaluation import (
    INGEST_ENV,
    drive,
    ingest,
    latency_summary,
    load_catalog,
    load_judgments,
)
from streamrec.streams.admin import ensure_topics


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:KEY=VALUE,KEY=VALUE`` -> (name, {STREAMREC_KEY: VALUE}); PYTHONPATH is
    kept as it is."""
    name, _, assignments = text.partition(":")
    if not name or not assignments:
        raise argparse.ArgumentTypeError(f"expected NAME:KEY=VALUE[,...], got {text!r}")
    env = {}
    for assignment in assignments.split(","):
        key, sep, value = assignment.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {assignment!r}")
        key = key.strip().upper()
        if key != "PYTHONPATH" and not key.startswith("STREAMREC_"):
            key = f"STREAMREC_{key}"
        env[key] = value.strip()
    return name, env


def run_order(names: Sequence[str], round_no: int) -> list[str]:
    """Every variant once; odd rounds reversed (ABBA), so drift favours none."""
    return list(names) if round_no % 2 == 0 else list(reversed(names))


def measure(live: LiveDeployment, base_env: dict[str, str], env: dict[str, str],
            queries: Sequence[str], warm: Sequence[str], clients: int) -> dict[str, Any]:
    live.env = dict(base_env)  # restart_api adds to what it was given last time
    live.restart_api(env)
    drive(live.url, warm, 10)
    api_pid = live.pids()["api"]
    before = load_avg()
    cpu0 = tree_cpu_seconds(api_pid)
    replies, wall, client_cpu = drive(live.url, queries, 10, clients)
    summary = latency_summary(replies, wall, client_cpu, clients, before)
    summary["api_cpu_ms_per_request"] = round(
        1000 * (tree_cpu_seconds(api_pid) - cpu0) / max(1, summary["requests"]), 2)
    return summary


def median_row(runs: list[dict[str, Any]]) -> dict[str, float]:
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    return {"p50_ms": med([r["latency_ms"]["p50"] for r in runs]),
            "p95_ms": med([r["latency_ms"]["p95"] for r in runs]),
            "p99_ms": med([r["latency_ms"]["p99"] for r in runs]),
            "requests_per_s": med([r["requests_per_s"] for r in runs]),
            "api_cpu_ms_per_request": med([r["api_cpu_ms_per_request"] for r in runs]),
            "errors": sum(r["errors"] for r in runs)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--variant", action="append", type=parse_variant, default=[],
                        help="NAME:KEY=VALUE,... (STREAMREC_ settings of the API); repeatable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000, help="per run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--limit-products", type=int, default=None, help="default: all")
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args(argv)
    variants = {"base": {}, **dict(args.variant)}
    if len(variants) < 2:
        parser.error("give at least one --variant to compare with base")

    progress = LogPhaseProgress()
    started = time.perf_counter()
    records = load_catalog(args.data_dir, args.limit_products)
    every = list(load_judgments(args.data_dir, None, None, "all"))
    queries = random.Random(12).sample(every, min(args.requests, len(every)))
    warm = [r["title"] for r in random.Random(3).sample(records, min(20, len(records)))]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    with deployment_settings(None, None, topic_partitions=args.partitions) as settings:
        ensure_topics(settings)
        with LiveDeployment(settings, env=dict(INGEST_ENV),
                            api_workers=args.api_workers) as live:
            with progress.phase("starting the worker and the API"):
                live.start()
            ingest(live, settings, records, 3600.0, 300.0, progress)
            base_env = dict(live.env)
            for round_no in range(args.rounds):
                for name in run_order(list(variants), round_no):
                    run = measure(live, base_env, variants[name], queries, warm, args.clients)
                    runs[name].append(run)
                    lat = run["latency_ms"]
                    print(f"round {round_no + 1} {name:>12}: p50 {lat['p50']:6.1f}  p95 "
                          f"{lat['p95']:6.1f}  p99 {lat['p99']:6.1f} ms  "
                          f"{run['requests_per_s']:6.1f} req/s  API CPU "
                          f"{run['api_cpu_ms_per_request']:5.2f} ms/request  load "
                          f"{run['load_avg_before'][0]}", flush=True)
    summary = {name: median_row(r) for name, r in runs.items()}
    print(f"\nmedians over {args.rounds} rounds, {len(queries):,} distinct queries per run, "
          f"{args.clients} clients, {args.api_workers} API processes:")
    for name, row in summary.items():
        print(f"  {name:>12}: p50 {row['p50_ms']:6.1f}  p95 {row['p95_ms']:6.1f}  p99 "
              f"{row['p99_ms']:6.1f} ms  {row['requests_per_s']:6.1f} req/s  API CPU "
              f"{row['api_cpu_ms_per_request']:5.2f} ms/request")
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    print(json.dumps({
        "bench": "search_serving_ab", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine, "products": len(records), "requests_per_run": len(queries),
        "clients": args.clients, "api_workers": args.api_workers, "rounds": args.rounds,
        "variants": {name: env for name, env in variants.items()}, "medians": summary,
        "runs": {name: [{"p50_ms": r["latency_ms"]["p50"], "p95_ms": r["latency_ms"]["p95"],
                         "requests_per_s": r["requests_per_s"],
                         "api_cpu_ms_per_request": r["api_cpu_ms_per_request"],
                         "load_avg_before": r["load_avg_before"]} for r in rs]
                 for name, rs in runs.items()},
        "total_s": round(time.perf_counter() - started, 1)}, separators=(",", ":")))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
