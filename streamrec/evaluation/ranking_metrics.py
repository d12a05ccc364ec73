"""Ranking metrics over one query's ranked ids and its relevance judgments.

Conventions (used by the benches and the lead's evaluation CLI):

* ``ranked``: ids best first; duplicates after the first occurrence are ignored.
* ``gains``: graded relevance per judged id; an unjudged id has gain 0.
* ``relevant``: the ids that count as relevant (e.g. Home Depot relevance >= 2.5).
* Cut-offs divide by ``k`` (precision) or by the number of relevant ids (recall), so
  a short or empty result list is penalised, not excused.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence


def _dedupe(ranked: Iterable[Hashable], k: int) -> list[Hashable]:
    seen: set[Hashable] = set()
    out: list[Hashable] = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
            if len(out) == k:
                break
    return out


def dcg_at_k(ranked: Sequence[Hashable], gains: Mapping[Hashable, float], k: int) -> float:
    """Discounted cumulative gain with linear gains: sum gain_i / log2(i + 1), i from 1."""
    return sum(
        gains.get(item, 0.0) / math.log2(rank + 2) for rank, item in enumerate(_dedupe(ranked, k))
    )


def ndcg_at_k(ranked: Sequence[Hashable], gains: Mapping[Hashable, float], k: int = 10) -> float:
    """DCG@k over the ideal DCG@k of the judged ids; 0.0 when nothing has positive gain."""
    if k <= 0:
        return 0.0
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    ideal_dcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg_at_k(ranked, gains, k) / ideal_dcg if ideal_dcg > 0 else 0.0


def precision_at_k(
    ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10
) -> float:
    """Relevant ids among the first k, over k."""
    if k <= 0:
        return 0.0
    return sum(1 for item in _dedupe(ranked, k) if item in relevant) / k


def recall_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int = 100) -> float:
    """Relevant ids among the first k, over all relevant ids; 0.0 when none is relevant."""
    if not relevant or k <= 0:
        return 0.0
    return sum(1 for item in _dedupe(ranked, k) if item in relevant) / len(relevant)
