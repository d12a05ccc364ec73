"""Catalog ingest and freshness through the live system.

    .venv/bin/python -m bench.bench_catalog_freshness --data-dir ../shared/data [--seconds 60]

1. Ingest: publish the fashion catalog (12,514 products; ``--catalog homedepot``: the
   54,667 Home Depot products) and time it until the API's
   index replica holds every product: products/s from publish to searchable (the
   worker embeds each product and publishes its ItemVector; the API replica applies it).
2. Freshness: then, for ``--seconds``, change ``--rate`` products a second; a share
   ``--text-change-share`` of them get a new title (re-embedded: the expensive case; 1.0
   by default), the rest a new price (the stored vector is reused). Every
   ``--probe-every``-th change carries a unique marker word; a poller searches for each
   outstanding marker every 100 ms and records when it first appears in ``/v1/search``
   (so times are up to 100 ms late). Reports p50/p90/p99/max of change-to-visible
   latency.

Starts its own Kafka and Redis (free ports), one worker and one API process. Prints a
table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from bench.live_platform import LivePlatform, cpu_seconds
from bench.local_services import bench_settings
from streamrec.datasets.fashion_catalog import fashion_catalog_changes
from streamrec.datasets.homedepot_catalog import homedepot_catalog_changes
from streamrec.schemas.records import CatalogChangeIn
from streamrec.settings import Settings
from streamrec.streams.admin import ensure_topics
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics


def marker_word(n: int) -> str:
    """A unique, letters-only word (digits would be split by the lexical analyser)."""
    letters = ""
    for _ in range(5):
        n, digit = divmod(n, 26)
        letters += chr(ord("a") + digit)
    return f"qzx{letters}"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def ingest(live: LivePlatform, producer: RecordProducer, topic: str,
           records: list[dict], timeout_s: float) -> dict[str, float]:
    pids = live.pids()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    for record in records:
        producer.send_record(topic, "CatalogChange", record["sku"], record)
    producer.flush()
    published = time.perf_counter() - started
    deadline = started + timeout_s
    while live.index_stats()["searchable"] < len(records):
        live.check_alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {live.index_stats()['products']} of {len(records)} "
                               "products searchable")
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    # CPU spent by the platform's own processes: unlike the wall time, it barely moves
    # with what else the shared machine runs (Kafka and Redis are not included)
    cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 1) for name, pid in pids.items()}
    total_cpu = sum(cpu.values())
    return {"products": len(records), "publish_s": round(published, 2),
            "searchable_s": round(elapsed, 2), "products_per_s": round(len(records) / elapsed, 1),
            "cpu_s": cpu, "cpu_ms_per_product": round(1000 * total_cpu / len(records), 2),
            "products_per_cpu_s": round(len(records) / total_cpu, 1) if total_cpu else None}


class FreshnessProbe:
    """Changes products at a fixed rate; measures when marked changes become searchable."""

    def __init__(self, live: LivePlatform, producer: RecordProducer, topic: str,
                 records: list[dict], rate: float, probe_every: int,
                 text_share: float = 1.0) -> None:
        self.live = live
        self.producer = producer
        self.topic = topic
        self.records = records
        self.rate = rate
        self.probe_every = probe_every
        self.text_share = text_share
        self.titles = {r["sku"]: r["title"] for r in records}
        self.pending: dict[str, tuple[str, float]] = {}  # marker -> (sku, published at)
        self.latencies: list[float] = []
        self.lost: list[str] = []
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def produce(self, seconds: float) -> None:
        rng = random.Random(7)
        started = time.monotonic()
        clock = int(time.time() * 1000)
        while time.monotonic() - started < seconds:
            due = started + self.sent / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            base = rng.choice(self.records)
            with self._lock:
                probed = {sku for sku, _ in self.pending.values()}
            while base["sku"] in probed:
                # a later change to a probed product would replace its marker title
                # before the poller saw it, and count as lost though nothing was: the
                # 1 in 120 fashion probes "lost" in earlier runs (12,514 products)
                base = rng.choice(self.records)
            clock += 1
            marker = None
            if self.sent % self.probe_every == 0:
                marker = marker_word(self.sent)
                title = f"{base['title']} edition {self.sent} {marker}"
            elif rng.random() < self.text_share:
                title = f"{base['title']} edition {self.sent}"  # new text: re-embedded
            else:
                title = self.titles[base["sku"]]  # a price change: the vector is reused
            self.titles[base["sku"]] = title
            change = {**base, "title": title, "price": round(rng.uniform(5, 500), 2),
                      "updated_at": clock}
            if marker:
                with self._lock:
                    self.pending[marker] = (base["sku"], time.monotonic())
            self.producer.send_record(self.topic, "CatalogChange", base["sku"], change)
            self.producer.poll(0)
            self.sent += 1
        self.producer.flush()

    def poll(self, interval_s: float = 0.1) -> None:
        """Search each outstanding marker at most every ``interval_s`` (the resolution):
        polling every marker back to back made the poller's own searches a CPU load that
        grew with the backlog it measured."""
        client = httpx.Client(base_url=self.live.url, timeout=10)
        last_polled: dict[str, float] = {}
        while not self._stop.is_set():
            with self._lock:
                outstanding = list(self.pending.items())
            for marker, (sku, published) in outstanding:
                if time.monotonic() - last_polled.get(marker, 0.0) < interval_s:
                    continue
                last_polled[marker] = time.monotonic()
                body = client.get("/v1/search",
                                  params={"q": marker, "k": 3, "rewrite": "false"}).json()
                if any(item["sku"] == sku for item in body["items"]) and body["rung"] in (
                        "hybrid", "lexical_relaxed"):
                    with self._lock:
                        self.pending.pop(marker, None)
                    self.latencies.append(time.monotonic() - published)
            time.sleep(0.02)

    def run(self, seconds: float, drain_s: float = 30.0) -> None:
        poller = threading.Thread(target=self.poll, daemon=True)
        poller.start()
        self.produce(seconds)
        deadline = time.monotonic() + drain_s
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.1)
        self._stop.set()
        poller.join(timeout=5)
        self.lost = list(self.pending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--catalog", choices=("fashion", "homedepot"), default="fashion")
    parser.add_argument("--limit", type=int, default=None, help="products to ingest")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0, help="catalog changes per second")
    parser.add_argument("--probe-every", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--encoder-threads", type=int, default=2)
    parser.add_argument("--text-change-share", type=float, default=1.0,
                        help="share of changes that change the text (the rest: price)")
    args = parser.parse_args()

    changes = fashion_catalog_changes if args.catalog == "fashion" else homedepot_catalog_changes
    records = [CatalogChangeIn(**r).to_record()
               for r in changes(args.data_dir, limit=args.limit)]
    env = {"STREAMREC_INDEX_SNAPSHOT_INTERVAL_S": "0",
           "STREAMREC_ENCODER_THREADS": str(args.encoder_threads)}
    with bench_settings(None, None) as settings:
        ensure_topics(settings)
        topic = Topics(settings).catalog_changes
        with LivePlatform(settings, env=env) as live, \
                RecordProducer(settings, client_id="bench-catalog") as producer:
            live.start()
            ingested = ingest(live, producer, topic, records, args.timeout)
            load_ingest = os.getloadavg()[0]
            probe = FreshnessProbe(live, producer, topic, records, args.rate, args.probe_every,
                                   args.text_change_share)
            probe.run(args.seconds)
            load_fresh = os.getloadavg()[0]

    lat = [x * 1000 for x in probe.latencies]
    result = {
        "bench": "catalog_freshness",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "catalog": args.catalog,
        "encoder": {"threads": args.encoder_threads,
                    "quantization": Settings().encoder_quantization},
        "ingest": ingested,
        "load_during_ingest": round(load_ingest, 2),
        "changes_sent": probe.sent,
        "changes_per_s": args.rate,
        "text_change_share": args.text_change_share,
        "probes": len(lat),
        "probes_lost": len(probe.lost),
        "freshness_ms": {"p50": round(percentile(lat, 50)), "p90": round(percentile(lat, 90)),
                         "p99": round(percentile(lat, 99)), "max": round(max(lat, default=0))},
        "load_during_freshness": round(load_fresh, 2),
    }
    print(f"ingest: {ingested['products']} products searchable in {ingested['searchable_s']} s "
          f"= {ingested['products_per_s']} products/s (load {load_ingest:.1f}); "
          f"worker + API CPU {ingested['cpu_s']} = {ingested['cpu_ms_per_product']} ms/product "
          f"({ingested['products_per_cpu_s']} products per CPU-second)")
    print(f"freshness at {args.rate:.0f} changes/s for {args.seconds:.0f} s: "
          f"{len(lat)} probes, p50 {result['freshness_ms']['p50']} ms, "
          f"p90 {result['freshness_ms']['p90']} ms, p99 {result['freshness_ms']['p99']} ms, "
          f"max {result['freshness_ms']['max']} ms, lost {len(probe.lost)}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
