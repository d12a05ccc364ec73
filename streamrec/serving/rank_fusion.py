"""Fusing ranked lists from several retrievers (lexical BM25, ANN over vectors).

Two methods:

* **Reciprocal rank fusion** (Cormack, Clarke & Buettcher, 2009): an item's score is
  ``sum_i w_i / (k + rank_i)`` over the lists that contain it (ranks from 1). It
  needs no score calibration, which is why it is the usual hybrid-search default.
* **Convex combination** of normalised scores: each list's scores are min-max
  normalised to [0, 1] (an item missing from a list gets 0 there) and summed with
  weights that add up to 1. It uses score gaps that RRF throws away, at the cost of
  depending on each retriever's score distribution.

Measured on Home Depot dev (2026-11-26, 2-core machine; 54,667 products, 8,156
queries; lexical = BM25 tiered + spelling, dense = all-MiniLM-L6-v2 int8 over titles,
top 100 each; ``python -m bench.bench_lexical --fusion``):

====================  =======  ======  ======
fusion                NDCG@10  P@10    R@100
====================  =======  ======  ======
lexical only          0.4216   0.1427  0.6630
dense only            0.2822   0.1033  0.5796
RRF k=60, 0.5/0.5     0.3764   0.1316  0.6794
RRF k=10, 0.8/0.2     0.4219   0.1433  0.6723
RRF k=10, 0.9/0.1     0.4223   0.1432  0.6657
convex 0.5/0.5        0.4043   0.1392  0.6800
convex 0.7/0.3        0.4220   0.1437  0.6818
**convex 0.8/0.2**    0.4249   0.1440  0.6807
convex 0.9/0.1        0.4246   0.1434  0.6804
====================  =======  ======  ======

The convex combination beats RRF at every lexical weight tried (0.5-0.9), so it is
the default, with weights (0.8 lexical, 0.2 vector). Titles-only Home Depot favours
BM25 (the dense model alone is far behind); re-tune the weights when the encoder or
the catalog text changes. Equal-weight fusion of either kind *hurts* NDCG here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

FusionMethod = Literal["rrf", "convex"]

ScoredList = Sequence[tuple[str, float]]


@dataclass(frozen=True)
class RankFusionConfig:
    """Tunables of rank fusion (the lead maps these onto ``Settings``)."""

    method: FusionMethod = "convex"
    rrf_k: int = 60
    weights: tuple[float, ...] | None = (0.8, 0.2)
    """One weight per input list, lexical first, then vector (the measured best on
    Home Depot); None weighs any number of lists equally."""


def _check_weights(n_lists: int, weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * n_lists
    if len(weights) != n_lists:
        raise ValueError(f"{len(weights)} weights for {n_lists} rankings")
    if any(w < 0 for w in weights):
        raise ValueError("fusion weights must be non-negative")
    return [float(w) for w in weights]


def _ordered(scores: dict[str, float], first_seen: dict[str, int]) -> list[tuple[str, float]]:
    # Best score first; ties go to the item seen earlier (earlier list, better rank).
    return sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]]))


def rrf(
    rankings: Sequence[Sequence[str]],
    k: int = 60,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of id lists (best first); returns ``(id, score)`` best first.

    A repeated id inside one list counts once, at its first position, and the ids
    after it move up (ranks count distinct ids).
    """
    if k < 0:
        raise ValueError("rrf k must be >= 0")
    ws = _check_weights(len(rankings), weights)
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    order = 0
    for ranking, w in zip(rankings, ws, strict=True):
        seen: set[str] = set()
        for item in ranking:
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + w / (k + len(seen))
            if item not in first_seen:
                first_seen[item] = order
                order += 1
    fused = _ordered(scores, first_seen)
    return fused if limit is None else fused[:limit]


def min_max_normalise(scored: ScoredList) -> dict[str, float]:
    """Scores mapped to [0, 1]; a list whose scores are all equal maps to 1.0."""
    best: dict[str, float] = {}
    for item, score in scored:
        if item not in best or score > best[item]:
            best[item] = float(score)
    if not best:
        return {}
    lo, hi = min(best.values()), max(best.values())
    if hi - lo <= 1e-12:
        return dict.fromkeys(best, 1.0)
    return {item: (s - lo) / (hi - lo) for item, s in best.items()}


def convex_combination(
    scored_lists: Sequence[ScoredList],
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> list[tuple[str, float]]:
    """Weighted sum of min-max normalised scores (weights rescaled to sum to 1)."""
    ws = _check_weights(len(scored_lists), weights)
    total = sum(ws)
    if total <= 0:
        raise ValueError("fusion weights must not all be zero")
    ws = [w / total for w in ws]
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    order = 0
    for scored, w in zip(scored_lists, ws, strict=True):
        for item, value in min_max_normalise(scored).items():
            scores[item] = scores.get(item, 0.0) + w * value
        for item, _ in scored:
            if item not in first_seen:
                first_seen[item] = order
                order += 1
    fused = _ordered(scores, first_seen)
    return fused if limit is None else fused[:limit]


class RankFusion:
    """Fuses ``(id, score)`` lists with the configured method (default: convex, 0.8/0.2)."""

    def __init__(self, config: RankFusionConfig | None = None) -> None:
        self.config = config or RankFusionConfig()

    def fuse(
        self, scored_lists: Sequence[ScoredList], limit: int | None = None
    ) -> list[tuple[str, float]]:
        cfg = self.config
        if cfg.method == "rrf":
            rankings = [[item for item, _ in scored] for scored in scored_lists]
            return rrf(rankings, k=cfg.rrf_k, weights=cfg.weights, limit=limit)
        if cfg.method == "convex":
            return convex_combination(scored_lists, weights=cfg.weights, limit=limit)
        raise ValueError(f"unknown fusion method {cfg.method!r}")
