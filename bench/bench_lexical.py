"""Lexical search on Home Depot: quality, build speed, update staleness, latency.

    .venv/bin/python -m bench.bench_lexical --data-dir ../shared/data [--fusion]

Indexes all products of ``homedepot/products.csv`` (sku ``hd-<product_uid>``) into a
:class:`LexicalIndex`, runs every query of ``homedepot/judgments_dev.csv`` and scores
NDCG@10 (gain = mean relevance 1-3, unjudged = 0), P@10 and recall@100 (relevant =
relevance >= 2.5, unjudged = not relevant) and the zero-result rate, for:

* ``strict``: BM25 needing most query terms (the index default);
* ``relaxed``: BM25 matching any term;
* ``tiered``: strict matches first, filled up with relaxed ones;
* ``ladder``: strict, then strict on the spelling-corrected query when strict found
  nothing, then relaxed (the lexical rungs of the fallback ladder);
* ``tiered_spelling``: tiered, on the corrected query when strict found nothing.

Then it streams title updates through the default commit policy and measures update
throughput and staleness (upsert -> found by a search, p50/p99), flat out and at a
steady pace. ``--fusion`` adds dense retrieval (the project's text encoder, cached
with ``--dense-cache``) and compares RRF with a convex combination of normalised
scores. Prints a table, then ONE final JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from streamrec.evaluation.ranking_metrics import ndcg_at_k, precision_at_k, recall_at_k
from streamrec.indexer.lexical_index import LexicalIndex, LexicalIndexConfig
from streamrec.indexer.spelling_corrector import SpellingCorrector

RELEVANT_AT = 2.5
BUILD_CONFIG = LexicalIndexConfig(commit_every_docs=1 << 40, commit_interval_ms=1 << 40)


@dataclass
class HomeDepot:
    products: list[tuple[str, str]]
    judgments: dict[str, dict[str, float]]


@dataclass
class VariantResult:
    ndcg_at_10: float
    p_at_10: float
    recall_at_100: float
    zero_result_rate: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    rungs: dict[str, float] = field(default_factory=dict)


def load_home_depot(data_dir: Path, max_queries: int = 0) -> HomeDepot:
    folder = data_dir / "homedepot"
    products_csv, judgments_csv = folder / "products.csv", folder / "judgments_dev.csv"
    missing = [str(p) for p in (products_csv, judgments_csv) if not p.is_file()]
    if missing:
        raise SystemExit(
            f"Home Depot data not found: {', '.join(missing)}. Pass --data-dir pointing at the "
            "shared data folder (the one holding homedepot/)."
        )
    with products_csv.open(newline="", encoding="utf-8") as fh:
        products = [(f"hd-{row['product_uid']}", row["title"]) for row in csv.DictReader(fh)]
    judgments: dict[str, dict[str, float]] = defaultdict(dict)
    with judgments_csv.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            judgments[row["query"]][f"hd-{row['product_uid']}"] = float(row["relevance"])
    queries = sorted(judgments)
    if max_queries:
        queries = random.Random(7).sample(queries, min(max_queries, len(queries)))
    return HomeDepot(products, {q: judgments[q] for q in sorted(queries)})


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def score_rankings(
    rankings: dict[str, list[str]], judgments: dict[str, dict[str, float]]
) -> tuple[float, float, float, float]:
    """Mean NDCG@10, P@10, recall@100 and zero-result rate over the judged queries."""
    n = len(judgments)
    ndcg = p10 = r100 = zero = 0.0
    for query, gains in judgments.items():
        ranked = rankings.get(query, [])
        relevant = {sku for sku, rel in gains.items() if rel >= RELEVANT_AT}
        ndcg += ndcg_at_k(ranked, gains, 10)
        p10 += precision_at_k(ranked, relevant, 10)
        r100 += recall_at_k(ranked, relevant, 100)
        zero += not ranked
    return ndcg / n, p10 / n, r100 / n, zero / n


def run_variant(
    name: str,
    search: Callable[[str], tuple[list[tuple[str, float]], str]],
    judgments: dict[str, dict[str, float]],
) -> tuple[VariantResult, dict[str, list[tuple[str, float]]]]:
    rankings: dict[str, list[tuple[str, float]]] = {}
    latencies: list[float] = []
    rungs: Counter[str] = Counter()
    for query in judgments:
        started = time.perf_counter()
        ranked, rung = search(query)
        latencies.append((time.perf_counter() - started) * 1_000)
        rankings[query] = ranked
        rungs[rung] += 1
    ndcg, p10, r100, zero = score_rankings(
        {q: [sku for sku, _ in scored] for q, scored in rankings.items()}, judgments
    )
    n = len(judgments)
    result = VariantResult(
        ndcg_at_10=ndcg,
        p_at_10=p10,
        recall_at_100=r100,
        zero_result_rate=zero,
        latency_ms_p50=percentile(latencies, 0.50),
        latency_ms_p95=percentile(latencies, 0.95),
        latency_ms_p99=percentile(latencies, 0.99),
        rungs={r: round(c / n, 4) for r, c in sorted(rungs.items())} if len(rungs) > 1 else {},
    )
    print(f"  {name}: done", file=sys.stderr)
    return result, rankings


Scored = list[tuple[str, float]]


def lexical_variants(
    index: LexicalIndex, corrector: SpellingCorrector, k: int
) -> dict[str, Callable[[str], tuple[Scored, str]]]:
    """Each variant: query -> ((sku, score) best first, the rung that answered)."""

    def strict(q: str) -> tuple[Scored, str]:
        return index.search(q, k), "strict"

    def relaxed(q: str) -> tuple[Scored, str]:
        return index.search(q, k, mode="any"), "relaxed"

    def tiered(q: str) -> tuple[Scored, str]:
        return index.search(q, k, mode="tiered"), "tiered"

    def corrected(q: str) -> str | None:
        fix = corrector.correct(q)
        return fix.corrected if fix.changed else None

    def ladder(q: str) -> tuple[Scored, str]:
        found = index.search(q, k)
        if found:
            return found, "strict"
        fixed = corrected(q)
        if fixed:
            found = index.search(fixed, k)
            if found:
                return found, "spelling"
        found = index.search(fixed or q, k, mode="any")
        return found, "relaxed" if found else "none"

    def tiered_spelling(q: str) -> tuple[Scored, str]:
        if index.search(q, 1):
            return index.search(q, k, mode="tiered"), "strict"
        fixed = corrected(q)
        if fixed and index.search(fixed, 1):
            return index.search(fixed, k, mode="tiered"), "spelling"
        found = index.search(fixed or q, k, mode="any")
        return found, "relaxed" if found else "none"

    return {
        "strict": strict,
        "relaxed": relaxed,
        "tiered": tiered,
        "ladder": ladder,
        "tiered_spelling": tiered_spelling,
    }


def _probe_token(i: int) -> str:
    """A unique word no stemmer rule touches (no vowels, no s, l or y)."""
    letters = "bcdfghjkmnpqrtvwxz"
    out = []
    while True:
        i, r = divmod(i, len(letters))
        out.append(letters[r])
        if not i:
            break
    return "zqx" + "".join(out)


def measure_updates(
    products: list[tuple[str, str]],
    n_updates: int,
    pace_per_s: float | None,
    probe_every: int,
    seed: int,
) -> dict[str, float]:
    """Stream title updates through the default commit policy; staleness by searching."""
    config = LexicalIndexConfig()
    rng = random.Random(seed)
    with LexicalIndex(config=BUILD_CONFIG) as seed_index:
        for sku, title in products:
            seed_index.upsert(sku, title)
        work = Path(tempfile.mkdtemp(prefix="bench-lexical-"))
        seed_index.snapshot(work / "snap")
    index = LexicalIndex.restore(work / "snap", config=config)
    index.start_auto_refresh()
    outstanding: list[tuple[float, str, str]] = []  # (upsert time, probe token, sku)
    lags: list[float] = []

    def poll() -> None:
        while outstanding:
            t0, token, sku = outstanding[0]
            if sku not in {hit for hit, _ in index.search(token, 3)}:
                return
            lags.append(time.perf_counter() - t0)
            outstanding.pop(0)

    started = time.perf_counter()
    last_poll = started
    interval = 1.0 / pace_per_s if pace_per_s else 0.0
    # distinct products, so no later update overwrites a probe before it is seen
    n_updates = min(n_updates, len(products))
    picks = rng.sample(range(len(products)), n_updates)
    for j, pick in enumerate(picks):
        if interval:
            due = started + j * interval
            while time.perf_counter() < due:
                time.sleep(min(0.001, max(0.0, due - time.perf_counter())))
        sku, title = products[pick]
        token = _probe_token(j)
        t0 = time.perf_counter()
        index.upsert(sku, f"{title} {token}")
        if j % probe_every == 0:
            outstanding.append((t0, token, sku))
        now = time.perf_counter()
        if now - last_poll >= 0.002:
            poll()
            last_poll = now
    stream_s = time.perf_counter() - started
    deadline = time.perf_counter() + 10.0
    while outstanding and time.perf_counter() < deadline:
        time.sleep(0.001)
        poll()
    all_visible_s = time.perf_counter() - started
    stats = index.stats()
    index.close()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "updates": n_updates,
        "updates_per_s": n_updates / stream_s,
        "staleness_ms_p50": percentile(lags, 0.50) * 1_000,
        "staleness_ms_p99": percentile(lags, 0.99) * 1_000,
        "staleness_ms_max": max(lags, default=0.0) * 1_000,
        "probes": len(lags),
        "probes_never_visible": len(outstanding),
        "commits": stats.commits,
        "all_visible_after_s": all_visible_s,
    }


# ---- dense retrieval and fusion (optional) ---------------------------------------------


def dense_rankings(
    data: HomeDepot, cache: Path | None, k: int
) -> tuple[dict[str, list[tuple[str, float]]], str]:
    import faiss
    import numpy as np

    queries = list(data.judgments)
    titles = [title for _, title in data.products]
    vectors = None
    model_id = "unknown"
    if cache is not None and (cache / "meta.json").is_file():
        meta = json.loads((cache / "meta.json").read_text())
        if meta.get("n_products") == len(titles):
            products = np.load(cache / "products.npy")
            query_vectors = np.load(cache / "queries.npy")
            cached = dict(zip(meta["queries"], range(len(meta["queries"])), strict=True))
            if all(q in cached for q in queries):
                vectors = (products, query_vectors[[cached[q] for q in queries]])
                model_id = meta.get("model_id", model_id)
    if vectors is None:
        from streamrec.indexer.text_encoder import EncoderConfig, create_text_encoder

        encoder = create_text_encoder(EncoderConfig(parallel_batches=2, batch_size=8))
        model_id = encoder.model_id
        print(f"  encoding {len(titles)} titles with {model_id} ...", file=sys.stderr)
        products = encoder.encode_texts(titles)
        query_vectors = encoder.encode_texts(queries)
        vectors = (products, query_vectors)
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            np.save(cache / "products.npy", products)
            np.save(cache / "queries.npy", query_vectors)
            (cache / "meta.json").write_text(
                json.dumps({"model_id": model_id, "n_products": len(titles), "queries": queries})
            )
    products, query_vectors = vectors
    flat = faiss.IndexFlatIP(products.shape[1])
    flat.add(np.ascontiguousarray(products, dtype=np.float32))
    scores, ids = flat.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)
    skus = [sku for sku, _ in data.products]
    out = {
        q: [(skus[i], float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
        for q, row_ids, row_scores in zip(queries, ids, scores, strict=True)
    }
    return out, model_id


def fusion_study(
    data: HomeDepot,
    lexical: dict[str, list[tuple[str, float]]],
    cache: Path | None,
    k: int,
) -> dict[str, object]:
    from streamrec.serving.rank_fusion import convex_combination, rrf

    dense, model_id = dense_rankings(data, cache, k)

    def fused(fn: Callable[[list[tuple[str, float]], list[tuple[str, float]]], list]) -> dict:
        rankings = {q: [s for s, _ in fn(lexical[q], dense[q])][:k] for q in data.judgments}
        ndcg, p10, r100, zero = score_rankings(rankings, data.judgments)
        return {
            "ndcg_at_10": round(ndcg, 4),
            "p_at_10": round(p10, 4),
            "recall_at_100": round(r100, 4),
            "zero_result_rate": round(zero, 4),
        }

    rows: dict[str, dict] = {
        "lexical_tiered_spelling": fused(lambda lex, den: lex),
        "dense": fused(lambda lex, den: den),
    }
    for rrf_k in (10, 60):
        for w in (0.5, 0.6, 0.7, 0.8, 0.9):
            rows[f"rrf_k{rrf_k}_lex{w}"] = fused(
                lambda lex, den, rrf_k=rrf_k, w=w: rrf(
                    [[s for s, _ in lex], [s for s, _ in den]], k=rrf_k, weights=[w, 1 - w]
                )
            )
    for w in (0.5, 0.6, 0.7, 0.8, 0.9):
        rows[f"convex_lex{w}"] = fused(
            lambda lex, den, w=w: convex_combination([lex, den], weights=[w, 1 - w])
        )
    return {"model_id": model_id, "results": rows}


# ---- main ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--k", type=int, default=100, help="results per query")
    parser.add_argument("--max-queries", type=int, default=0, help="0 = all dev queries")
    parser.add_argument("--updates", type=int, default=5_000, help="flat-out update stream")
    parser.add_argument("--paced-rate", type=float, default=500.0, help="updates/s, paced run")
    parser.add_argument("--paced-seconds", type=float, default=4.0)
    parser.add_argument("--fusion", action="store_true", help="also compare RRF and convex")
    parser.add_argument("--dense-cache", type=Path, default=None, help="dir for dense vectors")
    args = parser.parse_args(argv)

    data = load_home_depot(args.data_dir, args.max_queries)
    print(
        f"Home Depot: {len(data.products)} products, {len(data.judgments)} queries",
        file=sys.stderr,
    )

    started = time.perf_counter()
    index = LexicalIndex(config=BUILD_CONFIG)
    for sku, title in data.products:
        index.upsert(sku, title)
    index.refresh()
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    corrector = SpellingCorrector()
    corrector.bulk_load((sku, title, None, None) for sku, title in data.products)
    spelling_build_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="bench-lexical-snap-") as tmp:
        started = time.perf_counter()
        index.snapshot(Path(tmp) / "snap", offsets={0: len(data.products)})
        snapshot_s = time.perf_counter() - started
        snapshot_mb = sum(p.stat().st_size for p in (Path(tmp) / "snap").iterdir()) / 1e6
        started = time.perf_counter()
        LexicalIndex.restore(Path(tmp) / "snap").close()
        restore_s = time.perf_counter() - started

    variants: dict[str, VariantResult] = {}
    rankings: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for name, search in lexical_variants(index, corrector, args.k).items():
        variants[name], rankings[name] = run_variant(name, search, data.judgments)

    spelling_latency = []
    for query in data.judgments:
        t0 = time.perf_counter()
        corrector.correct(query)
        spelling_latency.append((time.perf_counter() - t0) * 1_000)

    print("  update stream (flat out) ...", file=sys.stderr)
    flat = measure_updates(data.products, args.updates, None, probe_every=10, seed=1)
    print("  update stream (paced) ...", file=sys.stderr)
    paced_n = max(1, int(args.paced_rate * args.paced_seconds))
    paced = measure_updates(data.products, paced_n, args.paced_rate, probe_every=5, seed=2)

    fusion = None
    if args.fusion:
        print("  fusion study ...", file=sys.stderr)
        fusion = fusion_study(data, rankings["tiered_spelling"], args.dense_cache, args.k)
    index.close()

    n_products = len(data.products)
    print()
    print(
        f"Lexical search on Home Depot ({n_products} products, {len(data.judgments)} queries, "
        f"k={args.k}); {platform.processor() or platform.machine()}"
    )
    header = (
        f"{'variant':<16} {'NDCG@10':>8} {'P@10':>7} {'R@100':>7} {'zero':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  rungs"
    )
    print(header)
    print("-" * len(header))
    for name, r in variants.items():
        rungs = " ".join(f"{k}={v:.3f}" for k, v in r.rungs.items())
        print(
            f"{name:<16} {r.ndcg_at_10:>8.4f} {r.p_at_10:>7.4f} {r.recall_at_100:>7.4f} "
            f"{r.zero_result_rate:>7.4f} {r.latency_ms_p50:>7.2f} {r.latency_ms_p95:>7.2f} "
            f"{r.latency_ms_p99:>7.2f}  {rungs}"
        )
    print()
    print(
        f"build: {build_s:.2f} s ({n_products / build_s:,.0f} products/s); spelling dictionary "
        f"{spelling_build_s:.2f} s ({corrector.vocabulary_size} words); spelling p50/p99 "
        f"{percentile(spelling_latency, 0.5):.3f}/{percentile(spelling_latency, 0.99):.3f} ms"
    )
    print(f"snapshot: {snapshot_s:.2f} s, {snapshot_mb:.1f} MB; restore {restore_s:.2f} s")
    for label, u in (("flat out", flat), (f"paced {args.paced_rate:.0f}/s", paced)):
        print(
            f"updates ({label}): {u['updates']} at {u['updates_per_s']:,.0f}/s, "
            f"{u['commits']} commits; staleness p50 {u['staleness_ms_p50']:.0f} ms, "
            f"p99 {u['staleness_ms_p99']:.0f} ms, max {u['staleness_ms_max']:.0f} ms "
            f"({u['probes']} probes, {u['probes_never_visible']} never visible)"
        )
    if fusion is not None:
        print()
        print(f"fusion (lexical tiered+spelling with dense {fusion['model_id']}, top {args.k}):")
        for name, row in fusion["results"].items():  # type: ignore[union-attr]
            print(
                f"  {name:<26} NDCG@10 {row['ndcg_at_10']:.4f}  P@10 {row['p_at_10']:.4f}  "
                f"R@100 {row['recall_at_100']:.4f}"
            )

    summary = {
        "bench": "lexical",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": _cpu_count(), "python": platform.python_version()},
        "products": n_products,
        "queries": len(data.judgments),
        "k": args.k,
        "build_s": round(build_s, 3),
        "build_products_per_s": round(n_products / build_s, 1),
        "spelling_build_s": round(spelling_build_s, 3),
        "spelling_ms_p50": round(percentile(spelling_latency, 0.5), 4),
        "spelling_ms_p99": round(percentile(spelling_latency, 0.99), 4),
        "snapshot_s": round(snapshot_s, 3),
        "snapshot_mb": round(snapshot_mb, 2),
        "restore_s": round(restore_s, 3),
        "variants": {
            name: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.__dict__.items()}
            for name, r in variants.items()
        },
        "updates_flat": {k: round(v, 2) for k, v in flat.items()},
        "updates_paced": {k: round(v, 2) for k, v in paced.items()},
        "fusion": fusion,
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 0


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    raise SystemExit(main())
