"""Per-query training groups: candidates from the API's retrieval, features, labels.

Labels follow the metric: NDCG here uses the mean rater relevance (1.0-3.0) as a
linear gain and counts an unjudged product as 0. LightGBM's lambdarank wants integer
labels with a gain table, so label = round(3 * relevance) (3..9; means of three raters
are thirds) and ``LABEL_GAIN[label] = label / 3`` gives back the same linear gain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.rerank.judged_catalog import JudgedCatalog, Judgments
from streamrec.rerank.offline_hybrid_retrieval import OfflineHybridRetrieval, RetrievedLists
from streamrec.rerank.pair_feature_extractor import PairFeatureExtractor
from streamrec.rerank.query_split import Split, query_split
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery

LABEL_SCALE = 3
LABEL_GAIN = [label / LABEL_SCALE for label in range(3 * LABEL_SCALE + 1)]

StepFn = Callable[[int], None]


@dataclass
class QueryGroup:
    query: str
    split: Split
    lists: RetrievedLists
    candidates: list[RerankCandidate]
    features: np.ndarray
    labels: np.ndarray

    @property
    def has_positive(self) -> bool:
        return bool(self.labels.any())


def relevance_label(relevance: float | None) -> int:
    """Integer lambdarank label of a mean relevance (unjudged: 0)."""
    if relevance is None:
        return 0
    return max(0, min(3 * LABEL_SCALE, round(relevance * LABEL_SCALE)))


def judgments_hash(catalog: JudgedCatalog) -> str:
    """Names the data a model learned from: every product title and every judgment."""
    digest = hashlib.blake2b(digest_size=12)
    for product in catalog.products:
        digest.update(f"{product['sku']}\x00{product.get('title')}\x01".encode())
    for query, gains in catalog.judgments.items():
        for sku, rel in sorted(gains.items()):
            digest.update(f"{query}\x00{sku}\x00{rel}\x01".encode())
    return digest.hexdigest()


def build_groups(retrieval: OfflineHybridRetrieval, judgments: Judgments,
                 query_vectors: np.ndarray, depth: int,
                 extractor: PairFeatureExtractor | None = None,
                 splits: Callable[[str], Split] = query_split,
                 on_step: StepFn | None = None) -> list[QueryGroup]:
    """One group per judged query (``query_vectors`` in the order of ``judgments``)."""
    extractor = extractor or PairFeatureExtractor()
    queries: Sequence[str] = list(judgments)
    groups = []
    for query, vector, lists in zip(queries, query_vectors,
                                    retrieval.retrieve_many(queries, query_vectors),
                                    strict=True):
        candidates = retrieval.candidates(lists, vector, depth)
        gains = judgments[query]
        groups.append(QueryGroup(
            query=query, split=splits(query), lists=lists, candidates=candidates,
            features=extractor.extract(RerankQuery(query), candidates),
            labels=np.array([relevance_label(gains.get(c.sku)) for c in candidates],
                            dtype=np.int32)))
        if on_step is not None:
            on_step(1)
    return groups
