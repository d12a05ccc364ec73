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


Describe = Callable[[str], tuple[str | None, Sequence[str] | None]]
"""sku -> (title, category path), from one lookup of the product."""


def build_candidates(
    fused: Scored,
    lexical: Scored,
    ann: Scored,
    depth: int,
    describe: Describe,
    query_vector: np.ndarray | None = None,
    vectors_of: Callable[[list[str]], Sequence[np.ndarray | None]] | None = None,
    popularity_of: Callable[[str], float] | None = None,
) -> list[RerankCandidate]:
    """The first ``depth`` fused candidates with their per-retriever scores and ranks.

    The cosine is computed for every candidate that has a vector, not only for those
    ANN returned: a lexical-only hit's similarity is one row of one matrix product
    (``vectors_of`` fetches those candidates' vectors in one call).
    """
    head = fused[:depth]
    bm25 = {sku: (score, rank) for rank, (sku, score) in enumerate(lexical)}
    dense = {sku: (score, rank) for rank, (sku, score) in enumerate(ann)}
    computed: dict[str, float] = {}
    if query_vector is not None and vectors_of is not None:
        missing = [sku for sku, _ in head if sku not in dense]
        found = [(sku, v) for sku, v in zip(missing, vectors_of(missing) if missing else (),
                                            strict=True) if v is not None]
        if found:
            cosines = np.stack([v for _, v in found]) @ query_vector
            computed = {sku: float(c) for (sku, _), c in zip(found, cosines, strict=True)}
    out: list[RerankCandidate] = []
    for rank, (sku, fused_score) in enumerate(head):
        lex = bm25.get(sku)
        vec = dense.get(sku)
        title, path = describe(sku)
        out.append(RerankCandidate(
            sku=sku, title=title or "", fused_score=float(fused_score),
            fused_rank=rank,
            bm25_score=None if lex is None else float(lex[0]),
            bm25_rank=None if lex is None else lex[1],
            vector_score=vec[0] if vec is not None else computed.get(sku),
            vector_rank=None if vec is None else vec[1],
            category_path=tuple(path or ()),
            popularity=popularity_of(sku) if popularity_of is not None else 0.0))
    return out
