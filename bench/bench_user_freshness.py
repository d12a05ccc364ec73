"""User-path freshness and recommendation serving, through the live system.

    .venv/bin/python -m bench.bench_user_freshness --data-dir ../shared/data [--seconds 60]

1. Freshness: ``--rate`` user events a second (default 1,000) for ``--seconds`` over
   ``--users`` users, produced to ``user.events``, after ``--warm-up-seconds`` (default 30)
   of the same traffic that is not measured (a freshly started Kafka spends its first ~20 s
   compiling: half a core, as much as the rest of its run's average). Every
   ``--probe-every``-th event goes to a probe user (each probe user gets an event at most
   every few seconds, so the debouncer never merges two probes); the bench polls that
   user's cache metadata in Redis until its ``event_count`` includes the probe: event
   produced → the user's candidate cache rewritten. Reports p50/p90/p99/max and how many
   probes never arrived, and, from the users worker's metrics, how old each micro-batch's
   oldest record was when the agent picked the batch up and when it had applied it
   (queueing vs work); and per 10 s window, the CPU of each kind of process (users worker,
   Redis, Kafka, the bench...), the users worker's refreshes by reason, Redis's memory and
   the Redis commands that took the most time (which part grows when a run tips over).
2. Serving: ``GET /v1/recommendations/{user}?k=10`` from ``--clients`` concurrent
   clients (aiohttp) for ``--serve-seconds`` over the users warmed by step 1; reports
   requests/s, latency percentiles and the API's CPU per request (all its processes).
   Closed loop by default (each client sends its next request when the last one is
   answered: the throughput ceiling); ``--serve-rate R`` offers R requests/s in total on
   a fixed schedule instead (open loop), and each latency counts from the request's
   scheduled time, so a server that falls behind is charged for the queue it builds.

Starts its own Kafka and Redis, a catalog worker, a users worker and the API
(``--api-workers`` uvicorn processes). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import redis

from bench.live_platform import cpu_seconds, settings_env
from bench.local_services import bench_settings
from streamrec.datasets.fashion_catalog import fashion_catalog_changes
from streamrec.evaluation.live_deployment import (
    histogram_quantile,
    metric_sum,
    tree_cpu_seconds,
)
from streamrec.platform.processes import free_port, spawn, stop_process_group, wait_until
from streamrec.redis_keys import RedisKeys
from streamrec.schemas.records import CatalogChangeIn
from streamrec.settings import Settings
from streamrec.streams.admin import ensure_topics
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics

REPO = Path(__file__).resolve().parents[1]
KEPT_LOGS = Path("/tmp/streamrec-bench-logs/user-freshness")


def cpu_by_kind(named: dict[int, str]) -> dict[str, float]:
    """CPU seconds of every process on the machine, summed by kind: the ``named`` pids
    (and their children) under their names, Kafka (java), Redis, this bench, the rest as
    ``other``: where the two cores go while events flow."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended while we looked
            continue
    totals: dict[str, float] = {}
    for pid, parent in parents.items():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        kind = named.get(pid) or named.get(parent)
        if kind is None:
            kind = ("bench" if pid == os.getpid() else "kafka" if b"kafka" in cmd
                    else "redis" if b"redis-server" in cmd else "other")
        seconds = cpu_seconds(pid)
        if seconds == seconds:  # NaN: ended while we looked
            totals[kind] = totals.get(kind, 0.0) + seconds
    return totals


class WindowSampler:
    """Every ``every`` seconds while events flow: CPU by process kind, the users worker's
    refreshes by reason, Redis's memory and its costliest commands, per window (which
    part grows when a run tips over)."""

    REASONS = ("incremental", "event", "warmed", "requested", "failed")

    def __init__(self, procs: Processes, redis_url: str, every: float = 10.0) -> None:
        self.procs = procs
        self.redis = redis.Redis.from_url(redis_url)
        self.every = every
        self.windows: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> tuple[float, dict[str, float], dict[str, float], dict[str, float],
                               int]:
        metrics = self.procs.users_metrics()
        # Redis counts the commands its scripts call too: evalsha's time includes theirs
        commands = {name.removeprefix("cmdstat_"): stats["usec"] / 1e6 for name, stats in
                    self.redis.info("commandstats").items()}
        return (time.monotonic(), cpu_by_kind(self.procs.named_pids()),
                {r: metric_sum(metrics, "streamrec_candidate_refreshes_total", reason=r)
                 for r in self.REASONS}, commands, self.redis.info("memory")["used_memory"])

    def _loop(self) -> None:
        last = self._sample()
        while not self._stop.wait(self.every):
            now = self._sample()
            elapsed = now[0] - last[0]
            self.windows.append({
                "cpu_cores": {k: round((v - last[1].get(k, 0.0)) / elapsed, 2)
                              for k, v in sorted(now[1].items())},
                "refreshes_per_s": {r: round((now[2][r] - last[2][r]) / elapsed)
                                    for r in self.REASONS},
                "redis_used_memory_mb": round(now[4] / 2**20, 1),
                "redis_command_cores": dict(sorted(
                    ((c, round((v - last[3].get(c, 0.0)) / elapsed, 3))
                     for c, v in now[3].items()), key=lambda kv: -kv[1])[:6])})
            last = now

    def __enter__(self) -> WindowSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


class Processes:
    """A catalog worker, users workers (sharing user.events' partitions) and the API, in
    their own process groups."""

    def __init__(self, settings: Settings, api_workers: int, users_workers: int = 1) -> None:
        self.env = settings_env(settings)
        self.logs = Path(settings.state_dir) / "logs"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.users_metrics_ports = [free_port() for _ in range(users_workers)]
        self.procs = {"catalog": self._spawn(["worker", "--role", "catalog"], "catalog")}
        for n, port in enumerate(self.users_metrics_ports):
            self.procs[f"users{n or ''}"] = self._spawn(
                ["worker", "--role", "users", "--metrics-port", str(port)], f"users{n or ''}")
        self.procs["api"] = self._spawn(["api", "--port", str(self.port), "--workers",
                                         str(api_workers)], "api")

        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 180, "the API", self.procs["api"], self.logs / "api.log", 0.5)

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, "-m", "streamrec", *args], self.logs / f"{name}.log",
                     env=self.env, cwd=REPO)

    def users_metrics(self) -> str:
        """Every users worker's metrics, one after the other."""
        return "\n".join(httpx.get(f"http://127.0.0.1:{port}/metrics").text
                         for port in self.users_metrics_ports)

    def users_cpu(self) -> float:
        return sum(cpu_seconds(proc.pid) for name, proc in self.procs.items()
                   if name.startswith("users"))

    def named_pids(self) -> dict[int, str]:
        return {proc.pid: ("users worker" if name.startswith("users") else
                           "catalog worker" if name == "catalog" else name)
                for name, proc in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_process_group(proc.pid)
        # the state folder is temporary: keep the logs for a look afterwards
        shutil.copytree(self.logs, KEPT_LOGS, dirs_exist_ok=True)


def load_catalog(settings: Settings, procs: Processes, records: list[dict]) -> None:
    topic = Topics(settings).catalog_changes
    with RecordProducer(settings) as producer:
        for record in records:
            producer.send_record(topic, "CatalogChange", record["sku"], record)
    deadline = time.monotonic() + 1800
    while httpx.get(f"{procs.url}/readyz").json()["index"]["searchable"] < len(records):
        if time.monotonic() > deadline:
            raise TimeoutError("catalog not indexed")
        time.sleep(1)
    time.sleep(2)  # the users worker's replica follows the same topic


class FreshnessRun:
    def __init__(self, settings: Settings, skus: list[str], users: int, rate: float,
                 probe_every: int, probe_users: int) -> None:
        self.settings = settings
        self.skus = skus
        self.users = users
        self.rate = rate
        self.probe_every = probe_every
        self.probe_names = [f"probe-{n}" for n in range(probe_users)]
        self.keys = RedisKeys(settings.redis_key_prefix)
        self.redis = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.pending: dict[str, tuple[int, float]] = {}  # probe user -> (count, sent at)
        self.sent_counts: dict[str, int] = {}
        self.latencies: list[float] = []
        self.sent_at: list[float] = []
        """When each arrived probe was sent, seconds into the run (for the timeline)."""
        self.started = time.monotonic()
        self.lost = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def produce(self, seconds: float, warm_up: bool = False) -> None:
        """``seconds`` of events at ``rate``; ``warm_up``: no probes, event ids of their
        own (the measured run's must not be duplicates of these)."""
        rng = random.Random(7 if warm_up else 11)
        id_prefix = "w" if warm_up else "e"
        topic = Topics(self.settings).user_events
        probes = iter(self.probe_names * 1000)
        with RecordProducer(self.settings, client_id="bench-users") as producer:
            started = self.started = time.monotonic()
            while time.monotonic() - started < seconds:
                due = started + self.sent / self.rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                user = f"user-{rng.randrange(self.users)}"
                probe = not warm_up and self.sent % self.probe_every == 0
                if probe:
                    user = next(probes)
                    with self._lock:
                        if user in self.pending:  # still waiting: never merge two probes
                            probe, user = False, f"user-{rng.randrange(self.users)}"
                event = {"event_id": f"{id_prefix}{self.sent}", "user_id": user, "session_id": user,
                         "type": "VIEW" if rng.random() < 0.8 else "CLICK",
                         "sku": rng.choice(self.skus), "ts": int(time.time() * 1000),
                         "query": None, "context": {}}
                producer.send_record(topic, "UserEvent", user, event)
                if probe:
                    count = self.sent_counts.get(user, 0) + 1
                    self.sent_counts[user] = count
                    with self._lock:
                        self.pending[user] = (count, time.monotonic())
                self.sent += 1

    def poll(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                waiting = list(self.pending.items())
            if waiting:
                pipe = self.redis.pipeline(transaction=False)
                for user, _ in waiting:
                    pipe.hget(self.keys.user_candidate_meta(user), "event_count")
                counts = pipe.execute()
                now = time.monotonic()
                for (user, (expected, sent_at)), seen in zip(waiting, counts, strict=True):
                    if seen is not None and int(seen) >= expected:
                        with self._lock:
                            self.pending.pop(user, None)
                        self.latencies.append(now - sent_at)
                        self.sent_at.append(sent_at - self.started)
            time.sleep(0.01)

    def run(self, seconds: float) -> None:
        poller = threading.Thread(target=self.poll, daemon=True)
        poller.start()
        self.produce(seconds)
        deadline = time.monotonic() + 20
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.1)
        self._stop.set()
        poller.join(timeout=5)
        self.lost = len(self.pending)


async def serve(url: str, users: list[str], clients: int, seconds: float,
                api_pid: int | None = None, rate: float = 0.0) -> dict[str, float]:
    """Closed loop (``rate`` 0) or ``rate`` requests/s on a fixed schedule (open loop)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    rng = random.Random(5)
    interval = clients / rate if rate > 0 else 0.0  # each client's share of the schedule

    async def client(session: aiohttp.ClientSession, n: int, start: float) -> None:
        due = start + n * interval / clients  # the clients' schedules interleave
        while (now := time.perf_counter()) < start + seconds:
            if interval:
                if due > now:
                    await asyncio.sleep(due - now)
                began, due = due, due + interval  # latency from the scheduled time
            else:
                began = now
            user = rng.choice(users)
            async with session.get(f"{url}/v1/recommendations/{user}", params={"k": "10"}) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            latencies.append((time.perf_counter() - began) * 1000)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        cpu_before = tree_cpu_seconds(api_pid) if api_pid else float("nan")
        start = time.perf_counter()
        await asyncio.gather(*(client(session, n, start) for n in range(clients)))
        elapsed = time.perf_counter() - start
        api_cpu = tree_cpu_seconds(api_pid) - cpu_before if api_pid else float("nan")
    return {"requests": len(latencies), "offered_per_s": rate or None,
            "requests_per_s": round(len(latencies) / elapsed),
            "p50_ms": pct(latencies, 50), "p90_ms": pct(latencies, 90),
            "p99_ms": pct(latencies, 99),
            "api_cpu_ms_per_request": round(api_cpu * 1000 / max(len(latencies), 1), 3),
            "non_200": sum(n for s, n in statuses.items() if s != 200)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--catalog", type=int, default=3000, help="fashion products to load")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warm-up-seconds", type=float, default=30.0,
                        help="events at --rate before the measured run (no probes)")
    parser.add_argument("--probe-every", type=int, default=100)
    parser.add_argument("--probe-users", type=int, default=50)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--serve-seconds", type=float, default=30.0)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--users-workers", type=int, default=1,
                        help="users worker processes sharing the partitions")
    parser.add_argument("--serve-rate", type=float, default=0.0,
                        help="requests/s offered on a schedule (0: closed loop)")
    args = parser.parse_args()

    records = [CatalogChangeIn(**r).to_record()
               for r in fashion_catalog_changes(args.data_dir, limit=args.catalog)]
    with bench_settings(None, None) as settings:
        ensure_topics(settings)
        procs = Processes(settings, args.api_workers, args.users_workers)
        try:
            load_catalog(settings, procs, records)
            run = FreshnessRun(settings, [r["sku"] for r in records], args.users, args.rate,
                               args.probe_every, args.probe_users)
            if args.warm_up_seconds > 0:  # Kafka's JIT, the worker's caches: not measured
                FreshnessRun(settings, run.skus, args.users, args.rate, args.probe_every,
                             args.probe_users).produce(args.warm_up_seconds, warm_up=True)
            users_cpu_before = procs.users_cpu()
            kinds_before = cpu_by_kind(procs.named_pids())
            started = time.monotonic()
            with WindowSampler(procs, settings.redis_url) as sampler:
                run.run(args.seconds)
            fresh_elapsed = time.monotonic() - started
            users_cpu = procs.users_cpu() - users_cpu_before
            kinds_after = cpu_by_kind(procs.named_pids())
            cpu_shares = {kind: round((seconds - kinds_before.get(kind, 0.0)) / fresh_elapsed, 2)
                          for kind, seconds in sorted(kinds_after.items())}
            metrics = procs.users_metrics()  # where the time goes: the batches' record age
            record_age_ms = {
                f"{stage}_p{round(q * 100)}": round(1000 * histogram_quantile(
                    metrics, "streamrec_agent_record_age_seconds", q, agent="user-events",
                    stage=stage)) for stage in ("picked", "applied") for q in (0.5, 0.99)}
            record_age_ms.update({f"batch_p{round(q * 100)}": round(1000 * histogram_quantile(
                metrics, "streamrec_agent_batch_seconds", q, agent="user-events"))
                for q in (0.5, 0.99)})
            load_fresh = os.getloadavg()[0]
            warmed = [f"user-{n}" for n in range(min(args.users, 5000))]
            served = asyncio.run(serve(procs.url, warmed, args.clients, args.serve_seconds,
                                       procs.procs["api"].pid, args.serve_rate))
            load_serve = os.getloadavg()[0]
        finally:
            procs.stop()

    lat = [x * 1000 for x in run.latencies]
    # p99 of the probes sent in each 10 s of the run: does the path keep up, or tip later?
    windows: dict[int, list[float]] = {}
    for sent_at, ms in zip(run.sent_at, lat, strict=True):
        windows.setdefault(int(sent_at // 10) * 10, []).append(ms)
    timeline = {f"{start}-{start + 10}s": {"probes": len(v), "p50": pct(v, 50),
                                            "p99": pct(v, 99)}
                for start, v in sorted(windows.items())}
    result = {
        "bench": "user_freshness_and_serving",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "catalog": len(records), "users": args.users, "events_per_s": args.rate,
        "warm_up_seconds": args.warm_up_seconds, "events_sent": run.sent,
        "seconds": round(fresh_elapsed, 1),
        "achieved_events_per_s": round(run.sent / fresh_elapsed),
        "probes": len(lat), "probes_lost": run.lost,
        "freshness_ms": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                         "max": round(max(lat, default=0), 1)},
        "users_workers": args.users_workers,
        "users_worker_cpu_share": round(users_cpu / fresh_elapsed, 2),
        "cpu_cores_by_process": cpu_shares,
        "windows_10s": sampler.windows,
        "batch_oldest_record_age_ms": record_age_ms,
        "freshness_by_10s": timeline,
        "load_during_freshness": round(load_fresh, 2),
        "serving": {"clients": args.clients, "api_workers": args.api_workers, **served},
        "load_during_serving": round(load_serve, 2),
    }
    print(f"freshness: {run.sent} events at {result['achieved_events_per_s']}/s over "
          f"{args.users} users; {len(lat)} probes: p50 {result['freshness_ms']['p50']} ms, "
          f"p90 {result['freshness_ms']['p90']} ms, p99 {result['freshness_ms']['p99']} ms, "
          f"max {result['freshness_ms']['max']} ms, lost {run.lost} "
          f"({args.users_workers} users worker(s): {result['users_worker_cpu_share']} cores, "
          f"load {load_fresh:.1f}); "
          f"oldest record of a batch, age when picked up / applied (bucket bounds): "
          f"p50 {record_age_ms['picked_p50']} / {record_age_ms['applied_p50']} ms, p99 "
          f"{record_age_ms['picked_p99']} / {record_age_ms['applied_p99']} ms")
    print("CPU (cores) while events flowed: " + ", ".join(
        f"{kind} {share}" for kind, share in cpu_shares.items())
          + f"; total {sum(cpu_shares.values()):.2f}")
    for n, window in enumerate(sampler.windows):
        cpu, per_s = window["cpu_cores"], window["refreshes_per_s"]
        print(f"  {n * 10:>3}-{n * 10 + 10}s: CPU users worker {cpu.get('users worker')}, "
              f"redis {cpu.get('redis')}, kafka {cpu.get('kafka')}, bench {cpu.get('bench')}, "
              f"total {sum(cpu.values()):.2f}; Redis {window['redis_used_memory_mb']} MB; "
              "refreshes/s " + ", ".join(
                  f"{r} {v}" for r, v in per_s.items() if v) + "; Redis cores by command "
              + ", ".join(f"{c} {v}" for c, v in window["redis_command_cores"].items()))
    print("freshness by when the probe was sent: " + ", ".join(
        f"{w} p50 {v['p50']} / p99 {v['p99']} ms" for w, v in timeline.items()))
    print(f"serving: {served['requests_per_s']} req/s at {args.clients} clients, p50 "
          f"{served['p50_ms']} ms, p90 {served['p90_ms']} ms, p99 {served['p99_ms']} ms, "
          f"non-200 {served['non_200']}, API CPU {served['api_cpu_ms_per_request']} ms per "
          f"request ({args.api_workers} API processes, load "
          f"{load_serve:.1f})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
