"""``streamrec train cascade``: choose how deep the cross-encoder reads and how much it
weighs against LightGBM, on VALIDATION queries, and write a ``cascade`` model file.

Both models are trained already (``train reranker``, ``train cross-encoder``), neither on
validation queries (both chose their stopping point on them, so the grid's best figure is
a little optimistic: ``bench_rerank`` on the test queries is the judge). A grid search:
for each validation query
the API's hybrid candidates (``OfflineHybridRetrieval``), LightGBM over the first
``first_depth``, the cross-encoder once over LightGBM's best ``max(second_depths)``
(its score of a pair does not depend on the others, so every smaller depth reuses a
prefix), then NDCG@10 of every (depth, weight). Weight 0 is LightGBM alone. The test
queries are left to ``bench_rerank --cascade``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.evaluation.phase_progress import PhaseFn, silent_phase
from streamrec.rerank.candidate_reorder import reorder_head
from streamrec.rerank.cascade_ranker import (
    FEATURE_SET,
    FEATURES,
    KIND,
    cascade_order,
    scores_for_order,
)
from streamrec.rerank.judged_catalog import Judgments
from streamrec.rerank.query_split import DEFAULT_SALT, query_split
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.rerank_quality import RANKING_DEPTH, mean_quality
from streamrec.rerank.reranker_model_file import RerankerModelFile
from streamrec.rerank.search_reranker import SearchReranker


@dataclass(frozen=True)
class CascadeTuneConfig:
    first_depth: int = 100
    """Candidates LightGBM orders (the stage's depth as served at max_depth)."""
    second_depths: tuple[int, ...] = (5, 10, 15, 20)
    weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 1000.0)
    """0: LightGBM alone; 1000: the cross-encoder alone over the top (LightGBM breaks ties)."""


@dataclass(frozen=True)
class ScoredQuery:
    """One validation query's fused list and both models' scores."""

    query: str
    fused: list[tuple[str, float]]
    first: np.ndarray
    """LightGBM's score of each of the first ``first_depth`` fused candidates."""
    second: np.ndarray
    """The cross-encoder's score of LightGBM's best, in LightGBM's order."""


def score_queries(queries: Sequence[tuple[str, list[tuple[str, float]],
                                          Callable[[int], list[RerankCandidate]]]],
                  first: SearchReranker, second: SearchReranker, cfg: CascadeTuneConfig,
                  on_phase: PhaseFn = silent_phase) -> list[ScoredQuery]:
    """``queries``: (text, fused list, depth -> candidates) each."""
    deepest = max(cfg.second_depths)
    advance = on_phase("scoring validation queries (both models)", len(queries))
    out = []
    for text, fused, build in queries:
        candidates = build(cfg.first_depth)
        s1 = np.asarray(first.score(RerankQuery(text), candidates), dtype=np.float64)
        top = np.argsort(-s1, kind="stable")[:deepest]
        s2 = np.asarray(second.score(RerankQuery(text), [candidates[int(i)] for i in top]),
                        dtype=np.float64)
        out.append(ScoredQuery(text, list(fused), s1, s2))
        advance(1)
    return out


def grid_quality(scored: Sequence[ScoredQuery], judgments: Judgments, cfg: CascadeTuneConfig
                 ) -> list[dict[str, Any]]:
    """NDCG@10 / P@10 of every (second_depth, weight), in grid order."""
    rows = []
    for depth in cfg.second_depths:
        for weight in cfg.weights:
            rankings = {}
            for q in scored:
                order = cascade_order(q.first, q.second[:depth], weight) \
                    if min(depth, len(q.first)) >= 2 else np.argsort(-q.first, kind="stable")
                reordered = reorder_head(q.fused, scores_for_order(order))
                rankings[q.query] = [sku for sku, _ in reordered[:RANKING_DEPTH]]
            quality = mean_quality(rankings, {q.query: judgments[q.query] for q in scored})
            rows.append({"second_depth": depth, "weight": weight, **quality})
    return rows


def best_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Highest NDCG@10; ties go to the shallower, then the lighter (cheaper, safer)."""
    return max(rows, key=lambda r: (r["ndcg_at_10"], -r["second_depth"], -r["weight"]))


def _relative(target: Path, folder: Path) -> str:
    try:
        return os.path.relpath(Path(target).resolve(), Path(folder).resolve())
    except ValueError:  # another drive
        return str(Path(target).resolve())


def write_cascade(output: Path, first_path: Path, second_path: Path, best: dict[str, Any],
                  rows: Sequence[dict[str, Any]], cfg: CascadeTuneConfig, data_hash: str,
                  queries: int) -> Path:
    folder = Path(output).parent
    first_alone = next((r for r in rows if r["weight"] == 0.0), None)
    return RerankerModelFile(
        kind=KIND, feature_set=FEATURE_SET, features=list(FEATURES),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"), data_hash=data_hash,
        payload="",
        metrics={"split": "validation", "queries": queries, "best": best,
                 "first_alone": first_alone, "grid": list(rows)},
        params={"first": _relative(first_path, folder), "second": _relative(second_path, folder),
                "second_depth": int(best["second_depth"]), "weight": float(best["weight"]),
                "first_depth": cfg.first_depth},
        split={"by": "query", "salt": DEFAULT_SALT, "tuned_on": "validation"},
    ).save(output)


@dataclass
class CascadeTuning:
    model_path: Path
    rows: list[dict[str, Any]]
    best: dict[str, Any]
    queries: int


def tune_cascade(first_path: Path, second_path: Path, data_dir: Path, cache_dir: Path,
                 output: Path, fuse: Any, encoder: Any, cfg: CascadeTuneConfig,
                 judgments_path: Path | None = None, threads: int = 2,
                 on_phase: PhaseFn = silent_phase) -> CascadeTuning:
    from streamrec.rerank.judged_catalog import load_homedepot
    from streamrec.rerank.offline_hybrid_retrieval import OfflineHybridRetrieval
    from streamrec.rerank.rerank_stage_loader import load_reranker
    from streamrec.rerank.reranker_training_run import catalog_vectors
    from streamrec.rerank.reranker_training_set import judgments_hash

    first, second = load_reranker(first_path, threads), load_reranker(second_path, threads)
    for search_log in [*first.search_logs(), *second.search_logs()]:
        # the validation queries are in a search log trained on every non-test query:
        # tune as training saw them, without each query's own pairs
        search_log.leave_query_out = True
    catalog = load_homedepot(data_dir, judgments_path)
    pv, qv, _model_id = catalog_vectors(catalog, cache_dir / "vectors", encoder, on_phase)
    queries = list(catalog.judgments)
    rows_of = [i for i, q in enumerate(queries) if query_split(q) == "validation"]
    retrieval = OfflineHybridRetrieval(catalog.products, pv, fuse)
    try:
        retrieved = retrieval.retrieve_many([queries[i] for i in rows_of], qv[rows_of])
        prepared = [(queries[i], lists.fused,
                     lambda d, lists=lists, v=qv[i]: retrieval.candidates(lists, v, d))
                    for i, lists in zip(rows_of, retrieved, strict=True)]
        scored = score_queries(prepared, first, second, cfg, on_phase)
    finally:
        retrieval.close()
    rows = grid_quality(scored, catalog.judgments, cfg)
    best = best_row(rows)
    path = write_cascade(output, first_path, second_path, best, rows, cfg,
                         judgments_hash(catalog), len(scored))
    return CascadeTuning(path, rows, best, len(scored))
