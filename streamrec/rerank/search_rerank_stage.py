"""The rerank stage of ``/v1/search``: reorder the hybrid stage's head with a model.

Takes the fused, eligible candidates (best first), asks the budget how many of them
to rerank, builds their features through the caller's ``build`` function (the serving
tier knows titles, vectors, popularity), scores them and reorders that head; the tail
keeps its fused order. It never empties or shortens a page: no model, too few
candidates or a failing model all return the fused order with a report saying why.
The caller times the stage (``timed("rerank", ...)``); the stage measures itself too,
to keep its depth inside the budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import Counter, Histogram

from streamrec.rerank.candidate_reorder import Scored, reorder_head
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.rerank_depth_budget import RerankDepthBudget
from streamrec.rerank.search_log import SearchLog
from streamrec.rerank.search_reranker import SearchReranker

log = logging.getLogger(__name__)

RERANKS = Counter("streamrec_search_rerank_total", "Rerank stage outcomes",
                  ["reranker", "outcome"])
DEPTH = Histogram("streamrec_search_rerank_depth", "Candidates reranked per request",
                  buckets=(5, 10, 20, 30, 50, 75, 100, 150, 200))

TITLES_PREPARED = Counter("streamrec_search_rerank_titles_prepared_total",
                          "Product titles the reranker analysed as they were indexed, ahead "
                          "of the requests that rank them")

BuildFn = Callable[[int], list[RerankCandidate]]
"""depth -> the first ``depth`` candidates with everything the features need."""


@dataclass(frozen=True)
class RerankReport:
    applied: bool
    reranker: str | None
    depth: int = 0
    reason: str | None = None
    """Why it was not applied (None when it was)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SearchRerankStage:
    name = "rerank"

    def __init__(self, reranker: SearchReranker | None, budget: RerankDepthBudget | None,
                 skipped_reason: str | None = None) -> None:
        self.reranker = reranker
        self.budget = budget
        self.skipped_reason = skipped_reason or "no reranker model configured"

    @property
    def enabled(self) -> bool:
        return self.reranker is not None and self.budget is not None

    def prepare_titles(self, titles: Iterable[str | None]) -> int:
        """Let the reranker analyse product titles before requests need them."""
        if self.reranker is None:
            return 0
        prepared = self.reranker.prepare_titles(titles)
        TITLES_PREPARED.inc(prepared)
        return prepared

    def search_logs(self) -> list[SearchLog]:
        """The logs the served model reads (empty without a model or a log)."""
        return self.reranker.search_logs() if self.reranker is not None else []

    def skipped(self, reason: str | None = None) -> RerankReport:
        name = self.reranker.name if self.reranker is not None else None
        return RerankReport(False, name, 0, reason or self.skipped_reason)

    def rerank(self, query: RerankQuery, fused: Sequence[tuple[str, float]],
               build: BuildFn) -> tuple[Scored, RerankReport]:
        items = list(fused)
        if self.reranker is None or self.budget is None:
            return items, self.skipped()
        name = self.reranker.name
        depth = self.budget.depth(len(items))
        if depth < 2:
            RERANKS.labels(name, "too_few").inc()
            return items, RerankReport(False, name, 0, "fewer than 2 candidates")
        started = time.perf_counter()
        try:
            candidates = build(depth)
            scores = self.reranker.score(query, candidates)
            if len(scores) != len(candidates) or [c.sku for c in candidates] != \
                    [sku for sku, _ in items[:len(candidates)]]:
                raise ValueError("candidates and scores do not line up with the fused list")
        except Exception as exc:  # a failing model must not empty or break the page
            log.warning("rerank with %s failed: %r", name, exc)
            RERANKS.labels(name, "error").inc()
            return items, RerankReport(False, name, 0, f"error: {type(exc).__name__}")
        self.budget.observe(len(candidates), (time.perf_counter() - started) * 1000)
        RERANKS.labels(name, "applied").inc()
        DEPTH.observe(len(candidates))
        return reorder_head(items, scores), RerankReport(True, name, len(candidates))
