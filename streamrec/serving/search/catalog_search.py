"""Hybrid search and similar items over the index replica, as small named stages.

search:  embed query ─► ANN candidates ┐
                        BM25 candidates ┴► fuse (convex 0.8/0.2) ─► drop unavailable ─► top k
         wrapped in the no-empty-page ladder (hybrid, spelling, relaxed lexical,
         popular in the inferred category, popular), then hydrated from Redis.

Everything CPU-bound (encoder, FAISS, tantivy) runs in a worker thread, never on the
event loop; hydration is one pipelined Redis round trip.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as aioredis

from streamrec.indexer.catalog_index_replica import CatalogIndexReplica
from streamrec.indexer.lexical_index import (
    LexicalHit,
    category_filter_key,
    category_filter_keys,
)
from streamrec.redis_keys import RedisKeys
from streamrec.redis_reads import read_many
from streamrec.rerank.rerank_candidate import RerankQuery
from streamrec.rerank.rerank_candidate_builder import build_candidates
from streamrec.rerank.search_rerank_stage import RerankReport, SearchRerankStage
from streamrec.serving.fallback_ladder import FallbackLadder, LadderResult
from streamrec.serving.rank_fusion import RankFusion
from streamrec.serving.search.popular_items_source import PopularItemsSource
from streamrec.serving.search.query_embedder import QueryEmbedder
from streamrec.serving.search.search_rewrite_stage import SearchRewriteStage
from streamrec.serving.search.search_stage_metrics import RUNGS, timed

# What the rerank stage did in this request's hybrid runs, last one last. A context
# variable rather than a parameter: the ladder and the rewrite stage re-run hybrid
# through their own callables, and the search thread gets a copy of the context (the same list).
_RERANK_REPORTS: ContextVar[list[RerankReport] | None] = ContextVar("rerank_reports",
                                                                   default=None)

T = TypeVar("T")

HYDRATED_FIELDS = ("title", "category_path", "brand", "price", "currency", "available",
                   "image", "attributes")


@dataclass
class SearchOutcome:
    items: list[dict[str, Any]]
    rung: str
    query: str
    corrected_query: str | None
    category: str | None
    category_inferred: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    rewrite: dict[str, Any] | None = None
    """What the query-rewrite stage did (None when it is off or was not asked to run)."""
    rerank: dict[str, Any] | None = None
    """What the rerank stage did (``RerankReport.as_dict``)."""


class CatalogSearch:
    def __init__(self, replica: CatalogIndexReplica, embedder: QueryEmbedder,
                 popular: PopularItemsSource, redis: aioredis.Redis, keys: RedisKeys,
                 fusion: RankFusion | None = None, candidates: int = 100,
                 min_vector_only_score: float = 0.45,
                 rerank: SearchRerankStage | None = None, threads: int = 0) -> None:
        self.replica = replica
        self.embedder = embedder
        self.popular = popular
        self.redis = redis
        self.keys = keys
        self.candidates = candidates
        # convex 0.8 lexical / 0.2 vector beat every RRF variant on Home Depot
        # (bench/bench_lexical.py --fusion); see docs/benchmarks.md
        self.fusion = fusion or RankFusion()
        self.min_vector_only_score = min_vector_only_score
        self.rerank = rerank or SearchRerankStage(None, None)
        self.rewrite_stage: SearchRewriteStage | None = None
        """The query-rewrite cascade (``search_setup`` sets it when enabled)."""
        # searches run on a pool of their own, sized so that they queue rather than all
        # contend for the GIL (Settings.api_search_threads); 0: asyncio's default pool
        self._executor = (ThreadPoolExecutor(threads, thread_name_prefix="search")
                          if threads > 0 else None)

    def close(self) -> None:
        self.embedder.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(self, func: Callable[..., T], *args: Any) -> T:
        """``asyncio.to_thread`` on the search pool: the context (this request's rerank
        reports) goes along, as to_thread carries it."""
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(context.run, func, *args))

    # --- stages (run in a worker thread) --------------------------------------------------
    def _ann(self, query: str, k: int, category: str | None, timings: dict[str, float]
             ) -> list[tuple[str, float]]:
        with timed("embed_query", timings):
            vector = self.embedder.embed(query)
        with timed("ann_candidates", timings):
            hits = self.replica.index.search(vector, k, category)
        return [(hit.sku, hit.score) for hit in hits]

    def _lexical(self, query: str, k: int, category: str | None, strict: list[LexicalHit],
                 timings: dict[str, float]) -> list[tuple[str, float]]:
        with timed("lexical_candidates", timings):
            return self.replica.lexical.tiered_after_strict(query, k, category, strict)

    def _eligible(self, scored: list[tuple[str, float]], category: str | None = None
                  ) -> list[tuple[str, float]]:
        """Drop unavailable products and, under a category filter, products whose current
        category (the vector index's metadata, applied synchronously) no longer matches:
        the lexical side lags by up to ``lexical_refresh_s`` after a category move."""
        metadata = self.replica.index.metadata
        wanted = category_filter_key(category) if category else None
        kept = []
        for sku, score in scored:
            meta = metadata(sku)
            if meta is not None and (meta.get("available") is False or (
                    wanted and wanted not in category_filter_keys(meta.get("category_path")))):
                continue
            kept.append((sku, score))
        return kept

    def hybrid(self, query: str, k: int, category: str | None, timings: dict[str, float]
               ) -> list[tuple[str, float]]:
        depth = max(self.candidates, 3 * k)
        with timed("lexical_strict", timings):  # at full depth: the tiered search reuses it
            strict = self.replica.lexical.search_hits(query, depth, category, "strict")
        if not strict and self.replica.speller.correct(query).changed:
            # Most of the query matches nothing as typed but a correction exists: let the
            # spelling rung run the corrected query (+0.014 NDCG@10 on Home Depot over
            # correcting only queries that match nothing at all; bench_search_quality).
            return []
        lexical = self._lexical(query, depth, category, strict, timings)
        ann = self._ann(query, depth, category, timings)
        if not lexical:
            # No word in common with the catalog: trust the vectors only when close.
            ann = [(sku, score) for sku, score in ann if score >= self.min_vector_only_score]
            self._report(self.rerank.skipped("vector-only results are not reranked"))
            return self._eligible(ann, category)[:k]
        with timed("fuse", timings):
            fused = self.fusion.fuse([lexical, ann])
        eligible = self._eligible(fused, category)
        report = self.rerank.skipped()
        if self.rerank.enabled:
            with timed("rerank", timings):
                eligible, report = self._rerank(query, category, eligible, lexical, ann)
        self._report(report)
        return eligible[:k]

    def _rerank(self, query: str, category: str | None, fused: list[tuple[str, float]],
                lexical: list[tuple[str, float]], ann: list[tuple[str, float]]
                ) -> tuple[list[tuple[str, float]], RerankReport]:
        index = self.replica.index
        # one get per sku (atomic, as in index.metadata); a sku gone since fusion has none
        metadata = index.all_metadata()

        def describe(sku: str) -> tuple[str | None, Any]:
            meta = metadata.get(sku)
            return (None, None) if meta is None else (meta.get("title"),
                                                      meta.get("category_path"))

        def build(depth: int) -> list:
            # lexical-only candidates need their vector for the cosine: one batched lookup
            return build_candidates(  # the query vector is a cache hit: _ann just embedded it
                fused, lexical, ann, depth, describe, query_vector=self.embedder.embed(query),
                vectors_of=index.vectors)

        return self.rerank.rerank(RerankQuery(query, category), fused, build)

    @staticmethod
    def _report(report: RerankReport) -> None:
        reports = _RERANK_REPORTS.get()
        if reports is not None:
            reports.append(report)

    def _ladder(self, timings: dict[str, float]) -> FallbackLadder:
        def correct(query: str) -> str | None:
            with timed("spelling", timings):
                correction = self.replica.speller.correct(query)
            return correction.corrected if correction.changed else None

        def relaxed(query: str, k: int, category: str | None) -> list[LexicalHit]:
            with timed("lexical_relaxed", timings):
                hits = self.replica.lexical.search_hits(query, k, category, "any")
            eligible = {sku for sku, _ in self._eligible([(h.sku, h.score) for h in hits],
                                                         category)}
            return [hit for hit in hits if hit.sku in eligible]

        def popular(k: int, category: str | None) -> list[tuple[str, float]]:
            with timed("popular", timings):
                return self.popular.top(k, category)

        return FallbackLadder(
            hybrid=lambda q, k, c: self.hybrid(q, k, c, timings),
            relaxed=relaxed, popular=popular, correct=correct)

    def _run_ladder(self, query: str, k: int, category: str | None,
                    timings: dict[str, float]) -> LadderResult:
        return self._ladder(timings).search(query, k, category)

    # --- public --------------------------------------------------------------------------
    async def search(self, query: str, k: int, category: str | None,
                     rewrite: bool = True) -> SearchOutcome:
        timings: dict[str, float] = {}
        reports: list[RerankReport] = []
        _RERANK_REPORTS.set(reports)  # this request's task only (each task has a context)
        started = time.perf_counter()
        self.embedder.prefetch(query)  # with prefetch on: encoded during the lexical stages
        result = await self._in_thread(self._run_ladder, query, k, category, timings)
        rewrite_info = None
        if rewrite and self.rewrite_stage is not None:
            with timed("rewrite", timings):
                result, rewrite_info = await self.rewrite_stage.run(
                    query, k, category, result, self._run_ladder)
        RUNGS.labels(result.rung).inc()
        items = await self.hydrate(result.items, timings)
        timings["total"] = round((time.perf_counter() - started) * 1000, 3)
        # the last hybrid run is the one that served (spelling and rewrites re-run hybrid)
        rerank = reports[-1] if reports and result.rung in ("hybrid", "spelling") else \
            self.rerank.skipped(f"the {result.rung} rung is not reranked")
        return SearchOutcome(items, result.rung, result.query, result.corrected_query,
                             result.category, result.category_inferred, timings, rewrite_info,
                             rerank.as_dict())

    async def similar(self, sku: str, k: int) -> list[dict[str, Any]] | None:
        """Nearest products to ``sku`` (itself excluded); None when the sku is not indexed."""
        if self.replica.index.vector(sku) is None:
            return None
        timings: dict[str, float] = {}

        def nearest() -> list[tuple[str, float]]:
            with timed("ann_similar", timings):
                hits = self.replica.index.similar(sku, k + 20)
            return self._eligible([(h.sku, h.score) for h in hits])[:k]

        return await self.hydrate(await self._in_thread(nearest), timings)

    async def hydrate(self, scored: list[tuple[str, float]], timings: dict[str, float]
                      ) -> list[dict[str, Any]]:
        with timed("hydrate", timings):
            rows = await read_many(self.redis, [("HMGET", self.keys.item(sku), *HYDRATED_FIELDS)
                                                for sku, _ in scored])
        items = []
        for (sku, score), row in zip(scored, rows, strict=True):
            doc = dict(zip(HYDRATED_FIELDS, (v.decode() if v else None for v in row),
                           strict=True))
            if doc["title"] is None:
                continue  # deleted since the index saw it; Redis is the newer truth
            items.append({
                "sku": sku, "score": round(score, 6), "title": doc["title"],
                "category_path": json.loads(doc["category_path"] or "[]"),
                "brand": doc["brand"] or None,
                "price": float(doc["price"]) if doc["price"] else None,
                "currency": doc["currency"] or None,
                "available": doc["available"] != "0",
                "image": doc["image"],
                "attributes": json.loads(doc["attributes"] or "{}"),
            })
        return items
