"""Assembles :class:`RerankCandidate` rows from the hybrid stage's three lists.

One function for serving and for training, so the features a model learns from are
computed from exactly what the API has at request time (train/serve skew is the usual
way a learned ranker loses its offline gain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from streamrec.rerank.rerank_candidate import RerankCandidate

Scored = Sequence[tuple[str, float]]


def build_candidates(
    fused: Scored,
    lexical: Scored,
    ann: Scored,
    depth: int,
    title_of: Callable[[str], str | None],
    category_of: Callable[[str], Sequence[str] | None] = lambda _sku: None,
    query_vector: np.ndarray | None = None,
    vector_of: Callable[[str], np.ndarray | None] | None = None,
    popularity_of: Callable[[str], float] | None = None,
) -> list[RerankCandidate]:
    """The first ``depth`` fused candidates with their per-retriever scores and ranks.

    The cosine is computed for every candidate that has a vector, not only for those
    ANN returned: a lexical-only hit's similarity is one dot product away.
    """
    bm25 = {sku: (score, rank) for rank, (sku, score) in enumerate(lexical)}
    dense = {sku: (score, rank) for rank, (sku, score) in enumerate(ann)}
    out: list[RerankCandidate] = []
    for rank, (sku, fused_score) in enumerate(fused[:depth]):
        lex = bm25.get(sku)
        vec = dense.get(sku)
        cosine = vec[0] if vec is not None else None
        if cosine is None and query_vector is not None and vector_of is not None:
            item = vector_of(sku)
            if item is not None:
                cosine = float(np.dot(query_vector, item))
        out.append(RerankCandidate(
            sku=sku, title=title_of(sku) or "", fused_score=float(fused_score),
            fused_rank=rank,
            bm25_score=None if lex is None else float(lex[0]),
            bm25_rank=None if lex is None else lex[1],
            vector_score=cosine, vector_rank=None if vec is None else vec[1],
            category_path=tuple(category_of(sku) or ()),
            popularity=popularity_of(sku) if popularity_of is not None else 0.0))
    return out
