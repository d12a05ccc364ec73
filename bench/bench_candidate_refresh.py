"""Candidate refresh cost, in-process: per-user ``refresh`` against batched ``refresh_many``.

    .venv/bin/python -m bench.bench_candidate_refresh [--users 2000] [--batch-sizes 32,256]

Builds what the users worker builds (``build_recs``: co-visitation, interest ANN and
trending sources, the generator, the cache) on a real Redis started on a free port and
an in-memory ``ShardedIndex`` (the replica's index, same settings) holding ``--items``
clustered random unit vectors (384-d, one cluster per leaf category, paths of depth
two). Co-visitation and trending are filled by ``--events`` synthetic events over
``--population`` users applied through the real ``UserEventApplier`` in batches of 500.
Then ``--users`` distinct users (among those with events) are refreshed:

- ``per-user``: ``refresher.refresh`` per user, ``--concurrency`` at once (the worker's
  old path);
- ``batched/N``: ``refresher.refresh_many`` in chunks of N users, one after another
  (the worker's new path; only when the code has ``refresh_many``);
- ``fast/N``: the two-speed refresh's fast path, ``IncrementalCandidateUpdater.
  update_many`` in chunks of N users (a micro-batch), each user's newest event as the
  one just applied, on the lists the full refreshes left (only when the code has it).

Reports refreshes/s, process CPU ms per refresh (``time.process_time``, all threads,
FAISS's included), Redis CPU ms per refresh (``INFO cpu``), the event loop's worst stall
(a 5 ms ticker's largest lateness) and the load average. Each mode runs ``--rounds``
times over the same users; the best round is reported (the box is shared). Prints a
table and one JSON line. Runs on older code as well (only ``per-user`` then), which is
how the "before" figures were taken: ``PYTHONPATH=<export of the old tree>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from streamrec.indexer.index_settings import index_config, shard_router
from streamrec.indexer.sharded_index import ShardedIndex
from streamrec.platform.processes import free_port
from streamrec.platform.redis_server import RedisServer
from streamrec.recs.recs_components import build_recs
from streamrec.recs.user_profile import UserProfile
from streamrec.settings import load_settings

DIM = 384
TOP = ["Apparel", "Footwear", "Home", "Garden", "Toys", "Books", "Kitchen", "Sports"]
T0 = 1_780_000_000_000


class BenchReplica:
    """What ``ReplicaIndexView`` reads from a ``CatalogIndexReplica``: its index."""

    def __init__(self, index: ShardedIndex) -> None:
        self.index = index

    def newest(self, k: int, scope: str | None = None) -> list[str]:
        return []


def catalog(items: int, rng: np.random.Generator
            ) -> tuple[list[str], np.ndarray, list[list[str]]]:
    leaves = [[top, f"{top}-{sub}"] for top in TOP for sub in range(5)]
    centres = rng.normal(size=(len(leaves), DIM)).astype(np.float32)
    skus, rows, paths = [], [], []
    for i in range(items):
        leaf = i % len(leaves)
        v = centres[leaf] + 0.6 * rng.normal(size=DIM).astype(np.float32)
        skus.append(f"sku{i:05d}")
        rows.append(v / np.linalg.norm(v))
        paths.append(leaves[leaf])
    return skus, np.stack(rows).astype(np.float32), paths


def synthetic_events(skus: list[str], paths: list[list[str]], population: int, events: int,
                     rng: np.random.Generator) -> list[dict[str, Any]]:
    """Users with a home leaf category (80% of their events), items Zipf-popular."""
    by_leaf: dict[str, list[str]] = {}
    for sku, path in zip(skus, paths, strict=True):
        by_leaf.setdefault(path[-1], []).append(sku)
    leaves = list(by_leaf)
    home = rng.integers(len(leaves), size=population)
    kinds = ["VIEW"] * 12 + ["CLICK"] * 4 + ["ADD_TO_CART"] * 2 + ["PURCHASE"]
    out = []
    for n in range(events):
        user = int(rng.integers(population))
        leaf = leaves[home[user]] if rng.random() < 0.8 else leaves[int(rng.integers(len(leaves)))]
        pool = by_leaf[leaf]
        rank = min(int(rng.zipf(1.3)) - 1, len(pool) - 1)
        out.append({"event_id": f"e{n}", "user_id": f"user{user}", "session_id": f"s{user}",
                    "type": kinds[int(rng.integers(len(kinds)))], "sku": pool[rank],
                    "ts": T0 + n * 10})
    return out


async def redis_cpu_s(redis: aioredis.Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def timed(name: str, work: Any, users: int, redis: aioredis.Redis) -> dict[str, Any]:
    """Run ``work()`` with a 5 ms ticker measuring how late the loop lets it run."""
    worst = 0.0
    stop = False

    async def ticker() -> None:
        nonlocal worst
        while not stop:
            due = time.perf_counter() + 0.005
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - due)

    probe = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.02)
    redis_before = await redis_cpu_s(redis)
    cpu, wall = time.process_time(), time.perf_counter()
    await work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    redis_used = await redis_cpu_s(redis) - redis_before
    stop = True
    await probe
    return {"mode": name, "users": users, "refreshes_per_s": round(users / wall, 1),
            "wall_s": round(wall, 3), "cpu_ms_per_refresh": round(cpu * 1000 / users, 3),
            "redis_cpu_ms_per_refresh": round(redis_used * 1000 / users, 3),
            "loop_stall_ms": round(worst * 1000, 1)}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    random.seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="streamrec-refresh-bench-") as work:
        server = RedisServer(Path(work) / "redis", free_port(), maxmemory="1gb")
        server.start()
        try:
            settings = load_settings().model_copy(update={
                "redis_url": server.url, "redis_key_prefix": "bench:"})
            redis = aioredis.from_url(server.url)
            index = ShardedIndex(DIM, "bench-model", shard_router(settings),
                                 index_config(settings))
            skus, vectors, paths = catalog(args.items, rng)
            index.upsert_many(skus, vectors, paths,
                              [{"available": i % 40 != 0, "category_path": p}
                               for i, p in enumerate(paths)])
            recs = build_recs(settings, redis, BenchReplica(index))  # type: ignore[arg-type]
            applier = recs.applier()
            profiles: dict[str, UserProfile] = {}
            events = synthetic_events(skus, paths, args.population, args.events, rng)
            started = time.perf_counter()
            for i in range(0, len(events), 500):
                await applier.apply(events[i:i + 500], profiles)
            fill_s = time.perf_counter() - started
            users = sorted(profiles, key=lambda u: (-profiles[u].event_count, u))
            chosen = [profiles[u] for u in random.sample(users, min(args.users, len(users)))]
            refresher = recs.refresher()
            batched = hasattr(refresher, "refresh_many")

            async def per_user() -> None:
                semaphore = asyncio.Semaphore(args.concurrency)

                async def one(profile: UserProfile) -> None:
                    async with semaphore:
                        await refresher.refresh(profile)

                await asyncio.gather(*(one(p) for p in chosen))

            def in_chunks(size: int) -> Any:
                async def run() -> None:
                    for i in range(0, len(chosen), size):
                        await refresher.refresh_many(chosen[i:i + size])
                return run

            updater = recs.updater() if hasattr(recs, "updater") else None

            def fast_chunks(size: int) -> Any:
                newest = [(p, [{"sku": p.recent[-1].sku, "type": p.recent[-1].event_type}]
                           if p.recent else []) for p in chosen]

                async def run() -> None:
                    for i in range(0, len(newest), size):
                        await updater.update_many(newest[i:i + size])
                return run

            modes: list[tuple[str, Any]] = [("per-user", per_user)]
            if batched and not args.per_user_only:
                modes += [(f"batched/{size}", in_chunks(size)) for size in args.batch_sizes]
            if updater is not None and not args.per_user_only:
                modes += [(f"fast/{size}", fast_chunks(size)) for size in args.fast_batch_sizes]
            await per_user()  # warm-up: scripts loaded, trending cached, pages touched
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in modes}
            for _ in range(args.rounds):
                for name, work_fn in modes:
                    rows[name].append(await timed(name, work_fn, len(chosen), redis))
            best = [min(rows[name], key=lambda r: r["cpu_ms_per_refresh"]) for name, _ in modes]
            for row in best:
                row["cpu_ms_rounds"] = [r["cpu_ms_per_refresh"] for r in rows[row["mode"]]]
                row["median_refreshes_per_s"] = statistics.median(
                    r["refreshes_per_s"] for r in rows[row["mode"]])
            equal = None
            if batched:
                for source in recs.generator.sources:  # trending lists decay with the
                    if hasattr(source, "cache_s"):       # clock: compare on the same ones
                        source.cache_s = 3600.0
                        source._cache.clear()
                many = await recs.generator.generate_many(chosen[:200])
                singles = [await recs.generator.generate(p) for p in chosen[:200]]
                equal = sum(a.candidates == b.candidates for a, b in zip(many, singles,
                                                                         strict=True))
            await redis.aclose()
            return {
                "bench": "candidate_refresh",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "host": platform.node(), "cores": os.cpu_count(),
                "load_avg": [round(x, 2) for x in os.getloadavg()],
                "python": sys.version.split()[0],
                "items": args.items, "population": args.population, "events": args.events,
                "fill_s": round(fill_s, 1), "users": len(chosen),
                "mean_events_per_refreshed_user": round(
                    statistics.mean(p.event_count for p in chosen), 2),
                "concurrency": args.concurrency, "rounds": args.rounds,
                "batched_equals_per_user": None if equal is None else f"{equal}/200",
                "results": best,
            }
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[32, 256])
    parser.add_argument("--fast-batch-sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[32, 256])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--per-user-only", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = asyncio.run(bench(args))
    result["load_avg_before"] = [round(x, 2) for x in load_before]
    print(f"{'mode':<12} {'refreshes/s':>12} {'CPU ms/refresh':>15} {'Redis CPU ms':>13} "
          f"{'loop stall ms':>14}")
    for row in result["results"]:
        print(f"{row['mode']:<12} {row['refreshes_per_s']:>12} {row['cpu_ms_per_refresh']:>15} "
              f"{row['redis_cpu_ms_per_refresh']:>13} {row['loop_stall_ms']:>14}")
    print(f"load average {result['load_avg_before']} -> {result['load_avg']}, "
          f"batched == per-user: {result['batched_equals_per_user']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
