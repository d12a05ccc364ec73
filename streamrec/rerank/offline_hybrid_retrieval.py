"""The API's hybrid retrieval, in-process and without Kafka, for training and benches.

Same pieces as ``CatalogSearch.hybrid``: a ``LexicalIndex`` over title, category path
and brand (tiered BM25), nearest neighbours over the product vectors (exact inner
product here; the API's HNSW has recall@10 ~0.99 at this size), and the fusion function
the caller passes (the serving tier's ``RankFusion().fuse``: passed in so this package
never imports ``serving``). No fallback ladder: a reranker only ever sees the hybrid
rung's candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.indexer.lexical_index import LexicalIndex, LexicalIndexConfig
from streamrec.rerank.rerank_candidate import RerankCandidate
from streamrec.rerank.rerank_candidate_builder import build_candidates

Scored = list[tuple[str, float]]
FuseFn = Callable[[Sequence[Sequence[tuple[str, float]]]], Scored]

RETRIEVAL_DEPTH = 100  # CatalogSearch.hybrid: max(candidates=100, 3 * k) at k <= 33
MIN_VECTOR_ONLY_SCORE = 0.45  # CatalogSearch.min_vector_only_score
_BUILD = LexicalIndexConfig(commit_every_docs=1 << 40, commit_interval_ms=1 << 40)


@dataclass(frozen=True)
class RetrievedLists:
    lexical: Scored
    ann: Scored
    fused: Scored


class OfflineHybridRetrieval:
    def __init__(self, products: Sequence[dict[str, Any]], vectors: np.ndarray, fuse: FuseFn,
                 depth: int = RETRIEVAL_DEPTH,
                 min_vector_only_score: float = MIN_VECTOR_ONLY_SCORE) -> None:
        import faiss

        if len(products) != len(vectors):
            raise ValueError(f"{len(products)} products but {len(vectors)} vectors")
        self.products = {p["sku"]: p for p in products}
        self.skus = [p["sku"] for p in products]
        self.row = {sku: i for i, sku in enumerate(self.skus)}
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.fuse = fuse
        self.depth = depth
        self.min_vector_only_score = min_vector_only_score
        self.lexical = LexicalIndex(config=_BUILD)
        for p in products:  # the fields CatalogIndexReplica._index_text indexes
            self.lexical.upsert(p["sku"], p.get("title"), p.get("category_path") or [],
                                p.get("brand"))
        self.lexical.refresh()
        self._flat = faiss.IndexFlatIP(self.vectors.shape[1])
        self._flat.add(self.vectors)

    def close(self) -> None:
        self.lexical.close()

    def ann_many(self, query_vectors: np.ndarray) -> list[Scored]:
        """Nearest products for many queries in one batched call."""
        k = min(self.depth, len(self.skus))
        scores, ids = self._flat.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)
        return [[(self.skus[i], float(s)) for i, s in zip(row_ids, row_scores, strict=True)
                 if i >= 0] for row_ids, row_scores in zip(ids, scores, strict=True)]

    def retrieve(self, query: str, ann: Scored) -> RetrievedLists:
        """Lexical search, then fusion with the given ANN list, as the hybrid rung does."""
        lexical = self.lexical.search(query.strip(), self.depth, mode="tiered")
        if not lexical:  # no word in common: vectors only when close
            fused = [(s, v) for s, v in ann if v >= self.min_vector_only_score]
        else:
            fused = self.fuse([lexical, ann])
        return RetrievedLists(lexical, ann, fused)

    def retrieve_many(self, queries: Sequence[str], query_vectors: np.ndarray
                      ) -> list[RetrievedLists]:
        """``retrieve`` for each query, its ANN list from one batched call."""
        anns = self.ann_many(query_vectors)
        return [self.retrieve(query, ann) for query, ann in zip(queries, anns, strict=True)]

    def candidates(self, lists: RetrievedLists, query_vector: np.ndarray,
                   depth: int) -> list[RerankCandidate]:
        return build_candidates(
            lists.fused, lists.lexical, lists.ann, depth,
            describe=self._describe, query_vector=query_vector,
            vectors_of=lambda skus: [self.vectors[self.row[sku]] for sku in skus])

    def _describe(self, sku: str) -> tuple[str | None, Sequence[str] | None]:
        product = self.products[sku]
        return product.get("title"), product.get("category_path")
