"""ANN benchmark of the HNSW index: recall@k, single-thread queries/s, build, memory, snapshots.

    .venv/bin/python -m bench.bench_ann --n 100000 --dim 384
    .venv/bin/python -m bench.bench_ann --n 1000000 --dim 384 --build-threads 2
    .venv/bin/python -m bench.bench_ann --n 100000 --storage sq8
    .venv/bin/python -m bench.bench_ann --vectors real.npy   # your own unit vectors

Data: a clustered synthetic set, not uniform noise (which no ANN index sees in
practice and which makes HNSW look far worse than it is). Cluster centres and
within-cluster spread follow a power-law spectrum in a random basis, plus a shared
offset, normalised; the parameters were set so that 30k points match 29k real
all-MiniLM-L6-v2 title embeddings (Amazon games + fashion titles) on: norm of the mean
vector (~0.4), median pair cosine (~0.14), cosine of the 10th neighbour (~0.73) and
principal components for half the variance (~25 vs 35). Queries are fresh points from
the same mixture, not indexed ones. Ground truth is exact search (faiss.IndexFlatIP).

Queries go one at a time through ``ShardedIndex.search`` on one thread (the serving
path, Python overhead included); ``faiss_qps`` is FAISS alone on the same thread, in
one batch. Filtered rows use random filters of the given selectivity with efSearch
from ``choose_ef_search`` (the per-request rule): ``hnsw`` always searches the graph,
``auto`` is the shard's default (exact search for small or very selective filters).
Restore times read files the write just left in the page cache; a cold disk adds its
read time (size / disk speed).
Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from streamrec.indexer.hash_shard_router import HashShardRouter
from streamrec.indexer.index_config import IndexConfig
from streamrec.indexer.index_snapshot import load_latest_snapshot, write_snapshot
from streamrec.indexer.sharded_index import ShardedIndex, choose_ef_search

SPECTRUM_POWER = 0.45
NOISE = 0.8
OFFSET = 0.4


def clustered_unit_vectors(
    n: int, dim: int, clusters: int, seed: int, chunk: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points and 1 000 fresh queries from one MiniLM-like mixture (see the docstring)."""
    rng = np.random.default_rng(seed)
    spectrum = (np.arange(1, dim + 1) ** -SPECTRUM_POWER).astype(np.float32)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)).astype(np.float32))
    centres = rng.standard_normal((clusters, dim)).astype(np.float32) * spectrum
    offset = rng.standard_normal(dim).astype(np.float32)
    offset *= OFFSET / np.linalg.norm(offset)

    def draw(count: int) -> np.ndarray:
        labels = rng.integers(0, clusters, count)
        noise = rng.standard_normal((count, dim), dtype=np.float32) * (NOISE * spectrum)
        points = (centres[labels] + noise) @ basis.T
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        points += offset
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        return points.astype(np.float32)

    data = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        data[start : start + chunk] = draw(min(chunk, n - start))
    return data, draw(1000)


def recall_at(found: list[list[str]], truth: np.ndarray, k: int) -> float:
    hits = sum(
        len({int(s) for s in row[:k]} & set(t[:k].tolist()))
        for row, t in zip(found, truth, strict=False)
    )
    return hits / (k * len(truth))


def parse_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=0, help="default: n / 1000, >= 64")
    parser.add_argument("--m", type=int, default=IndexConfig.hnsw_m)
    parser.add_argument("--ef-construction", type=int, default=IndexConfig.ef_construction)
    parser.add_argument("--small-shard-ef-construction", type=int,
                        default=IndexConfig.small_shard_ef_construction,
                        help="efConstruction while the shard holds fewer than "
                             f"{IndexConfig.small_shard_below:,} vectors (a replica rebuilds a "
                             "shard that grew past that on a cheap start; set it equal to "
                             "--ef-construction to measure that rebuilt graph)")
    parser.add_argument("--ef-search", default="16,32,64,96,128")
    parser.add_argument("--k", type=int, default=10,
                        help="neighbours asked for: recall@k (the search rung asks for 100)")
    parser.add_argument("--storage", choices=["flat", "fp16", "sq8"], default="flat")
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--filters", default="0.1,0.01", help="selectivities, '' for none")
    parser.add_argument("--vectors", type=Path, help=".npy of unit vectors instead of synthetic")
    parser.add_argument("--snapshot-dir", type=Path, help="default: a temporary folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the JSON figures here")
    args = parser.parse_args(argv)
    k = args.k
    recall_key = f"recall_at_{k}"
    figures: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {faiss.omp_get_max_threads()} OpenMP threads",
        "k": k,
        "faiss": faiss.__version__,
        "storage": args.storage,
        "m": args.m,
        "ef_construction": args.ef_construction,
        "small_shard_ef_construction": args.small_shard_ef_construction,
        "build_threads": args.build_threads,
    }

    started = time.perf_counter()
    if args.vectors:
        everything = np.load(args.vectors).astype(np.float32)
        rng = np.random.default_rng(args.seed)
        order = rng.permutation(len(everything))
        queries = everything[order[: args.queries]]
        data = everything[order[args.queries :]][: args.n]
        figures["data"] = f"{args.vectors.name} (real vectors)"
    else:
        clusters = args.clusters or max(64, args.n // 1000)
        data, queries = clustered_unit_vectors(args.n, args.dim, clusters, args.seed)
        queries = queries[: args.queries]
        figures["data"] = f"clustered synthetic, {clusters} clusters"
    n, dim = data.shape
    figures.update(
        n=n, dim=dim, queries=len(queries), data_s=round(time.perf_counter() - started, 1)
    )
    print(f"data: {n} x {dim} ({figures['data']}), {len(queries)} queries")

    faiss.omp_set_num_threads(args.build_threads)
    started = time.perf_counter()
    exact = faiss.IndexFlatIP(dim)
    exact.add(data)
    _, truth = exact.search(queries, max(100, k))
    figures["ground_truth_s"] = round(time.perf_counter() - started, 1)
    del exact

    config = IndexConfig(
        hnsw_m=args.m,
        ef_construction=args.ef_construction,
        small_shard_ef_construction=args.small_shard_ef_construction,
        storage=args.storage,
        exact_search_below=0,
        exact_search_selectivity=0.0,
        sq_min_train=min(100_000, n),
    )
    index = ShardedIndex(dim, "bench", HashShardRouter(1), config)
    skus = [str(i) for i in range(n)]
    started = time.perf_counter()
    batch = 50_000
    for start in range(0, n, batch):
        index.upsert_many(skus[start : start + batch], data[start : start + batch])
        done = min(start + batch, n)
        rate = done / (time.perf_counter() - started)
        print(f"\r  build {done}/{n} ({rate:,.0f} vectors/s)", end="", flush=True)
    build_s = time.perf_counter() - started
    print()
    figures.update(build_s=round(build_s, 1), build_vectors_per_s=round(n / build_s))

    faiss.omp_set_num_threads(1)
    shard = next(iter(index.shards.values()))
    rows = []
    for ef in parse_ints(args.ef_search):
        index.search(queries[0], k, ef_search=ef)  # warm
        started = time.perf_counter()
        found = [[h.sku for h in index.search(q, k, ef_search=ef)] for q in queries]
        elapsed = time.perf_counter() - started
        params = faiss.SearchParametersHNSW(efSearch=ef)
        started = time.perf_counter()
        shard._index.search(queries, k, params=params)
        raw = time.perf_counter() - started
        rows.append(
            {
                "ef_search": ef,
                recall_key: round(recall_at(found, truth, k), 4),
                "qps": round(len(queries) / elapsed),
                "p50_ms": None,
                "faiss_qps": round(len(queries) / raw),
            }
        )
        latencies = []
        for q in queries[:200]:
            t = time.perf_counter()
            index.search(q, k, ef_search=ef)
            latencies.append((time.perf_counter() - t) * 1e3)
        rows[-1]["p50_ms"] = round(float(np.percentile(latencies, 50)), 3)
        rows[-1]["p99_ms"] = round(float(np.percentile(latencies, 99)), 3)
    figures["search"] = rows

    filtered = []
    rng = np.random.default_rng(args.seed + 1)
    subset = queries[:200]
    for selectivity in [float(s) for s in args.filters.split(",") if s]:
        allowed = rng.random(n) < selectivity
        allowed_ids = np.flatnonzero(allowed)
        ef = choose_ef_search(k, len(allowed_ids) / n, config.ef_search, config.max_ef_search)
        _, rows_found = faiss.knn(subset, data[allowed_ids], k, metric=faiss.METRIC_INNER_PRODUCT)
        filtered_truth = allowed_ids[rows_found]
        for mode, exact_below, exact_fraction in (
            ("hnsw", 0, 0.0),
            ("auto", IndexConfig.exact_search_below, IndexConfig.exact_search_selectivity),
        ):
            shard.config = replace(
                config, exact_search_below=exact_below, exact_search_selectivity=exact_fraction
            )
            started = time.perf_counter()
            found = [[h.sku for h in shard.search(q[None, :], k, ef, allowed)[0]] for q in subset]
            elapsed = time.perf_counter() - started
            filtered.append(
                {
                    "selectivity": selectivity,
                    "allowed": len(allowed_ids),
                    "mode": mode,
                    "ef_search": ef,
                    recall_key: round(recall_at(found, filtered_truth, k), 4),
                    "qps": round(len(subset) / elapsed),
                }
            )
        shard.config = config
    figures["filtered"] = filtered

    directory = args.snapshot_dir or Path(tempfile.mkdtemp(prefix="bench-ann-"))
    try:
        started = time.perf_counter()
        path = write_snapshot(index, directory, {0: n})
        figures["snapshot_write_s"] = round(time.perf_counter() - started, 2)
        graph_bytes = sum(p.stat().st_size for p in path.glob("*.faiss"))
        all_bytes = sum(p.stat().st_size for p in path.iterdir())
        figures["index_bytes_per_million"] = round(graph_bytes / n * 1e6)
        figures["snapshot_bytes_per_million"] = round(all_bytes / n * 1e6)
        reference = [index.search(q, k, ef_search=64) for q in queries[:100]]
        del index, shard
        started = time.perf_counter()
        restored, _ = load_latest_snapshot(directory)
        figures["snapshot_restore_s"] = round(time.perf_counter() - started, 2)
        same = [restored.search(q, k, ef_search=64) for q in queries[:100]] == reference
        figures["restore_identical_results"] = same
    finally:
        if args.snapshot_dir is None:
            shutil.rmtree(directory, ignore_errors=True)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    print(f"\nHNSW M={args.m} efConstruction={args.ef_construction} (below "
          f"{IndexConfig.small_shard_below:,} vectors: {args.small_shard_ef_construction}) "
          f"storage={args.storage}")
    print(
        f"build {figures['build_s']} s ({figures['build_vectors_per_s']:,} vectors/s, "
        f"{args.build_threads} threads)"
    )
    print(
        f"{'efSearch':>8} {f'recall@{k}':>10} {'qps 1 thread':>13} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'faiss qps':>10}"
    )
    for row in rows:
        print(
            f"{row['ef_search']:>8} {row[recall_key]:>10.4f} {row['qps']:>13,}"
            f" {row['p50_ms']:>8.3f} {row['p99_ms']:>8.3f} {row['faiss_qps']:>10,}"
        )
    if filtered:
        print(
            f"\n{'filter':>8} {'allowed':>9} {'mode':>5} {'efSearch':>8} {f'recall@{k}':>10}"
            f" {'qps':>7}"
        )
        for row in filtered:
            print(
                f"{row['selectivity']:>8} {row['allowed']:>9,} {row['mode']:>5}"
                f" {row['ef_search']:>8} {row[recall_key]:>10.4f} {row['qps']:>7,}"
            )
    print(
        f"\nindex {figures['index_bytes_per_million'] / 1e9:.2f} GB per million vectors "
        f"(snapshot {figures['snapshot_bytes_per_million'] / 1e9:.2f} GB); snapshot write "
        f"{figures['snapshot_write_s']} s, restore {figures['snapshot_restore_s']} s "
        f"(identical results: {figures['restore_identical_results']}); "
        f"peak RSS {figures['peak_rss_mb']} MB"
    )
    line = json.dumps(figures, separators=(",", ":"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(line + "\n")
    print(line)
    return figures


if __name__ == "__main__":
    main()
