"""Search quality, ingest and latency on Home Depot, through the live system.

    .venv/bin/python -m bench.bench_search_quality --data-dir ../shared/data \
        [--limit-products N] [--limit-queries N]

Everything goes through the running platform, as in production:

1. Starts Kafka and Redis on free ports (or uses --bootstrap/--redis-url), one worker
   process and one API process (``python -m streamrec worker|api``) with
   ``STREAMREC_CATALOG_BATCH_SIZE=256`` and ``STREAMREC_ENCODER_BATCH_SIZE=64``.
2. Ingest: publishes every Home Depot product (``homedepot_catalog_changes``, each
   validated with ``CatalogChangeIn``) to ``catalog.changes`` with ``RecordProducer``;
   the worker's catalog agent embeds them and publishes ``catalog.vectors``; the API's
   index replica follows that topic. Rate = products / (first publish -> /readyz
   ``index.products`` counts them all).
3. Latency (before the quality pass, so the API's query-embedding cache is cold: every
   request's query is distinct unless the query set runs out): k=10 from one client on a
   sample, then 8 concurrent clients for 60 s or 3,000 requests, whichever comes first.
4. Quality: every distinct query of ``judgments_dev.csv`` through ``GET /v1/search``
   with k=100: NDCG@10 (gain = mean relevance 1-3, unjudged = 0), P@10 (relevance >=
   2.5 relevant), recall@100, zero-result rate, and which rung of the no-empty-page
   ladder served (``rung``).
5. Baselines from the same data, offline: the ``ItemVector`` records are read back from
   ``catalog.vectors`` (no second embedding of the catalog); BM25 alone is a
   ``LexicalIndex`` (mode ``tiered``) over the same fields the replica indexes; vectors
   alone is an exact ``faiss.IndexFlatIP`` over those vectors, queries embedded with
   the same encoder; ``hybrid_offline`` fuses the two as the API's hybrid stage does
   (convex 0.8/0.2 over 300 candidates each), without HNSW and without the ladder.

With --limit-products, judgments of products not published are dropped (and queries
left with none); scores are then only a smoke test. Prints a table, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.live_platform import LivePlatform, cpu_seconds
from bench.local_services import bench_settings
from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError
from streamrec.datasets.homedepot_catalog import homedepot_catalog_changes, homedepot_judgments
from streamrec.evaluation.ranking_metrics import ndcg_at_k, precision_at_k, recall_at_k
from streamrec.schemas.records import CatalogChangeIn
from streamrec.settings import Settings
from streamrec.streams.admin import ensure_topics
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics

RELEVANT_AT = 2.5
EMBEDDED = 'streamrec_catalog_embeddings_total{outcome="embedded"}'
INGEST_ENV = {"STREAMREC_CATALOG_BATCH_SIZE": "256", "STREAMREC_ENCODER_BATCH_SIZE": "64"}
HYBRID_DEPTH = 300  # CatalogSearch.hybrid: max(candidates=100, 3 * k) at k=100
MIN_VECTOR_ONLY_SCORE = 0.45  # CatalogSearch.min_vector_only_score


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def pcts(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    return {"p50": round(percentile(values, 0.50), digits),
            "p95": round(percentile(values, 0.95), digits),
            "p99": round(percentile(values, 0.99), digits),
            "n": len(values)}


# ---- data ------------------------------------------------------------------------------


def load_catalog(data_dir: Path, limit: int | None) -> list[dict[str, Any]]:
    """Home Depot products as CatalogChange records, validated by the JSON model."""
    return [CatalogChangeIn(**change).to_record()
            for change in homedepot_catalog_changes(data_dir, limit=limit)]


def load_judgments(data_dir: Path, skus: set[str] | None, limit: int | None
                   ) -> dict[str, dict[str, float]]:
    """query -> {sku: relevance}; only products in ``skus`` when given."""
    judgments: dict[str, dict[str, float]] = defaultdict(dict)
    for j in homedepot_judgments(data_dir):
        if j.query and (skus is None or j.sku in skus):
            judgments[j.query][j.sku] = j.relevance
    queries = sorted(judgments)
    if limit is not None and limit < len(queries):
        queries = sorted(random.Random(7).sample(queries, limit))
    return {q: judgments[q] for q in queries}


# ---- scoring ---------------------------------------------------------------------------


@dataclass
class Quality:
    ndcg_at_10: float
    p_at_10: float
    recall_at_100: float
    zero_result_rate: float
    per_query_ndcg: dict[str, float] = field(repr=False, default_factory=dict)

    def summary(self) -> dict[str, float]:
        return {"ndcg_at_10": round(self.ndcg_at_10, 4), "p_at_10": round(self.p_at_10, 4),
                "recall_at_100": round(self.recall_at_100, 4),
                "zero_result_rate": round(self.zero_result_rate, 4)}


def score(rankings: dict[str, list[str]], judgments: dict[str, dict[str, float]]) -> Quality:
    n = len(judgments) or 1
    ndcg = p10 = r100 = zero = 0.0
    per_query: dict[str, float] = {}
    for query, gains in judgments.items():
        ranked = rankings.get(query, [])
        relevant = {sku for sku, rel in gains.items() if rel >= RELEVANT_AT}
        per_query[query] = ndcg_at_k(ranked, gains, 10)
        ndcg += per_query[query]
        p10 += precision_at_k(ranked, relevant, 10)
        r100 += recall_at_k(ranked, relevant, 100)
        zero += not ranked
    return Quality(ndcg / n, p10 / n, r100 / n, zero / n, per_query)


# ---- HTTP driving ----------------------------------------------------------------------


@dataclass
class Reply:
    query: str
    k: int
    status: int
    latency_ms: float
    skus: list[str] = field(default_factory=list)
    rung: str | None = None
    executed_query: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None


async def _drive(url: str, queries: Sequence[str], k: int, concurrency: int,
                 max_seconds: float | None) -> tuple[list[Reply], float]:
    """Send ``queries`` (each once, in order) from ``concurrency`` clients; stop at the
    deadline. Returns the replies and the wall time of the whole run."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    replies: list[Reply] = []
    pending = iter(queries)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + max_seconds if max_seconds else math.inf

        async def one_client() -> None:
            for query in pending:
                if time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    response = await client.get("/v1/search", params={"q": query, "k": k})
                except httpx.HTTPError as exc:
                    replies.append(Reply(query, k, 0, (time.perf_counter() - t0) * 1000,
                                         error=repr(exc)))
                    continue
                latency = (time.perf_counter() - t0) * 1000
                if response.status_code != 200:
                    replies.append(Reply(query, k, response.status_code, latency,
                                         error=response.text[:200]))
                    continue
                body = response.json()
                replies.append(Reply(query, k, 200, latency,
                                     [item["sku"] for item in body["items"]], body["rung"],
                                     body.get("executed_query"), body.get("timings_ms") or {}))

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return replies, wall


def drive(url: str, queries: Sequence[str], k: int, concurrency: int = 1,
          max_seconds: float | None = None) -> tuple[list[Reply], float, float]:
    """As ``_drive``; also returns this process's CPU seconds spent driving (the client)."""
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    replies, wall = asyncio.run(_drive(url, queries, k, concurrency, max_seconds))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return replies, wall, client_cpu


def stage_timings(replies: Sequence[Reply]) -> dict[str, dict[str, float]]:
    """Per stage of the response's ``timings_ms``: p50/p95/p99 and how often it ran."""
    by_stage: dict[str, list[float]] = defaultdict(list)
    for reply in replies:
        for stage, ms in reply.timings_ms.items():
            by_stage[stage].append(ms)
    n = len(replies) or 1
    order = ("embed_query", "ann_candidates", "lexical_candidates", "fuse", "spelling",
             "lexical_relaxed", "popular", "hydrate", "total")
    stages = sorted(by_stage, key=lambda s: (order.index(s) if s in order else 50, s))
    return {s: {**pcts(by_stage[s], 3), "share": round(len(by_stage[s]) / n, 4)}
            for s in stages}


def latency_summary(replies: Sequence[Reply], wall: float, client_cpu: float,
                    concurrency: int, load_before: list[float]) -> dict[str, Any]:
    ok = [r for r in replies if r.status == 200]
    distinct = len({r.query for r in replies})
    return {
        "concurrency": concurrency,
        "requests": len(replies),
        "errors": len(replies) - len(ok),
        "distinct_queries": distinct,
        "seconds": round(wall, 2),
        "requests_per_s": round(len(ok) / wall, 1) if wall else 0.0,
        "latency_ms": pcts([r.latency_ms for r in ok]),
        "server_total_ms": pcts([r.timings_ms.get("total", 0.0) for r in ok]),
        "rungs": {k: round(v / max(1, len(ok)), 4)
                  for k, v in Counter(r.rung for r in ok).most_common()},
        "stages_ms": stage_timings(ok),
        "client_cpu_s": round(client_cpu, 1),
        "load_avg_before": load_before,
        "load_avg_after": load_avg(),
    }


# ---- ingest ----------------------------------------------------------------------------


def ingest(live: LivePlatform, settings: Settings, records: list[dict[str, Any]],
           timeout_s: float, stall_s: float) -> dict[str, Any]:
    expected = len({r["sku"] for r in records})
    topic = Topics(settings).catalog_changes
    load_before = load_avg()
    pids = live.pids()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    with RecordProducer(settings, client_id="bench-search-quality") as producer:
        for record in records:
            producer.send_record(topic, "CatalogChange", record["sku"], record)
        producer.flush()
        failed = producer.stats.total_failed
        if failed:
            raise RuntimeError(f"{failed} catalog changes not delivered: "
                               f"{producer.stats.errors[:3]}")
    published_s = time.perf_counter() - started
    log(f"published {len(records):,} changes in {published_s:.1f} s; waiting for the index")

    first_searchable_s = all_embedded_s = None
    progress: list[tuple[float, int, int]] = []  # (seconds, embedded, indexed)
    last_change, last_indexed, last_report = started, -1, started
    while True:
        live.check_alive()
        now = time.perf_counter()
        try:
            indexed = int(live.index_stats()["products"])
        except (httpx.HTTPError, KeyError, ValueError):
            indexed = last_indexed
        embedded = int(live.worker_metric(EMBEDDED))
        elapsed = now - started
        progress.append((round(elapsed, 2), embedded, indexed))
        if indexed > 0 and first_searchable_s is None:
            first_searchable_s = elapsed
        if embedded >= expected and all_embedded_s is None:
            all_embedded_s = elapsed
        if indexed != last_indexed:
            last_change, last_indexed = now, indexed
        if indexed >= expected:
            break
        if now - last_report > 30:
            rate = indexed / elapsed if elapsed else 0.0
            log(f"  {elapsed:6.0f} s: embedded {embedded:,}, searchable {indexed:,} / "
                f"{expected:,} ({rate:,.0f}/s); load {load_avg()}")
            last_report = now
        if now - last_change > stall_s or elapsed > timeout_s:
            raise TimeoutError(f"ingest stalled at {indexed:,} of {expected:,} searchable after "
                               f"{elapsed:.0f} s; see {live.worker_log} and {live.api_log}")
        time.sleep(0.5)
    total_s = time.perf_counter() - started
    cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    # steady rate: the middle 80% of the products, excluding the encoder's load and the tail
    steady = None
    lo, hi = 0.1 * expected, 0.9 * expected
    t_lo = next((t for t, _, n in progress if n >= lo), None)
    t_hi = next((t for t, _, n in progress if n >= hi), None)
    if t_lo is not None and t_hi is not None and t_hi > t_lo:
        steady = (hi - lo) / (t_hi - t_lo)
    return {
        "products": expected,
        "seconds": round(total_s, 1),
        "products_per_s": round(expected / total_s, 1),
        "steady_products_per_s_10_90": round(steady, 1) if steady else None,
        "publish_seconds": round(published_s, 2),
        "first_searchable_s": round(first_searchable_s or 0.0, 2),
        "all_embedded_s": round(all_embedded_s, 1) if all_embedded_s else None,
        "embedded": int(live.worker_metric(EMBEDDED)),
        "cpu_seconds": {name: round(cpu_after[name] - cpu_before[name], 1) for name in pids},
        "load_avg_before": load_before,
        "load_avg_after": load_avg(),
    }


# ---- offline baselines from the same vectors ------------------------------------------


def read_item_vectors(settings: Settings, timeout_s: float = 120.0) -> dict[str, dict[str, Any]]:
    """Every live ``ItemVector`` of ``catalog.vectors`` (last record per sku wins)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from streamrec.schemas.codec import codec_for

    codec = codec_for("ItemVector")
    topic = Topics(settings).catalog_vectors
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": "bench-search-quality-readback",
                         "enable.auto.commit": False, "enable.partition.eof": False,
                         "log_level": 3})
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        high = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
        position = {p: 0 for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        while any(position[p] < high[p] for p in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}: at {position}, end {high}")
            for message in consumer.consume(num_messages=5000, timeout=1.0):
                if message.error() is not None:
                    continue
                position[message.partition()] = message.offset() + 1
                sku = (message.key() or b"").decode()
                if message.value() is None:
                    records.pop(sku, None)
                else:
                    records[sku] = codec.decode(message.value())
        return records
    finally:
        consumer.close()


def offline_rankings(items: dict[str, dict[str, Any]], queries: Sequence[str],
                     settings: Settings, threads: int) -> tuple[dict[str, dict], dict]:
    """BM25 alone, vectors alone and an offline hybrid, over the replica's own data."""
    import faiss
    import numpy as np

    from streamrec.indexer.lexical_index import LexicalIndex, LexicalIndexConfig
    from streamrec.indexer.text_encoder import EncoderConfig, create_text_encoder
    from streamrec.serving.rank_fusion import RankFusion

    info: dict[str, Any] = {}
    skus = sorted(items)
    started = time.perf_counter()
    lexical = LexicalIndex(config=LexicalIndexConfig(commit_every_docs=1 << 40,
                                                     commit_interval_ms=1 << 40))
    for sku in skus:  # the fields CatalogIndexReplica._index_text indexes
        r = items[sku]
        lexical.upsert(sku, r.get("title"), r.get("category_path") or [], r.get("brand"))
    lexical.refresh()
    info["lexical_build_s"] = round(time.perf_counter() - started, 2)

    model_ids = Counter(items[s]["model_id"] for s in skus)
    model_id = model_ids.most_common(1)[0][0]
    encoder = create_text_encoder(EncoderConfig(backend=settings.encoder_backend,
                                                intra_op_threads=threads, batch_size=64))
    if encoder.model_id != model_id:
        log(f"WARNING: catalog vectors are {model_id}, the query encoder is {encoder.model_id}")
    info["model_id"] = model_id
    matrix = np.stack([np.frombuffer(items[s]["vector"], dtype="<f4") for s in skus])
    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(np.ascontiguousarray(matrix, dtype=np.float32))
    started = time.perf_counter()
    normalised = [" ".join(q.lower().split()) for q in queries]  # as QueryEmbedder does
    query_vectors = encoder.encode_texts(normalised)
    info["query_embedding_s"] = round(time.perf_counter() - started, 2)
    depth = min(HYBRID_DEPTH, len(skus))
    scores, ids = flat.search(np.ascontiguousarray(query_vectors, dtype=np.float32), depth)

    fusion = RankFusion()
    out: dict[str, dict[str, list[str]]] = {"bm25_tiered": {}, "vectors_exact": {},
                                            "hybrid_offline": {}}
    started = time.perf_counter()
    for query, row_ids, row_scores in zip(queries, ids, scores, strict=True):
        ann = [(skus[i], float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
        lex = lexical.search(query.strip(), HYBRID_DEPTH, mode="tiered")
        out["bm25_tiered"][query] = [s for s, _ in lex[:100]]
        out["vectors_exact"][query] = [s for s, _ in ann[:100]]
        if lex:
            fused = fusion.fuse([lex, ann])
        else:  # as CatalogSearch.hybrid: vectors alone only when close
            fused = [(s, v) for s, v in ann if v >= MIN_VECTOR_ONLY_SCORE]
        out["hybrid_offline"][query] = [s for s, _ in fused[:100]]
    info["search_s"] = round(time.perf_counter() - started, 2)
    lexical.close()
    return out, info


# ---- main ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--limit-products", type=int, default=None, help="default: all")
    parser.add_argument("--limit-queries", type=int, default=None, help="default: all")
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
    parser.add_argument("--ingest-timeout", type=float, default=3600.0)
    parser.add_argument("--ingest-stall", type=float, default=300.0,
                        help="fail when nothing new is searchable for this long")
    parser.add_argument("--encoder-threads", type=int, default=2,
                        help="ONNX threads for the offline query embedding")
    args = parser.parse_args(argv)

    run_started = time.perf_counter()
    try:
        records = load_catalog(args.data_dir, args.limit_products)
        skus = {r["sku"] for r in records}
        judgments = load_judgments(args.data_dir, skus if args.limit_products else None,
                                   args.limit_queries)
    except (DatasetMissingError, DatasetFormatError) as exc:
        raise SystemExit(f"Home Depot data unavailable: {exc}") from exc
    queries = list(judgments)
    n_judged = sum(len(g) for g in judgments.values())
    log(f"Home Depot: {len(skus):,} products, {len(queries):,} queries, {n_judged:,} judgments; "
        f"load {load_avg()}")

    rng = random.Random(11)
    shuffled = rng.sample(queries, len(queries))
    sample = shuffled[: min(args.latency_sample, len(shuffled))]
    rest = shuffled[len(sample):] or shuffled
    load_queries = (rest * (args.load_requests // len(rest) + 1))[: args.load_requests]

    with bench_settings(args.bootstrap, args.redis_url,
                        topic_partitions=args.partitions) as settings:
        ensure_topics(settings)
        with LivePlatform(settings, env=INGEST_ENV) as live:
            log("starting the worker and the API ...")
            t0 = time.perf_counter()
            live.start()
            startup_s = time.perf_counter() - t0
            log(f"platform ready in {startup_s:.1f} s; ingesting ...")
            ingest_result = ingest(live, settings, records, args.ingest_timeout,
                                   args.ingest_stall)
            log(f"ingest: {ingest_result['products']:,} in {ingest_result['seconds']} s = "
                f"{ingest_result['products_per_s']}/s; load {load_avg()}")
            api_pid = live.pids()["api"]

            # warm-up on product titles (never a judged query, so the cache stays cold)
            warm = [r["title"] for r in random.Random(3).sample(records, min(20, len(records)))]
            drive(live.url, warm, 10)

            log(f"latency: k=10, 1 client, {len(sample)} queries ...")
            before = load_avg()
            replies, wall, ccpu = drive(live.url, sample, 10)
            single = latency_summary(replies, wall, ccpu, 1, before)

            log(f"latency: k=10, {args.clients} clients, {args.load_seconds:.0f} s or "
                f"{len(load_queries)} requests ...")
            before = load_avg()
            api_cpu0 = cpu_seconds(api_pid)
            replies, wall, ccpu = drive(live.url, load_queries, 10, args.clients,
                                        args.load_seconds)
            concurrent = latency_summary(replies, wall, ccpu, args.clients, before)
            concurrent["api_cpu_s"] = round(cpu_seconds(api_pid) - api_cpu0, 1)

            log(f"quality: {len(queries):,} queries at k=100, "
                f"{args.quality_concurrency} clients ...")
            before = load_avg()
            replies, wall, ccpu = drive(live.url, queries, 100, args.quality_concurrency)
            quality_latency = latency_summary(replies, wall, ccpu, args.quality_concurrency,
                                              before)
            replica_stats = live.index_stats()
        # worker and API stopped: the offline baselines get the CPU
        log("reading catalog.vectors back ...")
        items = read_item_vectors(settings)

    by_query = {r.query: r for r in replies}
    live_rankings = {q: (by_query[q].skus if q in by_query else []) for q in queries}
    live_quality = score(live_rankings, judgments)
    errors = [r for r in replies if r.status != 200]

    log(f"offline baselines over {len(items):,} vectors ...")
    offline, offline_info = offline_rankings(items, queries, settings, args.encoder_threads)
    variants = {"live_api": live_quality,
                **{name: score(r, judgments) for name, r in offline.items()}}

    # rungs: share, and the quality of the queries each rung served
    rung_of = {q: (by_query[q].rung if q in by_query and by_query[q].rung else "error")
               for q in queries}
    rung_counts = Counter(rung_of.values())
    rungs = {rung: {"share": round(c / len(queries), 4),
                    "ndcg_at_10": round(sum(live_quality.per_query_ndcg[q] for q in queries
                                            if rung_of[q] == rung) / c, 4)}
             for rung, c in rung_counts.most_common()}
    examples: dict[str, list[dict[str, Any]]] = {}
    for q in queries:
        reply = by_query.get(q)
        if reply is None:
            continue
        key = "zero_results" if not reply.skus else reply.rung or "?"
        if key != "hybrid" and len(examples.setdefault(key, [])) < 5:
            examples[key].append({"q": q, "executed": reply.executed_query,
                                  "n": len(reply.skus)})

    total_s = time.perf_counter() - run_started
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"

    # ---- table ----
    print()
    print(f"Search on Home Depot through the live system ({len(skus):,} products, "
          f"{len(queries):,} queries; {machine})")
    print(f"ingest: {ingest_result['products']:,} products in {ingest_result['seconds']} s = "
          f"{ingest_result['products_per_s']:,} products/s (steady 10-90%: "
          f"{ingest_result['steady_products_per_s_10_90']}/s; publish "
          f"{ingest_result['publish_seconds']} s; all embedded at "
          f"{ingest_result['all_embedded_s']} s; CPU s {ingest_result['cpu_seconds']}; "
          f"load {ingest_result['load_avg_before']} -> {ingest_result['load_avg_after']})")
    header = f"{'variant':<16} {'NDCG@10':>8} {'P@10':>7} {'R@100':>7} {'zero':>7}"
    print(header)
    print("-" * len(header))
    for name, qv in variants.items():
        print(f"{name:<16} {qv.ndcg_at_10:>8.4f} {qv.p_at_10:>7.4f} {qv.recall_at_100:>7.4f} "
              f"{qv.zero_result_rate:>7.4f}")
    print("rungs (live): " + ", ".join(f"{r}={v['share']:.3f} (NDCG {v['ndcg_at_10']:.3f})"
                                       for r, v in rungs.items()))
    for label, lat in (("k=100 quality pass", quality_latency), ("k=10, 1 client", single),
                       (f"k=10, {args.clients} clients", concurrent)):
        ms = lat["latency_ms"]
        print(f"latency {label:<20} p50 {ms['p50']:>7.1f}  p95 {ms['p95']:>7.1f}  "
              f"p99 {ms['p99']:>7.1f} ms; {lat['requests_per_s']:>6.1f} req/s "
              f"({lat['requests']} requests, {lat['errors']} errors, "
              f"load {lat['load_avg_before']} -> {lat['load_avg_after']})")
    print("server stages at k=10, 8 clients (p50/p95 ms): " + ", ".join(
        f"{s} {v['p50']}/{v['p95']}" for s, v in concurrent["stages_ms"].items()))
    for key, rows in examples.items():
        print(f"examples {key}: " + "; ".join(
            f"{e['q']!r}" + (f" -> {e['executed']!r}" if e["executed"] not in (None, e["q"])
                             else "") for e in rows))
    print(f"total run: {total_s:.0f} s")

    result = {
        "bench": "search_quality",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "cores": os.cpu_count(),
        "load_avg_end": load_avg(),
        "products": len(skus),
        "queries": len(queries),
        "limited": bool(args.limit_products or args.limit_queries),
        "startup_s": round(startup_s, 1),
        "ingest": ingest_result,
        "quality": {name: qv.summary() for name, qv in variants.items()},
        "rungs": rungs,
        "fallback_rate": round(1 - rung_counts.get("hybrid", 0) / len(queries), 4),
        "request_errors": len(errors),
        "examples": examples,
        "latency_k100_quality_pass": quality_latency,
        "latency_k10_single_client": single,
        "latency_k10_concurrent": concurrent,
        "offline": offline_info,
        "replica": {k: replica_stats.get(k) for k in ("products", "lexical_docs", "applied",
                                                      "skipped", "model_id")},
        "total_s": round(total_s, 1),
    }
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
