"""Search quality, ingest and latency on Home Depot, through the live system.

    .venv/bin/python -m bench.bench_search_quality --data-dir ../shared/data \
        [--limit-products N] [--limit-queries N]

A thin wrapper over ``streamrec.evaluation.search_evaluation`` (the code behind
``streamrec eval search``; its docstring says what is measured and how): the same live
run with this bench's historical defaults (every judged query, not only the held-out
test split; 500 queries for the single-client latency; 8 clients for 60 s). Prints a
table, then ONE JSON line.

With --limit-products, judgments of products not published are dropped (and queries
left with none); scores are then only a smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError
from streamrec.evaluation.run_context import load_avg
from streamrec.evaluation.search_evaluation import (
    SearchEvaluationConfig,
    run_search_evaluation,
)
from streamrec.evaluation.search_metrics import RELEVANT_AT, Quality, pcts, score

__all__ = ["RELEVANT_AT", "Quality", "main", "pcts", "score"]


def print_table(result: dict[str, Any], machine: str, clients: int) -> None:
    ingest = result["ingest"]
    print()
    print(f"Search on Home Depot through the live system ({result['products']:,} products, "
          f"{result['queries']:,} queries; {machine})")
    print(f"ingest: {ingest['products']:,} products in {ingest['seconds']} s = "
          f"{ingest['products_per_s']:,} products/s (steady 10-90%: "
          f"{ingest['steady_products_per_s_10_90']}/s; publish {ingest['publish_seconds']} s; "
          f"all embedded at {ingest['all_embedded_s']} s; CPU s {ingest['cpu_seconds']}; "
          f"load {ingest['load_avg_before']} -> {ingest['load_avg_after']})")
    header = (f"{'variant':<16} {'NDCG@10':>8} {'P@10':>7} {'R@100':>7} {'zero':>7} "
              f"{'judged NDCG@10':>15}")
    print(header)
    print("-" * len(header))
    for name, qv in result["quality"].items():
        judged = result["judged_only"][name]["judged_ndcg_at_10"]
        print(f"{name:<16} {qv['ndcg_at_10']:>8.4f} {qv['p_at_10']:>7.4f} "
              f"{qv['recall_at_100']:>7.4f} {qv['zero_result_rate']:>7.4f} {judged:>15.4f}")
    print("rungs (live): " + ", ".join(f"{r}={v['share']:.3f} (NDCG {v['ndcg_at_10']:.3f})"
                                       for r, v in result["rungs"].items()))
    passes = [("k=100 quality pass", result["latency_k100_quality_pass"]),
              ("k=10, 1 client", result["latency_k10_single_client"])]
    if result["latency_k10_concurrent"]:
        passes.append((f"k=10, {clients} clients", result["latency_k10_concurrent"]))
    for label, lat in passes:
        ms = lat["latency_ms"]
        print(f"latency {label:<20} p50 {ms['p50']:>7.1f}  p95 {ms['p95']:>7.1f}  "
              f"p99 {ms['p99']:>7.1f} ms; {lat['requests_per_s']:>6.1f} req/s "
              f"({lat['requests']} requests, {lat['errors']} errors, "
              f"load {lat['load_avg_before']} -> {lat['load_avg_after']})")
    if result["latency_k10_concurrent"]:
        lat = result["latency_k10_concurrent"]
        client_ms = 1000 * lat["client_cpu_s"] / max(1, lat["requests"])
        print(f"API CPU at k=10, {clients} clients: {lat['api_cpu_ms_per_request']} ms per "
              f"request ({lat['api_workers']} API processes); load generator "
              f"{client_ms:.2f} ms; queries: {lat.get('load_mix', 'repeat')} "
              f"({lat['distinct_queries']} distinct)")
        print(f"server stages at k=10, {clients} clients (p50/p95 ms): " + ", ".join(
            f"{s} {v['p50']}/{v['p95']}"
            for s, v in result["latency_k10_concurrent"]["stages_ms"].items()))
    for key, rows in result["examples"].items():
        print(f"examples {key}: " + "; ".join(
            f"{e['q']!r}" + (f" -> {e['executed']!r}" if e["executed"] not in (None, e["q"])
                             else "") for e in rows))
    print(f"total run: {result['total_s']:.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--limit-products", type=int, default=None, help="default: all")
    parser.add_argument("--limit-queries", type=int, default=None, help="default: all")
    parser.add_argument("--split", choices=("all", "test"), default="all",
                        help="test: only the held-out test queries (streamrec.rerank)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--redis-url", help="use this Redis instead of starting one")
    parser.add_argument("--quality-concurrency", type=int, default=4,
                        help="clients for the k=100 quality pass")
    parser.add_argument("--latency-sample", type=int, default=500,
                        help="queries for the single-client k=10 latency")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--load-requests", type=int, default=3000)
    parser.add_argument("--load-mix", choices=("repeat", "distinct"), default="repeat",
                        help="k=10 load phase: the split's queries cycled (repeat), or "
                             "queries never asked before in the run (distinct: every query "
                             "embedding a miss)")
    parser.add_argument("--ingest-timeout", type=float, default=3600.0)
    parser.add_argument("--ingest-stall", type=float, default=300.0,
                        help="fail when nothing new is searchable for this long")
    parser.add_argument("--api-workers", type=int, default=2,
                        help="API processes (each its own index replica; 2 cores here)")
    parser.add_argument("--encoder-threads", type=int, default=2,
                        help="ONNX threads for the offline query embedding")
    args = parser.parse_args(argv)

    config = SearchEvaluationConfig(
        data_dir=args.data_dir, limit_products=args.limit_products,
        limit_queries=args.limit_queries, split=args.split, partitions=args.partitions,
        bootstrap=args.bootstrap, redis_url=args.redis_url,
        quality_concurrency=args.quality_concurrency, latency_sample=args.latency_sample,
        clients=args.clients, load_seconds=args.load_seconds,
        load_requests=args.load_requests, load_mix=args.load_mix,
        ingest_timeout=args.ingest_timeout,
        ingest_stall=args.ingest_stall, encoder_threads=args.encoder_threads,
        api_workers=args.api_workers)
    try:
        result = run_search_evaluation(config)
    except (DatasetMissingError, DatasetFormatError) as exc:
        raise SystemExit(f"Home Depot data unavailable: {exc}") from exc
    except ValueError as exc:  # e.g. a reranker with a search log asked to score every query
        raise SystemExit(f"error: {exc}") from exc
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    print_table(result, machine, args.clients)
    result = {"bench": "search_quality",
              "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": machine, "cores": os.cpu_count(), "load_avg_end": load_avg(),
              **{k: v for k, v in result.items()
                 if k not in ("bench", "metrics", "per_query_ndcg_at_10")}}
    print(json.dumps(result, separators=(",", ":")))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
