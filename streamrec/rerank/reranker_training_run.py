"""``streamrec train reranker`` end to end, without Kafka: data -> candidates -> model file.

1. Load the catalog and the judgments; vectors from ``CatalogVectorCache`` (the encoder
   the API uses, cached under ``cache_dir``).
2. Candidates for every judged query from ``OfflineHybridRetrieval`` (the API's hybrid
   retrieval), the first ``depth`` of them featurised and labelled.
   With ``search_log`` (the default), the judged pairs of every query that is not a test
   query (train and validation) are the search log (``search_log.SearchLog``): each
   candidate's count of other logged searches that led to it, leaving the query's own
   pairs out (so validation early-stops on what a new query would see); test queries
   are never in it. The log is saved in the model file for serving.
3. Split by query (``query_split``), train on ``train``, early-stop on ``validation``.
4. Score BM25 alone, hybrid and hybrid + the model on ``test`` only; write the model
   file with those figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.evaluation.phase_progress import PhaseFn, silent_phase
from streamrec.indexer.product_text import product_text
from streamrec.indexer.text_encoder import EncoderConfig, create_text_encoder
from streamrec.rerank.catalog_vector_cache import CatalogVectorCache
from streamrec.rerank.feature_schema import FEATURE_NAMES, FEATURE_SET
from streamrec.rerank.judged_catalog import JudgedCatalog, load_homedepot
from streamrec.rerank.lightgbm_ranker import KIND
from streamrec.rerank.lightgbm_ranker_trainer import DEFAULT_PARAMS, train_lightgbm
from streamrec.rerank.offline_hybrid_retrieval import FuseFn, OfflineHybridRetrieval
from streamrec.rerank.pair_feature_extractor import PairFeatureExtractor
from streamrec.rerank.query_split import (
    DEFAULT_SALT,
    TEST_SHARE,
    VALIDATION_SHARE,
    query_split,
)
from streamrec.rerank.rerank_quality import group_rankings, mean_quality
from streamrec.rerank.reranker_model_file import RerankerModelFile
from streamrec.rerank.reranker_training_set import QueryGroup, build_groups, judgments_hash
from streamrec.rerank.search_log import search_log_from_judgments

DEFAULT_DEPTH = 100


@dataclass
class RerankerTrainingResult:
    model_path: Path
    metrics: dict[str, Any]
    split_sizes: dict[str, int]
    best_round: int
    groups: list[QueryGroup] = field(repr=False, default_factory=list)


def query_texts(catalog: JudgedCatalog) -> list[str]:
    """Queries as the API embeds them (``QueryEmbedder``: lowercased, spaces collapsed)."""
    return [" ".join(q.lower().split()) for q in catalog.judgments]


def catalog_vectors(catalog: JudgedCatalog, cache_dir: Path, encoder: EncoderConfig,
                    on_phase: PhaseFn = silent_phase) -> tuple[np.ndarray, np.ndarray, str]:
    """(product vectors, query vectors, model id), encoded once, cached under ``cache_dir``."""
    cache = CatalogVectorCache(cache_dir, lambda: create_text_encoder(encoder))
    queries = query_texts(catalog)
    qv = cache.vectors(queries, "queries", on_phase("embedding queries", len(queries)))
    texts = [product_text(p) for p in catalog.products]
    pv = cache.vectors(texts, "products", on_phase("embedding products (cached after once)",
                                                   len(texts)))
    return pv, qv, cache.model_id


def train_reranker(data_dir: Path, cache_dir: Path, output: Path, fuse: FuseFn,
                   judgments_path: Path | None = None, encoder: EncoderConfig | None = None,
                   depth: int = DEFAULT_DEPTH, limit_products: int | None = None,
                   params: dict[str, Any] | None = None, max_rounds: int = 600,
                   search_log: bool = True,
                   on_phase: PhaseFn = silent_phase) -> RerankerTrainingResult:
    catalog = load_homedepot(data_dir, judgments_path, limit_products)
    encoder = encoder or EncoderConfig(parallel_batches=2, batch_size=8)
    pv, qv, model_id = catalog_vectors(catalog, cache_dir / "vectors", encoder, on_phase)
    retrieval = OfflineHybridRetrieval(catalog.products, pv, fuse)
    log = (search_log_from_judgments(
        catalog.judgments, [q for q in catalog.judgments if query_split(q) != "test"])
        if search_log else None)
    extractor = PairFeatureExtractor(search_log=log, leave_query_out=True)
    try:
        groups = build_groups(retrieval, catalog.judgments, qv, depth, extractor,
                              on_step=on_phase("candidates and features",
                                               len(catalog.judgments)))
    finally:
        retrieval.close()
    parts = {name: [g for g in groups if g.split == name]
             for name in ("train", "validation", "test")}
    advance = on_phase("boosting (early stop on validation)", max_rounds)
    booster = train_lightgbm(parts["train"], parts["validation"], params, max_rounds,
                             on_round=lambda _r, _s: advance(1))
    test = parts["test"]
    test_judgments = {g.query: catalog.judgments[g.query] for g in test}
    metrics = {
        "split": "test",
        "bm25": mean_quality(group_rankings(test, source="lexical"), test_judgments),
        "hybrid": mean_quality(group_rankings(test), test_judgments),
        "hybrid_lightgbm": mean_quality(
            group_rankings(test, lambda g: booster.predict(g.features, num_threads=1)),
            test_judgments),
        # LightGBM's own NDCG@10 (over the candidates, queries with a judged one only)
        "validation_lightgbm_ndcg_at_10": round(
            float(booster.best_score["validation"]["ndcg@10"]), 4),
    }
    sizes = {name: len(part) for name, part in parts.items()}
    model = RerankerModelFile(
        kind=KIND, feature_set=FEATURE_SET, features=list(FEATURE_NAMES),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        data_hash=judgments_hash(catalog), payload=booster.model_to_string(),
        metrics=metrics,
        params={**DEFAULT_PARAMS, **(params or {}), "best_iteration": booster.best_iteration,
                "depth": depth, "encoder": model_id},
        split={"by": "query", "salt": DEFAULT_SALT, "validation_share": VALIDATION_SHARE,
               "test_share": TEST_SHARE, "queries": sizes},
        search_log=log.to_json() if log is not None else {})
    model.save(output)
    return RerankerTrainingResult(output, metrics, sizes, booster.best_iteration, groups)
