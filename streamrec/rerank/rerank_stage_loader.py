"""Opening the rerank stage from settings (called from the API's lifespan, never at import).

- no path configured, or the file is absent: the stage is built but skips every
  request, and each response says why (``rerank.reason``);
- a file that is unreadable, of an unknown kind, or trained on other features: start-up
  fails with ``RerankModelError``, naming the file and what to do (serving a model
  whose columns mean something else would rank silently wrong).
"""

from __future__ import annotations

import logging
from pathlib import Path

from streamrec.rerank.rerank_depth_budget import RerankBudgetConfig, RerankDepthBudget
from streamrec.rerank.reranker_model_file import RerankModelError, load_model_file
from streamrec.rerank.search_rerank_stage import SearchRerankStage
from streamrec.rerank.search_reranker import SearchReranker

log = logging.getLogger(__name__)


def load_reranker(path: Path, threads: int = 1) -> SearchReranker:
    """The reranker a model file holds, by its ``kind``."""
    kind = load_model_file(path).kind
    if kind == "lightgbm":
        from streamrec.rerank.lightgbm_ranker import LightGbmRanker

        return LightGbmRanker.load(path)
    if kind == "cross-encoder":
        from streamrec.rerank.cross_encoder_ranker import CrossEncoderRanker

        return CrossEncoderRanker.load(path, threads=threads)
    if kind == "cascade":
        from streamrec.rerank.cascade_ranker import CascadeRanker

        return CascadeRanker.load(path, lambda part: load_reranker(part, threads))
    raise RerankModelError(f"{path}: unknown reranker kind {kind!r}")


def load_rerank_stage(model_path: Path | None, budget: RerankBudgetConfig,
                      threads: int = 1) -> SearchRerankStage:
    if model_path is None:
        return SearchRerankStage(None, None, "no reranker model configured "
                                             "(STREAMREC_RERANK_MODEL_PATH)")
    path = Path(model_path).expanduser()
    if not path.is_file():
        log.warning("reranker model %s not found: search is not reranked", path)
        return SearchRerankStage(None, None, f"reranker model file not found: {path}")
    reranker = load_reranker(path, threads)
    log.info("search reranker %s loaded from %s", reranker.name, path)
    return SearchRerankStage(reranker, RerankDepthBudget(budget, reranker.default_candidate_ms))
