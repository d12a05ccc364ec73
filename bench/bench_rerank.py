"""Learned reranking on Home Depot: quality on held-out queries, and the stage's cost.

    .venv/bin/python -m bench.bench_rerank --data-dir ../shared/data \
        [--model PATH] [--cross-encoder PATH] [--depths 20,50,100]
        [--cross-encoder-depths 10,20,30] [--cascade PATH] [--cascade-depths 100]
        [--limit-queries N]

In-process, on the same retrieval the API runs (``OfflineHybridRetrieval``: tiered BM25
+ exact inner product over the API's MiniLM vectors, fused convex 0.8/0.2, top 100).
Only the TEST queries of the deterministic query split (``rerank/query_split.py``,
the split ``streamrec train reranker`` trained and early-stopped without) are scored.

For each depth: NDCG@10 and P@10 (relevance >= 2.5 relevant; ``score`` of
bench_search_quality) of BM25 alone, the hybrid as served today, and hybrid reranked
by each model, all in this one run (a cascade file, ``streamrec train cascade``: LightGBM
over the depth, the cross-encoder over LightGBM's top as tuned on validation); and the
rerank stage's latency per query (features and scoring through ``SearchRerankStage``,
one thread, queries one at a time, as one request would run it), p50/p95/p99.
``gain_per_p95_ms`` = NDCG@10 gained over hybrid per millisecond of p95. The load average
is printed next to the times (2 shared cores).
Prints a table, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bench_search_quality import pcts, score
from streamrec.indexer.index_settings import encoder_config
from streamrec.rerank.judged_catalog import load_homedepot
from streamrec.rerank.offline_hybrid_retrieval import OfflineHybridRetrieval
from streamrec.rerank.query_split import query_split
from streamrec.rerank.rerank_candidate import RerankQuery
from streamrec.rerank.rerank_depth_budget import RerankBudgetConfig, RerankDepthBudget
from streamrec.rerank.rerank_stage_loader import load_reranker
from streamrec.rerank.reranker_training_run import catalog_vectors
from streamrec.rerank.search_rerank_stage import SearchRerankStage
from streamrec.rerank.search_reranker import SearchReranker
from streamrec.serving.rank_fusion import RankFusion
from streamrec.settings import load_settings


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_reranker(reranker: SearchReranker, depth: int, test: Sequence[tuple[str, Any, Any]],
                 retrieval: OfflineHybridRetrieval) -> tuple[dict[str, list[str]], list[float]]:
    """Rankings of the test queries reranked at ``depth``, and the stage time per query."""
    stage = SearchRerankStage(reranker, RerankDepthBudget(
        RerankBudgetConfig(budget_ms=1e9, min_depth=depth, max_depth=depth),
        reranker.default_candidate_ms))
    rankings: dict[str, list[str]] = {}
    times: list[float] = []
    for query, vector, lists in test:
        t0 = time.perf_counter()
        items, _ = stage.rerank(RerankQuery(query), lists.fused,
                                lambda d, lists=lists, vector=vector:
                                retrieval.candidates(lists, vector, d))
        times.append((time.perf_counter() - t0) * 1000)
        rankings[query] = [sku for sku, _ in items[:100]]
    return rankings, times


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--model", type=Path,
                        default=settings.cache_dir / "rerank" / "lightgbm-reranker.json")
    parser.add_argument("--cross-encoder", type=Path, default=None,
                        help="a cross-encoder model file (streamrec train cross-encoder)")
    parser.add_argument("--depths", default="20,50,100", help="LightGBM depths")
    parser.add_argument("--cross-encoder-depths", default="10,20,30",
                        help="cross-encoder depths (a transformer pass per candidate)")
    parser.add_argument("--cascade", type=Path, default=None,
                        help="a cascade model file (streamrec train cascade)")
    parser.add_argument("--cascade-depths", default="100",
                        help="first-stage depths of the cascade")
    parser.add_argument("--limit-queries", type=int, default=None,
                        help="a sample of the test queries (smoke runs)")
    args = parser.parse_args(argv)
    depths = {"lightgbm": [int(d) for d in args.depths.split(",")],
              "cross_encoder": [int(d) for d in args.cross_encoder_depths.split(",")],
              "cascade": [int(d) for d in args.cascade_depths.split(",")]}

    run_started = time.perf_counter()
    catalog = load_homedepot(args.data_dir)
    log(f"{len(catalog.products):,} products, {len(catalog.judgments):,} judged queries; "
        f"load {load_avg()}")
    pv, qv, model_id = catalog_vectors(catalog, settings.cache_dir / "rerank" / "vectors",
                             dataclasses.replace(encoder_config(settings), parallel_batches=2,
                                                 batch_size=8))
    queries = list(catalog.judgments)
    test_idx = [i for i, q in enumerate(queries) if query_split(q) == "test"]
    if args.limit_queries:
        test_idx = sorted(random.Random(7).sample(test_idx, min(args.limit_queries,
                                                                len(test_idx))))
    judgments = {queries[i]: catalog.judgments[queries[i]] for i in test_idx}
    retrieval = OfflineHybridRetrieval(catalog.products, pv, RankFusion().fuse)
    test = [(queries[i], qv[i], lists) for i, lists in zip(
        test_idx, retrieval.retrieve_many([queries[i] for i in test_idx], qv[test_idx]),
        strict=True)]
    log(f"{len(test):,} test queries retrieved ({model_id} vectors); load {load_avg()}")

    variants: dict[str, dict[str, Any]] = {
        "bm25": {"quality": score({q: [s for s, _ in lists.lexical[:100]]
                                   for q, _, lists in test}, judgments).summary()},
        "hybrid": {"quality": score({q: [s for s, _ in lists.fused[:100]]
                                     for q, _, lists in test}, judgments).summary()},
    }
    rerankers: dict[str, SearchReranker] = {"lightgbm": load_reranker(args.model)}
    if args.cross_encoder is not None:
        rerankers["cross_encoder"] = load_reranker(args.cross_encoder, threads=1)
    if args.cascade is not None:
        rerankers["cascade"] = load_reranker(args.cascade, threads=1)
    hybrid_ndcg = variants["hybrid"]["quality"]["ndcg_at_10"]
    for name, reranker in rerankers.items():
        for depth in depths[name]:
            before = load_avg()
            rankings, times = run_reranker(reranker, depth, test, retrieval)
            quality = score(rankings, judgments).summary()
            latency = pcts(times, 3)
            gain = quality["ndcg_at_10"] - hybrid_ndcg
            variants[f"hybrid+{name}@{depth}"] = {
                "quality": quality, "stage_ms": latency,
                "gain_per_p95_ms": round(gain / latency["p95"], 4) if latency["p95"] else None,
                "load_avg_before": before, "load_avg_after": load_avg()}
            log(f"{name}@{depth}: NDCG@10 {quality['ndcg_at_10']:.4f}, p95 "
                f"{latency['p95']:.2f} ms; load {load_avg()}")
    retrieval.close()

    bm25 = variants["bm25"]["quality"]
    print()
    print(f"Home Depot reranking, {len(test):,} held-out test queries "
          f"({len(catalog.products):,} products; {os.cpu_count()} cores)")
    header = (f"{'variant':<26} {'NDCG@10':>8} {'vs BM25':>8} {'P@10':>7} {'vs BM25':>8} "
              f"{'stage p50':>9} {'p95':>7} {'p99':>7} {'gain/ms':>8}  load")
    print(header)
    print("-" * len(header))
    for name, v in variants.items():
        q = v["quality"]
        row = (f"{name:<26} {q['ndcg_at_10']:>8.4f} "
               f"{q['ndcg_at_10'] / bm25['ndcg_at_10'] - 1:>+8.1%} {q['p_at_10']:>7.4f} "
               f"{q['p_at_10'] / bm25['p_at_10'] - 1:>+8.1%}")
        if "stage_ms" in v:
            ms = v["stage_ms"]
            row += (f" {ms['p50']:>9.2f} {ms['p95']:>7.2f} {ms['p99']:>7.2f} "
                    f"{v['gain_per_p95_ms']:>8.4f}  {v['load_avg_before']}")
        print(row)
    print(f"total run: {time.perf_counter() - run_started:.0f} s")
    print(json.dumps({
        "bench": "rerank",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
                   f"Python {platform.python_version()}",
        "split": "test", "test_queries": len(test), "products": len(catalog.products),
        "encoder": model_id,
        "limited": bool(args.limit_queries),
        "models": {name: r.describe() for name, r in rerankers.items()},
        "variants": variants, "load_avg_end": load_avg(),
    }, separators=(",", ":"), default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
