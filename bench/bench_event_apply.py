"""Applying user events, in-process: the users worker's per-micro-batch work, stage by stage.

    .venv/bin/python -m bench.bench_event_apply [--events 50000] [--population 20000]
        [--batch 250] [--warm-events 20000] [--rounds 3] [--no-fast-path]
        [--redis-config zset-max-listpack-entries=64 ...]

Runs what ``user_events_agent.apply`` runs for each micro-batch, in its order, on a real
Redis started on a free port and an in-memory ``ShardedIndex`` (``--items`` clustered
random 384-d vectors, as in ``bench_candidate_refresh``, whose synthetic catalog and
events it reuses: users with a home category, Zipf-popular items, one session per user):

- ``record``: ``UserEventRecorder.record`` (de-duplication, recent list, popularity);
- ``load``: ``UserProfileStore.load_many``;
- ``apply``: ``UserEventApplier.apply`` (profiles, co-visitation and trending writes);
- ``save``: ``UserProfileStore.save_many``;
- ``fast``: the two-speed refresh's fast path, ``IncrementalCandidateUpdater.update_many``
  (off with ``--no-fast-path``).

``--warm-events`` events are applied first (not measured), so profiles, co-visitation rows
and cached lists exist, then every user of the warm-up gets a full refresh (a ~100-entry
list, as in the live worker; ``--no-full-lists`` skips it), and Redis saves that state.
Each of ``--rounds`` rounds then restarts Redis on the saved state (and fresh components on
it, the co-visitation write counters as they were) and applies the same next ``--events``
events in batches of ``--batch``: identical rounds, so the best one is the figure (the box
is shared). Per stage and in total it reports process CPU ms per event (``time.process_time``: all
threads), Redis CPU ms per event (``INFO cpu``, read between stages, outside the CPU
windows) and Redis commands the process sent per event (a script call counts one, a
pipeline counts its commands), for the round with the least process CPU, with every
round's total. Compare CPU time, not wall time. Prints a table and one JSON line. Runs on
older code too (the working directory set to an export of the old tree), which is how
"before" figures are taken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from bench.bench_candidate_refresh import DIM, BenchReplica, catalog, redis_cpu_s, synthetic_events
from streamrec.agents.user_event_recorder import UserEventRecorder
from streamrec.evaluation.run_context import code_version, load_avg, machine_facts, utc_now
from streamrec.indexer.index_settings import index_config, shard_router
from streamrec.indexer.sharded_index import ShardedIndex
from streamrec.platform.processes import free_port
from streamrec.platform.redis_server import RedisServer
from streamrec.recs.recs_components import build_recs
from streamrec.recs.user_profile_store import UserProfileStore
from streamrec.settings import load_settings

STAGES = ("record", "load", "apply", "save", "fast")


class CountingConnection(aioredis.Connection):
    """Counts the commands packed for Redis (every command is packed once)."""

    commands = 0

    def pack_command(self, *args: Any) -> list[bytes]:
        CountingConnection.commands += 1
        return super().pack_command(*args)


class StageMeter:
    """Process CPU, Redis CPU, commands and wall time per named stage."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.totals = {name: {"cpu_s": 0.0, "redis_cpu_s": 0.0, "commands": 0, "wall_s": 0.0}
                       for name in STAGES}

    async def run(self, name: str, work: Callable[[], Awaitable[Any]]) -> Any:
        redis_before = await redis_cpu_s(self.redis)
        commands = CountingConnection.commands
        wall, cpu = time.perf_counter(), time.process_time()
        result = await work()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        commands = CountingConnection.commands - commands
        row = self.totals[name]
        row["redis_cpu_s"] += await redis_cpu_s(self.redis) - redis_before
        row["cpu_s"] += cpu
        row["wall_s"] += wall
        row["commands"] += commands
        return result


class AgentBatch:
    """One micro-batch, as ``user_events_agent.apply`` runs it."""

    def __init__(self, recs: Any, recorder: UserEventRecorder, profiles: UserProfileStore,
                 fast_path: bool) -> None:
        self.recorder = recorder
        self.profiles = profiles
        self.applier = recs.applier()
        self.updater = recs.updater() if fast_path else None

    async def run(self, records: list[dict[str, Any]], meter: StageMeter) -> None:
        applied = await meter.run("record", lambda: self.recorder.record(records))
        fresh = [r for r, a in zip(records, applied, strict=True) if a]
        if not fresh:
            return
        loaded = await meter.run(
            "load", lambda: self.profiles.load_many(r["user_id"] for r in fresh))
        touched = await meter.run("apply", lambda: self.applier.apply(fresh, loaded))
        await meter.run("save", lambda: self.profiles.save_many(loaded[u] for u in touched))
        if self.updater is not None:
            await meter.run("fast", lambda: self.update_in_place(fresh, loaded, touched))

    async def update_in_place(self, fresh: list[dict[str, Any]], loaded: dict[str, Any],
                              touched: list[str]) -> Any:
        by_user: dict[str, list[dict[str, Any]]] = {}
        for record in fresh:
            by_user.setdefault(record["user_id"], []).append(record)
        return await self.updater.update_many(  # type: ignore[union-attr]
            [(loaded[user], by_user.get(user, [])) for user in touched])


def per_event(totals: dict[str, dict[str, float]], events: int) -> dict[str, Any]:
    stages = {name: {"cpu_ms": round(row["cpu_s"] * 1000 / events, 4),
                     "redis_cpu_ms": round(row["redis_cpu_s"] * 1000 / events, 4),
                     "commands": round(row["commands"] / events, 3),
                     "wall_ms": round(row["wall_s"] * 1000 / events, 4)}
              for name, row in totals.items() if row["wall_s"] > 0}
    total = {key: round(sum(s[key] for s in stages.values()), 4)
             for key in ("cpu_ms", "redis_cpu_ms", "commands", "wall_ms")}
    return {"stages": stages, "total": total}


def components(settings: Any, redis: aioredis.Redis, index: ShardedIndex,
               args: argparse.Namespace) -> tuple[AgentBatch, Any]:
    """The worker's per-batch parts on one client; also the co-visitation store."""
    recs = build_recs(settings, redis, BenchReplica(index))  # type: ignore[arg-type]
    if args.covis_items_per_call is not None:
        recs.co_visitation.config = type(recs.co_visitation.config)(
            **{**vars(recs.co_visitation.config), "items_per_call": args.covis_items_per_call})
    recorder = UserEventRecorder(redis, recs.keys, max_recent=settings.user_recent_events,
                                 dedup_ttl_s=settings.dedup_ttl_s)
    batcher = AgentBatch(recs, recorder, UserProfileStore(redis, recs.keys),
                         not args.no_fast_path)
    return batcher, recs.co_visitation


async def full_refresh_all(settings: Any, redis: aioredis.Redis, index: ShardedIndex,
                           events: list[dict[str, Any]], batch: int = 100) -> None:
    recs = build_recs(settings, redis, BenchReplica(index))  # type: ignore[arg-type]
    refresher, profiles = recs.refresher(), UserProfileStore(redis, recs.keys)
    users = list(dict.fromkeys(e["user_id"] for e in events))
    for start in range(0, len(users), batch):
        loaded = await profiles.load_many(users[start:start + batch])
        await refresher.refresh_many(list(loaded.values()))


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="streamrec-apply-bench-") as work:
        server = RedisServer(Path(work) / "redis", free_port(), maxmemory="2gb",
                             config=dict(args.redis_config))
        server.start()
        try:
            settings = load_settings().model_copy(update={
                "redis_url": server.url, "redis_key_prefix": "bench:"})
            index = ShardedIndex(DIM, "bench-model", shard_router(settings),
                                 index_config(settings))
            skus, vectors, paths = catalog(args.items, rng)
            index.upsert_many(skus, vectors, paths,
                              [{"available": True, "category_path": p} for p in paths])
            stream = synthetic_events(skus, paths, args.population,
                                      args.warm_events + args.events, rng)
            redis = aioredis.from_url(server.url, connection_class=CountingConnection)
            batcher, covis = components(settings, redis, index, args)
            warm = StageMeter(redis)
            started = time.perf_counter()
            for i in range(0, args.warm_events, args.batch):
                await batcher.run(stream[i:min(i + args.batch, args.warm_events)], warm)
            if not args.no_full_lists:
                # as in the live worker, where a full refresh follows a user's first events:
                # every user's cached list is a full one (~top_n entries), which is what
                # the fast path updates from then on
                await full_refresh_all(settings, redis, index, stream[:args.warm_events])
            warm_s = time.perf_counter() - started
            memory = await redis.info("memory")
            await redis.save()
            # the store's per-item write counters decide its trims: each round starts from
            # the warm-up's, as from its Redis state
            writes = dict(covis._writes)
            await redis.aclose()
            block = stream[args.warm_events:]
            rounds = []
            for _ in range(args.rounds):
                server.stop()
                server.start()  # loads the warm-up's dump.rdb
                redis = aioredis.from_url(server.url, connection_class=CountingConnection)
                batcher, covis = components(settings, redis, index, args)
                covis._writes = dict(writes)
                meter = StageMeter(redis)
                for i in range(0, len(block), args.batch):
                    await batcher.run(block[i:i + args.batch], meter)
                rounds.append({"load_avg": load_avg(), **per_event(meter.totals, len(block))})
                await redis.aclose()
        finally:
            server.stop()
    best = min(rounds, key=lambda r: r["total"]["cpu_ms"])
    return {
        "bench": "event_apply", "date": utc_now(), "code": code_version(), **machine_facts(),
        "items": args.items, "population": args.population, "events": args.events,
        "batch": args.batch, "warm_events": args.warm_events, "warm_s": round(warm_s, 1),
        "fast_path": not args.no_fast_path, "full_lists": not args.no_full_lists,
        "covis_items_per_call": args.covis_items_per_call,
        "redis_config": dict(args.redis_config),
        "redis_used_memory_mb_after_warm_up": round(memory["used_memory"] / 2**20, 1),
        "rounds": args.rounds, "best": best,
        "round_totals": [{"load_avg": r["load_avg"], **r["total"]} for r in rounds],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=50_000, help="events per round")
    parser.add_argument("--warm-events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-fast-path", action="store_true")
    parser.add_argument("--no-full-lists", action="store_true",
                        help="skip the full refresh of every user after the warm-up (then "
                             "the lists are only what the fast path built: shorter)")
    parser.add_argument("--covis-items-per-call", type=int, default=None,
                        help="co-visitation items per script call (0: the whole batch)")
    parser.add_argument("--redis-config", action="append", default=[], metavar="NAME=VALUE",
                        type=lambda s: tuple(s.split("=", 1)),
                        help="a redis.conf directive for the bench's Redis (repeatable), "
                             "e.g. zset-max-listpack-entries=64")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    load_before = load_avg()
    result = asyncio.run(bench(args))
    result["load_avg_before"] = load_before
    best = result["best"]
    print(f"{'stage':<8} {'CPU ms/event':>13} {'Redis CPU ms':>13} {'commands':>9} "
          f"{'wall ms':>8}")
    for name, row in [*best["stages"].items(), ("total", best["total"])]:
        print(f"{name:<8} {row['cpu_ms']:>13.4f} {row['redis_cpu_ms']:>13.4f} "
              f"{row['commands']:>9.3f} {row['wall_ms']:>8.4f}")
    print(f"Redis memory after the warm-up: {result['redis_used_memory_mb_after_warm_up']} MB"
          f" ({result['redis_config'] or 'default configuration'})")
    print("rounds (CPU ms/event): "
          f"{[r['cpu_ms'] for r in result['round_totals']]}; load average "
          f"{load_before} -> {[r['load_avg'] for r in result['round_totals']]}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
