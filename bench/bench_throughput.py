"""Producer throughput and end-to-end throughput through the Faust worker.

    .venv/bin/python -m bench.bench_throughput [--events 200000] [--users 10000]

1. Producer: records/s of RecordProducer (idempotent, acks=all, lz4) for small UserEvent
   records, with Avro encoding done beforehand and with encoding included.
2. End to end: the same events, already in ``user.events``, consumed by one worker
   process (``streamrec worker --role users`` with ``STREAMREC_RECS_ENABLED=false``):
   validated against the schema, de-duplicated and recorded in Redis (recent events,
   popularity). The full user path (profiles, candidate refresh) is bench_user_freshness.
   Rate measured from the worker's own Prometheus counter between
   the first and the last applied record (start-up and rebalance excluded).

Starts its own Kafka and Redis on free ports unless --bootstrap/--redis-url are given.
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.local_services import bench_settings
from streamrec.platform.processes import free_port, spawn, stop_process_group
from streamrec.schemas.codec import codec_for
from streamrec.settings import Settings
from streamrec.streams.admin import ensure_topics
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics

APPLIED = 'streamrec_agent_records_total{agent="user-events",outcome="applied"}'


def make_events(n: int, users: int) -> list[dict]:
    base = 1_764_000_000_000
    return [{"event_id": f"ev-{i}", "user_id": f"user-{i % users}", "session_id": None,
             "type": "VIEW" if i % 4 else "CLICK", "sku": f"sku-{(i * 7919) % 50_000}",
             "query": None, "ts": base + i, "context": {"page": "home"}} for i in range(n)]


def producer_rate(settings: Settings, topic: str, events: list[dict], encode: bool) -> float:
    codec = codec_for("UserEvent")
    payloads = None if encode else [(e["user_id"].encode(), codec.encode(e)) for e in events]
    with RecordProducer(settings, client_id="bench") as producer:
        started = time.perf_counter()
        if payloads is None:
            for e in events:
                producer.send(topic, e["user_id"].encode(), codec.encode(e, check=False))
        else:
            for key, value in payloads:
                producer.send(topic, key, value)
        producer.flush()
        elapsed = time.perf_counter() - started
        assert producer.stats.total_failed == 0, producer.stats.errors[:3]
    return len(events) / elapsed


def applied_count(metrics_url: str) -> float:
    try:
        text = httpx.get(metrics_url, timeout=2).text
    except httpx.HTTPError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(APPLIED):
            return float(line.split()[-1])
    return 0.0


def worker_rate(settings: Settings, expected: int, timeout_s: float) -> dict[str, float]:
    port = free_port()
    env = {
        **settings.as_env(),
        # the validation path alone: profiles and candidate refreshes are measured by
        # bench_user_freshness
        "STREAMREC_RECS_ENABLED": "false",
    }
    log = settings.state_dir / "worker.log"
    proc = spawn([sys.executable, "-m", "streamrec", "worker", "--role", "users",
                  "--metrics-port", str(port)],
                 log, env=env)
    url = f"http://127.0.0.1:{port}/metrics"
    samples: list[tuple[float, float]] = []
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < timeout_s:
            count = applied_count(url)
            samples.append((time.perf_counter(), count))
            if count >= expected:
                break
            if proc.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"worker exited with {proc.returncode}:\n{tail}")
            time.sleep(0.25)
    finally:
        cpu = _cpu_seconds(proc.pid)
        stop_process_group(proc.pid)
    moving = [(t, c) for t, c in samples if c > 0]
    if len(moving) < 2:
        raise RuntimeError(f"the worker applied {samples[-1][1]:.0f} of {expected}; see {log}")
    (t0, c0), (t1, c1) = moving[0], moving[-1]
    return {"events_per_s": (c1 - c0) / (t1 - t0), "applied": c1,
            "seconds": t1 - t0, "worker_cpu_s": cpu}


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--redis-url")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    events = make_events(args.events, args.users)
    with bench_settings(args.bootstrap, args.redis_url, topic_partitions=args.partitions,
                        worker_batch_size=args.batch_size) as settings:
        ensure_topics(settings)
        topics = Topics(settings)
        scratch = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "scratch."})
        ensure_topics(scratch)
        # producer figures on a scratch topic, so the worker sees each event exactly once
        pre_encoded = producer_rate(settings, Topics(scratch).user_events, events, encode=False)
        with_encoding = producer_rate(settings, topics.user_events, events, encode=True)
        worker = worker_rate(settings, args.events, args.timeout)

    result = {
        "bench": "throughput",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
                   f"{platform.python_version()}",
        "events": args.events,
        "partitions": args.partitions,
        "producer_records_per_s": round(pre_encoded),
        "producer_with_avro_encoding_per_s": round(with_encoding),
        "worker_validated_applied_per_s": round(worker["events_per_s"]),
        "worker_applied": int(worker["applied"]),
        "worker_seconds": round(worker["seconds"], 2),
        "worker_cpu_seconds": round(worker["worker_cpu_s"], 1),
    }
    print(f"{'producer (pre-encoded)':40} {result['producer_records_per_s']:>10,} records/s")
    print(f"{'producer (Avro encoding included)':40} "
          f"{result['producer_with_avro_encoding_per_s']:>10,} records/s")
    print(f"{'worker: validate + dedup + Redis':40} "
          f"{result['worker_validated_applied_per_s']:>10,} events/s "
          f"({result['worker_applied']:,} in {result['worker_seconds']} s, "
          f"{result['worker_cpu_seconds']} CPU s)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
