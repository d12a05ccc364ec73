"""Which products earlier searches led to: the reranker's memory of the search log.

A product that shoppers reached from other queries is likely to be wanted again: on the
Home Depot judgments, counting the train and validation queries that led to each
candidate (and those of them sharing a word with the query) lifted the LightGBM
reranker's NDCG@10 on the held-out test queries from 0.452 to 0.501 (``streamrec train
reranker``; docs/benchmarks.md). The log is a list of (query, sku) pairs: judged pairs of
the non-test queries here, clicked search results in production.

Training counts leave the query's own pairs out (``leave_query_out``), so the model
learns what other searches say, which is all a new query has. The log travels in the
model file: it is what the model was trained to read. In the API it keeps growing: the
users worker appends each search click (a CLICK, ADD_TO_CART or PURCHASE event carrying
the query) to a Redis stream, and ``SearchLogFollower`` adds those pairs here ~50 ms
later (``add``).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np

TermsFn = Callable[[str], frozenset[str]]


def log_query_key(text: str) -> str:
    """Queries as the log stores them: lowercased, whitespace collapsed."""
    return " ".join(text.lower().split())


def search_click(entry_id: bytes | str, fields: Mapping[bytes | str, bytes | str]
                 ) -> tuple[str, str, str]:
    """(entry id, query, sku) of one entry of the search-log stream
    (``RedisKeys.search_log``: fields ``q`` and ``s``), whether or not the Redis client
    decodes responses; a missing field reads as ""."""
    def text(value: bytes | str | None) -> str:
        return value.decode() if isinstance(value, bytes) else (value or "")

    return (text(entry_id), text(fields.get(b"q", fields.get("q"))),
            text(fields.get(b"s", fields.get("s"))))


MAX_QUERIES_PER_SKU = 256
"""A request walks every candidate's queries, so a product's list is bounded (``add``
keeps the newest; a log built from a mapping keeps the last in sorted order); log1p of 256
queries sits far beyond what a training log reaches (the Home Depot log reaches a product
1.2 times on average, 13 at most)."""


class SearchLog:
    """``sku -> queries`` that led to it, with their term sets for the shared-term count."""

    def __init__(self, queries_of: Mapping[str, Iterable[str]],
                 max_queries_per_sku: int = MAX_QUERIES_PER_SKU) -> None:
        self.max_queries_per_sku = max_queries_per_sku
        self.queries_of: dict[str, tuple[str, ...]] = {
            sku: tuple(sorted({log_query_key(q) for q in queries}))[-max_queries_per_sku:]
            for sku, queries in queries_of.items()}
        self.queries_of = {sku: qs for sku, qs in self.queries_of.items() if qs}
        self._terms: Callable[[str], frozenset[str]] | None = None
        self._write = threading.Lock()
        self.leave_query_out = False
        """Score queries that are themselves in the log without their own pairs (cascade
        tuning on validation queries); serving counts every pair."""

    def add(self, query: str, sku: str) -> bool:
        """Log that ``query`` led to ``sku``; False when the pair was already logged (or the
        query is blank). Readers never lock: a sku's tuple is replaced whole."""
        key = log_query_key(query)
        if not key or not sku:
            return False
        with self._write:
            queries = self.queries_of.get(sku, ())
            if key in queries:
                return False
            keep = max(0, len(queries) + 1 - self.max_queries_per_sku)
            self.queries_of[sku] = (*queries[keep:], key)
            return True

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> SearchLog:
        """From (query, sku) pairs; repeats of a pair count once."""
        queries_of: dict[str, set[str]] = defaultdict(set)
        for query, sku in pairs:
            if query.strip():
                queries_of[sku].add(query)
        return cls(queries_of)

    @property
    def pairs(self) -> int:
        return sum(len(qs) for qs in self.queries_of.values())

    def to_json(self) -> dict[str, list[str]]:
        return {sku: sorted(qs) for sku, qs in sorted(self.queries_of.items())}

    def bind_terms(self, terms_of: TermsFn, cache_size: int = 65_536) -> None:
        """How a query's terms are found (the feature extractor's analysis); logged queries
        repeat across candidates and requests, so their term sets are cached."""
        self._terms = lru_cache(maxsize=cache_size)(terms_of)

    def features(self, query: str, query_terms: frozenset[str], skus: Sequence[str],
                 leave_query_out: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per sku: log1p(logged queries that led to it) and log1p(those sharing a term
        with ``query_terms``); with ``leave_query_out`` (default: the log's own setting)
        the query's own pairs are not counted (training)."""
        leave = self.leave_query_out if leave_query_out is None else leave_query_out
        own = log_query_key(query) if leave else None
        counts = np.zeros(len(skus), dtype=np.float32)
        shared = np.zeros(len(skus), dtype=np.float32)
        terms_of = self._terms
        for i, sku in enumerate(skus):
            queries = self.queries_of.get(sku)
            if not queries:
                continue
            n = s = 0
            for logged in queries:
                if logged == own:
                    continue
                n += 1
                if terms_of is not None and query_terms and not query_terms.isdisjoint(
                        terms_of(logged)):
                    s += 1
            counts[i] = math.log1p(n)
            shared[i] = math.log1p(s)
        return counts, shared


def search_log_from_judgments(judgments: Mapping[str, Mapping[str, float]],
                              queries: Iterable[str]) -> SearchLog:
    """The log of the given (training) queries: each judged product was shown for it."""
    return SearchLog.from_pairs((q, sku) for q in queries for sku in judgments[q])
