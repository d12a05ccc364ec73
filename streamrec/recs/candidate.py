"""Candidates: what a source proposes, and what the generator blends and the cache keeps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    """One source's proposal, with what explains it: ``via_sku`` (the item the user
    interacted with that led here) or ``via_category`` (the category it trends in)."""

    sku: str
    score: float
    source: str
    """The source's ``family/name`` (``item-based/co-visitation``)."""
    via_sku: str | None = None
    via_category: str | None = None


@dataclass(frozen=True, slots=True)
class BlendedCandidate:
    """A candidate after blending: the sum of its sources' weighted, normalised scores."""

    sku: str
    score: float
    sources: tuple[str, ...]
    """Every source that proposed it, the largest contribution first."""
    via_sku: str | None = None
    via_category: str | None = None

    @property
    def source(self) -> str:
        return self.sources[0] if self.sources else ""


def source_family(source: str) -> str:
    """``item-based/co-visitation`` -> ``item-based``."""
    return source.split("/", 1)[0]
