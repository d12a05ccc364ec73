"""What flows through the recommendation pipeline: the request, the working state, the result.

Stages read and write one ``RecommendationState``. Each stage declares the state
fields it ``requires`` and ``provides`` (names below), so a pipeline whose stages are in
the wrong order fails when it is built, not on a request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from streamrec.recs.candidate import source_family
from streamrec.recs.candidate_cache import CandidateMeta, UserSummary

ServedFrom = Literal["cache", "fallback"]

FIELDS = frozenset({
    "request", "candidates", "summary", "docs", "popularity", "vectors", "context", "ranked",
    "reasons",
})
"""State fields a stage can require or provide."""


@dataclass(frozen=True)
class RecommendationRequest:
    user_id: str
    k: int = 10
    category: str | None = None
    """A category scope (``"A > B"`` or ``"A>B"``): only items inside it."""
    context_sku: str | None = None
    """The item on screen: similar items are boosted and it is never recommended itself."""


@dataclass
class ScoredItem:
    sku: str
    score: float
    sources: tuple[str, ...]
    via_sku: str | None = None
    via_category: str | None = None
    doc: dict[str, Any] | None = None
    """Hydrated item fields (``title``, ``category_path`` list, ``available`` bool, ...)."""
    context_similarity: float | None = None
    features: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def source(self) -> str:
        return self.sources[0] if self.sources else ""

    @property
    def family(self) -> str:
        return source_family(self.source)


@dataclass
class RecommendationState:
    request: RecommendationRequest
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    items: list[ScoredItem] = field(default_factory=list)
    served_from: ServedFrom = "cache"
    refresh_requested: bool = False
    cache_status: str = ""
    meta: CandidateMeta | None = None
    summary: UserSummary = field(default_factory=UserSummary)
    docs: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """Hydrated documents of candidates, their ``via`` items and the context item."""
    popularity: dict[str, float] = field(default_factory=dict)
    vectors: dict[str, np.ndarray | None] = field(default_factory=dict)
    """Unit item vectors fetched so far (shared by the booster and the diversifier)."""
    context_vector: np.ndarray | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Stage name -> what it counted (``kept``/``removed`` for filters, ``added`` ...)."""
    feature_names: tuple[str, ...] = ()
    """The rerank stage's feature columns (``ScoredItem.features`` keys), logged with
    each impression so a model can learn from exactly what serving saw."""

    def doc(self, sku: str) -> dict[str, Any] | None:
        return self.docs.get(sku)


class RecommendationStage(Protocol):
    name: str
    requires: frozenset[str]
    provides: frozenset[str]

    async def run(self, state: RecommendationState) -> None: ...


@dataclass(frozen=True)
class RecommendedItem:
    sku: str
    score: float
    reason: str
    source: str
    sources: tuple[str, ...]
    title: str | None = None
    features: tuple[float, ...] | None = None
    """The rerank stage's inputs, in ``RecommendationResult.feature_names`` order."""


@dataclass(frozen=True)
class RecommendationResult:
    user_id: str
    items: list[RecommendedItem]
    served_from: ServedFrom
    refresh_requested: bool
    """True when the cache was missing or stale: the caller should ask for a refresh."""
    timings_ms: dict[str, float]
    """Per stage, in pipeline order, plus ``total``."""
    counts: dict[str, dict[str, int]]
    generated_at_ms: int | None = None
    """When the served candidate list was generated (``None`` for a fallback)."""
    feature_names: tuple[str, ...] = ()
    """Names of each item's ``features`` (empty when no stage computed features)."""
