"""Quality of rankings over held-out queries (the project's ranking metrics, averaged)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from streamrec.evaluation.ranking_metrics import ndcg_at_k, precision_at_k
from streamrec.rerank.candidate_reorder import reorder_head

if TYPE_CHECKING:  # the training set pulls in retrieval (tantivy, FAISS); a GPU box has none
    from streamrec.rerank.reranker_training_set import QueryGroup

RELEVANT_AT = 2.5  # Home Depot: mean relevance >= 2.5 counts as relevant (as the benches)
RANKING_DEPTH = 100


def mean_quality(rankings: Mapping[str, Sequence[str]],
                 judgments: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean NDCG@10 (relevance as gain) and P@10 over the judged queries."""
    n = len(judgments) or 1
    ndcg = p10 = 0.0
    for query, gains in judgments.items():
        ranked = list(rankings.get(query, []))
        relevant = {sku for sku, rel in gains.items() if rel >= RELEVANT_AT}
        ndcg += ndcg_at_k(ranked, gains, 10)
        p10 += precision_at_k(ranked, relevant, 10)
    return {"ndcg_at_10": round(ndcg / n, 4), "p_at_10": round(p10 / n, 4), "queries": len(
        judgments)}


def group_rankings(groups: Iterable[QueryGroup],
                   scorer: Callable[[QueryGroup], np.ndarray] | None = None,
                   source: str = "fused") -> dict[str, list[str]]:
    """Per query, the skus best first: the ``lexical`` or ``fused`` list as retrieved, or,
    with ``scorer``, the fused list with its candidates reordered by the scores."""
    out = {}
    for group in groups:
        base = group.lists.lexical if source == "lexical" else group.lists.fused
        if scorer is not None and group.candidates:
            base = reorder_head(group.lists.fused, scorer(group))
        out[group.query] = [sku for sku, _ in base[:RANKING_DEPTH]]
    return out
