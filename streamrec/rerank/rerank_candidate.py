"""One (query, candidate) pair as the reranker sees it: what retrieval already knew."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RerankCandidate:
    """Read-only by convention: not ``frozen`` because a frozen dataclass sets each of
    its ten fields through ``object.__setattr__`` (1.6 against 0.6 us a candidate), and
    a search builds up to 100 of them per request."""

    sku: str
    title: str
    fused_score: float
    """The hybrid stage's convex fusion score (0..1)."""
    fused_rank: int
    """0-based position in the fused list."""
    bm25_score: float | None = None
    """None when the lexical retriever did not return the candidate."""
    bm25_rank: int | None = None
    vector_score: float | None = None
    """Cosine of query and product vectors (None when no vector is known)."""
    vector_rank: int | None = None
    """0-based rank in the ANN list; None when ANN did not return the candidate."""
    category_path: tuple[str, ...] = ()
    popularity: float = 0.0
    """Event-weighted popularity where the serving tier knows it; 0 otherwise."""


@dataclass(frozen=True, slots=True)
class RerankQuery:
    text: str
    category: str | None = None
    """The requested (or inferred) category filter, ``"A > B"``; None when there is none."""
