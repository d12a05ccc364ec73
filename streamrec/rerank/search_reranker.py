"""What every reranker offers the serving stage: a name and a score per candidate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.search_log import SearchLog


class SearchReranker(Protocol):
    name: str
    """Stable name, used in the response, logs and metrics (``lightgbm``, ``cross-encoder``)."""
    default_candidate_ms: float
    """A first guess of the cost per candidate, before the stage has measured any."""

    def score(self, query: RerankQuery, candidates: Sequence[RerankCandidate]) -> np.ndarray:
        """One score per candidate, higher is better (only the order matters)."""
        ...

    def prepare_titles(self, titles: Iterable[str | None]) -> int:
        """Per-title work done ahead of requests, as products reach the index (0: none)."""
        ...

    def search_logs(self) -> list[SearchLog]:
        """The search logs the model reads (``search_log.SearchLog``; none for most), which
        the API keeps growing from live search clicks."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the model is (file, trained_at, test metrics), without its payload."""
        ...
