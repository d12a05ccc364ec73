"""Search quality, ingest and latency on Home Depot-format judgments, through the live system.

Everything goes through a running deployment, as in production:

1. Kafka and Redis (given, or started on free ports), one worker process and one API
   process (``python -m streamrec worker|api``) with the run's ``STREAMREC_*`` overrides.
2. Ingest: every product (``homedepot_catalog_changes``, validated with
   ``CatalogChangeIn``) is published to ``catalog.changes``; the worker embeds them and
   publishes ``catalog.vectors``; the API's replica follows that topic. Rate = products
   / (first publish -> /readyz ``index.products`` counts them all).
3. Latency (before the quality pass, so the query-embedding cache is cold): k=10 from
   one client on a sample, then ``clients`` concurrent clients for a while (optional).
4. Quality: every judged query through ``GET /v1/search`` at k=100: the metrics of
   ``streamrec.evaluation.search_metrics`` (also rerank-only quality of the judged
   products on their own), the rung of the no-empty-page ladder that served, the share
   of reranked answers.
5. Baselines in the same run, offline over the same vectors
   (``streamrec.evaluation.search_baselines``): BM25 alone, vectors alone, an offline hybrid.

``split="test"`` keeps only the queries ``streamrec.rerank.query_split`` puts in the
held-out test part, so a learned reranker is never scored on its training queries.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import resource
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson

from streamrec.datasets.homedepot_catalog import (
    JUDGMENTS_FILE,
    PRODUCTS_FILE,
    homedepot_catalog_changes,
    homedepot_dir,
    homedepot_judgments,
)
from streamrec.evaluation.deployment_services import deployment_settings
from streamrec.evaluation.live_deployment import (
    LiveDeployment,
    tree_cpu_seconds,
)
from streamrec.evaluation.phase_progress import LogPhaseProgress, PhaseProgress
from streamrec.evaluation.run_context import load_avg
from streamrec.evaluation.search_baselines import offline_rankings, read_item_vectors
from streamrec.evaluation.search_metrics import (
    judged_only_quality,
    pcts,
    score_rankings,
)
from streamrec.rerank.query_split import query_split
from streamrec.rerank.reranker_model_file import search_log_pairs
from streamrec.schemas.records import CatalogChangeIn
from streamrec.serving.search.query_embedder import QueryEmbedder
from streamrec.settings import Settings
from streamrec.streams.admin import ensure_topics
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics

EMBEDDED = 'streamrec_catalog_embeddings_total{outcome="embedded"}'
INGEST_ENV = {"STREAMREC_CATALOG_BATCH_SIZE": "256"}
QuerySplit = Literal["test", "all"]


@dataclass
class SearchEvaluationConfig:
    data_dir: Path
    limit_products: int | None = None
    limit_queries: int | None = None
    split: QuerySplit = "all"
    env: dict[str, str] = field(default_factory=dict)
    """``STREAMREC_*`` overrides for the worker and API (on top of ``INGEST_ENV``)."""
    partitions: int = 4
    bootstrap: str | None = None
    redis_url: str | None = None
    quality_concurrency: int = 4
    latency_sample: int = 500
    clients: int = 8
    """Concurrent clients of the k=10 load phase (0: skip that phase)."""
    load_seconds: float = 60.0
    load_requests: int = 3000
    load_mix: Literal["repeat", "distinct"] = "repeat"
    """Queries of the k=10 load phase. ``repeat``: the split's queries not in the
    single-client sample, cycled up to ``load_requests`` (later rounds may hit an API
    process's query-embedding cache, depending on which process serves them);
    ``distinct``: every request a query not asked before in the run, drawn from the whole
    judgments file (latency only: nothing of this phase is scored), so every query
    embedding is a miss, the worst case."""
    ingest_timeout: float = 3600.0
    ingest_stall: float = 300.0
    encoder_threads: int = 2
    api_workers: int = 1
    """API processes (uvicorn workers), each with its own index replica."""

    def data_files(self) -> list[Path]:
        return [homedepot_dir(self.data_dir) / PRODUCTS_FILE,
                homedepot_dir(self.data_dir) / JUDGMENTS_FILE]


# ---- data ------------------------------------------------------------------------------


def load_catalog(data_dir: Path, limit: int | None) -> list[dict[str, Any]]:
    """Home Depot products as CatalogChange records, validated by the JSON model."""
    return [CatalogChangeIn(**change).to_record()
            for change in homedepot_catalog_changes(data_dir, limit=limit)]


def load_judgments(data_dir: Path, skus: set[str] | None, limit: int | None,
                   split: QuerySplit = "all") -> dict[str, dict[str, float]]:
    """query -> {sku: relevance}; only products in ``skus`` when given; only the held-out
    test queries with ``split="test"``; a seeded sample of ``limit`` queries."""
    judgments: dict[str, dict[str, float]] = defaultdict(dict)
    for j in homedepot_judgments(data_dir):
        if j.query and (skus is None or j.sku in skus):
            judgments[j.query][j.sku] = j.relevance
    queries = sorted(q for q in judgments if split == "all" or query_split(q) == "test")
    if limit is not None and limit < len(queries):
        queries = sorted(random.Random(7).sample(queries, limit))
    return {q: judgments[q] for q in queries}


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
    reranked: bool = False


async def _drive(url: str, queries: Sequence[str], k: int, concurrency: int,
                 max_seconds: float | None, on_reply: Callable[[int], None] | None
                 ) -> tuple[list[Reply], float]:
    # aiohttp, not httpx: the load generator shares the box's two cores with the API, and
    # httpx's client spent ~1.3 ms of CPU per request where aiohttp spends a fraction
    import aiohttp

    replies: list[Reply] = []
    pending = iter(queries)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base_url=url, connector=connector,
                                     timeout=timeout) as client:
        started = time.perf_counter()
        deadline = started + max_seconds if max_seconds else math.inf

        async def one_client() -> None:
            for query in pending:
                if time.perf_counter() > deadline:
                    return
                replies.append(await _ask(client, query, k))
                if on_reply is not None:
                    on_reply(1)

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return replies, wall


async def _ask(client: Any, query: str, k: int) -> Reply:
    import aiohttp

    t0 = time.perf_counter()
    try:
        async with client.get("/v1/search", params={"q": query, "k": k}) as response:
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Reply(query, k, 0, (time.perf_counter() - t0) * 1000, error=repr(exc))
    latency = (time.perf_counter() - t0) * 1000
    if status != 200:
        return Reply(query, k, status, latency, error=body[:200].decode(errors="replace"))
    data = orjson.loads(body)
    return Reply(query, k, 200, latency, [item["sku"] for item in data["items"]], data["rung"],
                 data.get("executed_query"), data.get("timings_ms") or {},
                 reranked=bool(data.get("reranked")))


def drive(url: str, queries: Sequence[str], k: int, concurrency: int = 1,
          max_seconds: float | None = None, on_reply: Callable[[int], None] | None = None
          ) -> tuple[list[Reply], float, float]:
    """Send ``queries`` (each once, in order) from ``concurrency`` clients, stopping at the
    deadline; the replies, the wall time and this process's CPU seconds (the client)."""
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    replies, wall = asyncio.run(_drive(url, queries, k, concurrency, max_seconds, on_reply))
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
    return {
        "concurrency": concurrency,
        "requests": len(replies),
        "errors": len(replies) - len(ok),
        "distinct_queries": len({r.query for r in replies}),
        "seconds": round(wall, 2),
        "requests_per_s": round(len(ok) / wall, 1) if wall else 0.0,
        "latency_ms": pcts([r.latency_ms for r in ok]),
        "server_total_ms": pcts([r.timings_ms.get("total", 0.0) for r in ok]),
        "rungs": {k: round(v / max(1, len(ok)), 4)
                  for k, v in Counter(r.rung for r in ok).most_common()},
        "reranked_share": round(sum(r.reranked for r in ok) / max(1, len(ok)), 4),
        "stages_ms": stage_timings(ok),
        "client_cpu_s": round(client_cpu, 1),
        "load_avg_before": load_before,
        "load_avg_after": load_avg(),
    }


# ---- ingest ----------------------------------------------------------------------------


def ingest(live: LiveDeployment, settings: Settings, records: list[dict[str, Any]],
           timeout_s: float, stall_s: float, progress: PhaseProgress) -> dict[str, Any]:
    """Publish ``records`` and wait until the API's replica can search them all."""
    expected = len({r["sku"] for r in records})
    topic = Topics(settings).catalog_changes
    load_before = load_avg()
    pids = live.pids()
    cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    with RecordProducer(settings, client_id="streamrec-eval-search") as producer:
        for record in records:
            producer.send_record(topic, "CatalogChange", record["sku"], record)
        producer.flush()
        failed = producer.stats.total_failed
        if failed:
            raise RuntimeError(f"{failed} catalog changes not delivered: "
                               f"{producer.stats.errors[:3]}")
    published_s = time.perf_counter() - started

    first_searchable_s = all_embedded_s = None
    samples: list[tuple[float, int, int]] = []  # (seconds, embedded, indexed)
    last_change, last_indexed = started, -1
    with progress.phase("ingest: embedding and indexing the catalog", expected) as advance:
        while True:
            live.check_alive()
            now = time.perf_counter()
            try:
                indexed = int(live.index_stats()["searchable"])
            except (httpx.HTTPError, KeyError, ValueError):
                indexed = last_indexed
            embedded = int(live.worker_metric(EMBEDDED))
            elapsed = now - started
            samples.append((round(elapsed, 2), embedded, indexed))
            if indexed > 0 and first_searchable_s is None:
                first_searchable_s = elapsed
            if embedded >= expected and all_embedded_s is None:
                all_embedded_s = elapsed
            if indexed != last_indexed:
                advance(max(0, min(indexed, expected) - max(last_indexed, 0)))
                last_change, last_indexed = now, indexed
            if indexed >= expected:
                break
            if now - last_change > stall_s or elapsed > timeout_s:
                raise TimeoutError(
                    f"ingest stalled at {indexed:,} of {expected:,} searchable after "
                    f"{elapsed:.0f} s; see {live.worker_log} and {live.api_log}")
            time.sleep(0.5)
    total_s = time.perf_counter() - started
    cpu_after = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    steady = None  # the middle 80% of the products: no start-up, no tail
    lo, hi = 0.1 * expected, 0.9 * expected
    t_lo = next((t for t, _, n in samples if n >= lo), None)
    t_hi = next((t for t, _, n in samples if n >= hi), None)
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


# ---- the run ---------------------------------------------------------------------------


def refuse_scoring_logged_queries(config: SearchEvaluationConfig) -> None:
    """A reranker with a search log holds its training queries' judged products: scoring
    those queries would grade it on answers it was given. Only ``split="test"`` then."""
    model = config.env.get("STREAMREC_RERANK_MODEL_PATH") or os.environ.get(
        "STREAMREC_RERANK_MODEL_PATH")
    if config.split == "test" or not model or not Path(model).expanduser().is_file():
        return
    pairs = search_log_pairs(Path(model).expanduser())
    if pairs:
        raise ValueError(
            f"the served reranker {model} carries a search log ({pairs:,} judged pairs of "
            "its training queries): scoring every query would grade those queries on their "
            "own judgments; score the held-out ones with split 'test' (--split test)")


def distinct_load_queries(config: SearchEvaluationConfig, asked: set[str]) -> list[str]:
    """Up to ``load_requests`` judged queries (any split) not in ``asked``, shuffled."""
    every = load_judgments(config.data_dir, None, None, "all")
    keys = {QueryEmbedder.key(q) for q in asked}  # "asked" as the embedding cache sees it
    fresh = [q for q in every if QueryEmbedder.key(q) not in keys]
    return random.Random(12).sample(fresh, min(config.load_requests, len(fresh)))


def run_search_evaluation(config: SearchEvaluationConfig,
                          progress: PhaseProgress | None = None) -> dict[str, Any]:
    """One live run; the result holds ``metrics`` ({variant: {metric: value}}) and the
    details (ingest, rungs, latency, examples). Raises ``DatasetMissingError`` /
    ``DatasetFormatError`` before anything starts when the data is not there."""
    progress = progress or LogPhaseProgress()
    run_started = time.perf_counter()
    refuse_scoring_logged_queries(config)
    records = load_catalog(config.data_dir, config.limit_products)
    skus = {r["sku"] for r in records}
    judgments = load_judgments(config.data_dir, skus if config.limit_products else None,
                               config.limit_queries, config.split)
    if not judgments:
        raise ValueError(f"no judged query left in {config.data_dir} (split {config.split}, "
                         f"{len(skus)} products)")
    queries = list(judgments)
    n_judged = sum(len(g) for g in judgments.values())
    progress.log(f"Home Depot: {len(skus):,} products, {len(queries):,} queries "
                 f"(split {config.split}), {n_judged:,} judgments; load {load_avg()}")

    rng = random.Random(11)
    shuffled = rng.sample(queries, len(queries))
    sample = shuffled[: min(config.latency_sample, len(shuffled))]
    rest = shuffled[len(sample):] or shuffled
    if config.load_mix == "distinct":
        load_queries = distinct_load_queries(config, set(sample))
    else:
        load_queries = (rest * (config.load_requests // len(rest) + 1))[: config.load_requests]

    concurrent: dict[str, Any] | None = None
    with deployment_settings(config.bootstrap, config.redis_url,
                             topic_partitions=config.partitions) as settings:
        ensure_topics(settings)
        with LiveDeployment(settings, env={**INGEST_ENV, **config.env},
                            api_workers=config.api_workers) as live:
            with progress.phase("starting the worker and the API"):
                t0 = time.perf_counter()
                live.start()
                startup_s = time.perf_counter() - t0
            ingest_result = ingest(live, settings, records, config.ingest_timeout,
                                   config.ingest_stall, progress)
            progress.log(f"ingest: {ingest_result['products']:,} in {ingest_result['seconds']} s"
                         f" = {ingest_result['products_per_s']}/s; load {load_avg()}")
            api_pid = live.pids()["api"]

            # warm-up on product titles (never a judged query, so the cache stays cold)
            warm = [r["title"] for r in random.Random(3).sample(records, min(20, len(records)))]
            drive(live.url, warm, 10)

            before = load_avg()
            with progress.phase(f"latency: k=10, 1 client, {len(sample)} queries",
                                len(sample)) as advance:
                replies, wall, ccpu = drive(live.url, sample, 10, on_reply=advance)
            single = latency_summary(replies, wall, ccpu, 1, before)

            if config.clients > 0 and config.load_requests > 0:
                before = load_avg()
                api_cpu0 = tree_cpu_seconds(api_pid)
                with progress.phase(f"latency: k=10, {config.clients} clients, "
                                    f"{config.load_seconds:.0f} s at most",
                                    len(load_queries)) as advance:
                    replies, wall, ccpu = drive(live.url, load_queries, 10, config.clients,
                                                config.load_seconds, on_reply=advance)
                concurrent = latency_summary(replies, wall, ccpu, config.clients, before)
                concurrent["api_cpu_s"] = round(tree_cpu_seconds(api_pid) - api_cpu0, 1)
                concurrent["api_cpu_ms_per_request"] = round(
                    1000 * concurrent["api_cpu_s"] / max(1, concurrent["requests"]), 2)
                concurrent["api_workers"] = config.api_workers
                concurrent["load_mix"] = config.load_mix

            before = load_avg()
            with progress.phase(f"quality: {len(queries):,} queries at k=100",
                                len(queries)) as advance:
                replies, wall, ccpu = drive(live.url, queries, 100, config.quality_concurrency,
                                            on_reply=advance)
            quality_latency = latency_summary(replies, wall, ccpu, config.quality_concurrency,
                                              before)
            replica_stats = live.index_stats()
        # worker and API stopped: the offline baselines get the CPU
        with progress.phase("reading catalog.vectors back"):
            items = read_item_vectors(settings)

    by_query = {r.query: r for r in replies}
    live_rankings = {q: (by_query[q].skus if q in by_query else []) for q in queries}
    with progress.phase(f"offline baselines over {len(items):,} vectors"):
        offline, offline_info = offline_rankings(items, queries, settings,
                                                 config.encoder_threads)
    all_rankings = {"live_api": live_rankings, **offline}
    variants = {name: score_rankings(r, judgments) for name, r in all_rankings.items()}
    judged_only = {name: judged_only_quality(r, judgments) for name, r in all_rankings.items()}
    live_quality = variants["live_api"]

    rung_of = {q: (by_query[q].rung if q in by_query and by_query[q].rung else "error")
               for q in queries}
    rung_counts = Counter(rung_of.values())
    rungs = {rung: {"share": round(c / len(queries), 4),
                    "ndcg_at_10": round(sum(live_quality.per_query_ndcg[q] for q in queries
                                            if rung_of[q] == rung) / c, 4)}
             for rung, c in rung_counts.most_common()}
    examples = _examples(queries, by_query)
    errors = [r for r in replies if r.status != 200]
    latency_k10 = (concurrent or single)["latency_ms"]
    metrics: dict[str, dict[str, Any]] = {}
    for name in all_rankings:
        row: dict[str, Any] = {**variants[name].summary(), **judged_only[name].summary()}
        if name == "live_api":
            row.update({
                "reranked_share": quality_latency["reranked_share"],
                "fallback_rate": round(1 - rung_counts.get("hybrid", 0) / len(queries), 4),
                **{f"rung_share_{rung}": v["share"] for rung, v in rungs.items()},
                "latency_k10_p50_ms": single["latency_ms"]["p50"],
                "latency_k10_p95_ms": single["latency_ms"]["p95"],
                "latency_k100_p50_ms": quality_latency["latency_ms"]["p50"],
                "latency_k100_p95_ms": quality_latency["latency_ms"]["p95"],
            })
            if concurrent is not None:
                row[f"latency_k10_{config.clients}_clients_p50_ms"] = latency_k10["p50"]
                row[f"latency_k10_{config.clients}_clients_p95_ms"] = latency_k10["p95"]
                row["requests_per_s_concurrent"] = concurrent["requests_per_s"]
        metrics[name] = row
    return {
        "bench": "search_quality",
        "products": len(skus),
        "queries": len(queries),
        "judgments": n_judged,
        "split": config.split,
        "limited": bool(config.limit_products or config.limit_queries),
        "startup_s": round(startup_s, 1),
        "ingest": ingest_result,
        "quality": {name: qv.summary() for name, qv in variants.items()},
        "judged_only": {name: q.summary() for name, q in judged_only.items()},
        "metrics": metrics,
        "rungs": rungs,
        "fallback_rate": round(1 - rung_counts.get("hybrid", 0) / len(queries), 4),
        "reranked_share": quality_latency["reranked_share"],
        "request_errors": len(errors),
        "examples": examples,
        "per_query_ndcg_at_10": {q: round(v, 4) for q, v in live_quality.per_query_ndcg.items()},
        "latency_k100_quality_pass": quality_latency,
        "latency_k10_single_client": single,
        "latency_k10_concurrent": concurrent,
        "offline": offline_info,
        "replica": {k: replica_stats.get(k) for k in ("products", "lexical_docs", "applied",
                                                      "skipped", "model_id")},
        "total_s": round(time.perf_counter() - run_started, 1),
    }


def _examples(queries: Sequence[str], by_query: Mapping[str, Reply]
              ) -> dict[str, list[dict[str, Any]]]:
    """Up to five queries per non-hybrid rung (and with no result), for reading."""
    examples: dict[str, list[dict[str, Any]]] = {}
    for q in queries:
        reply = by_query.get(q)
        if reply is None:
            continue
        key = "zero_results" if not reply.skus else reply.rung or "?"
        if key != "hybrid" and len(examples.setdefault(key, [])) < 5:
            examples[key].append({"q": q, "executed": reply.executed_query,
                                  "n": len(reply.skus)})
    return examples
