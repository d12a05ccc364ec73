"""Search quality over a set of judged queries: the metrics of every variant of a run.

* ``score_rankings``: NDCG@10 (gain = the judged relevance, unjudged = 0), P@10 (relevance
  >= 2.5 relevant), recall@100 and the zero-result rate, averaged over the judged queries.
* ``judged_only_rankings``: the ranking of each query's judged products on their own,
  i.e. rerank-only quality. The order is the system's: the judged products in the order
  they appear in its top-100 answer (the API caps k at 100), then the judged products it
  did not return, in sku order (no information about them). ``judged_retrieved_share``
  says how many judged products the top 100 held, so a low share warns that the order
  is mostly the fallback one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streamrec.evaluation.ranking_metrics import ndcg_at_k, precision_at_k, recall_at_k

RELEVANT_AT = 2.5


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def pcts(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    return {"p50": round(percentile(values, 0.50), digits),
            "p95": round(percentile(values, 0.95), digits),
            "p99": round(percentile(values, 0.99), digits),
            "n": len(values)}


@dataclass
class Quality:
    ndcg_at_10: float
    p_at_10: float
    recall_at_100: float
    zero_result_rate: float
    per_query_ndcg: dict[str, float] = field(repr=False, default_factory=dict)

    def summary(self) -> dict[str, float]:
        return {"ndcg_at_10": round(self.ndcg_at_10, 4), "p_at_10": round(self.p_at_10, 4),
                "recall_at_100": round(self.recall_at_100, 4),
                "zero_result_rate": round(self.zero_result_rate, 4)}


def score_rankings(rankings: Mapping[str, Sequence[str]],
                   judgments: Mapping[str, Mapping[str, float]]) -> Quality:
    """Mean metrics over every judged query (a query without a ranking scores zero)."""
    n = len(judgments) or 1
    ndcg = p10 = r100 = zero = 0.0
    per_query: dict[str, float] = {}
    for query, gains in judgments.items():
        ranked = rankings.get(query, [])
        relevant = {sku for sku, rel in gains.items() if rel >= RELEVANT_AT}
        per_query[query] = ndcg_at_k(ranked, gains, 10)
        ndcg += per_query[query]
        p10 += precision_at_k(ranked, relevant, 10)
        r100 += recall_at_k(ranked, relevant, 100)
        zero += not ranked
    return Quality(ndcg / n, p10 / n, r100 / n, zero / n, per_query)


score = score_rankings  # the name bench/bench_rerank.py imports


def judged_only_ranking(ranked: Sequence[str], gains: Mapping[str, float]) -> list[str]:
    """The judged products in ``ranked``'s order, then the ones it lacks in sku order."""
    seen: set[str] = set()
    out: list[str] = []
    for sku in ranked:
        if sku in gains and sku not in seen:
            seen.add(sku)
            out.append(sku)
    return out + sorted(sku for sku in gains if sku not in seen)


@dataclass
class JudgedOnlyQuality:
    ndcg_at_10: float
    p_at_10: float
    retrieved_share: float

    def summary(self) -> dict[str, float]:
        return {"judged_ndcg_at_10": round(self.ndcg_at_10, 4),
                "judged_p_at_10": round(self.p_at_10, 4),
                "judged_retrieved_share": round(self.retrieved_share, 4)}


def judged_only_quality(rankings: Mapping[str, Sequence[str]],
                        judgments: Mapping[str, Mapping[str, float]]) -> JudgedOnlyQuality:
    """Rerank-only quality: NDCG@10 and P@10 of each query's judged products ordered by
    the system (``judged_only_ranking``); P@10 divides by min(10, judged products)."""
    n = len(judgments) or 1
    ndcg = p10 = 0.0
    retrieved = judged = 0
    for query, gains in judgments.items():
        ranked = rankings.get(query, [])
        order = judged_only_ranking(ranked, gains)
        relevant = {sku for sku, rel in gains.items() if rel >= RELEVANT_AT}
        ndcg += ndcg_at_k(order, gains, 10)
        cut = min(10, len(gains)) or 1
        p10 += sum(1 for sku in order[:cut] if sku in relevant) / cut
        top = set(ranked[:100])
        retrieved += sum(1 for sku in gains if sku in top)
        judged += len(gains)
    return JudgedOnlyQuality(ndcg / n, p10 / n, retrieved / judged if judged else 0.0)
