"""A LightGBM lambdarank model learned from impressions, as the rerank stage's ``ItemScorer``.

The model file (``streamrec train reranker --from impressions``) names the feature set
and columns it was trained on; loading refuses a file whose columns differ from what
``feature_reranker`` computes, because scoring columns that mean something else would
rank silently wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamrec.recs.feature_reranker import FEATURE_NAMES, FEATURE_SET
from streamrec.rerank.reranker_model_file import (
    RerankerModelFile,
    RerankModelError,
    RerankModelMismatchError,
    load_model_file,
)

KIND = "lightgbm-recs"


class LightGbmItemScorer:
    name = KIND

    def __init__(self, booster: Any, model: RerankerModelFile | None = None) -> None:
        self.booster = booster
        self.model = model
        self.feature_names = FEATURE_NAMES

    @classmethod
    def load(cls, path: Path) -> LightGbmItemScorer:
        """Open a model file; ``RerankModelError`` (or its ``…MismatchError``) says why not."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise RerankModelError(f"recommendations rerank model {path} not found "
                                   "(STREAMREC_RECS_RERANK_MODEL_PATH)")
        model = load_model_file(path, kind=KIND)
        if model.feature_set != FEATURE_SET or list(model.features) != list(FEATURE_NAMES):
            diff = sorted(set(model.features) ^ set(FEATURE_NAMES)) or "same names, other order"
            raise RerankModelMismatchError(
                f"{path}: trained on {model.feature_set!r} {model.features}, the rerank stage "
                f"computes {FEATURE_SET!r} {list(FEATURE_NAMES)} ({diff}); retrain with "
                "`streamrec train reranker --from impressions`")
        import lightgbm  # only where a model is loaded: the load hook, never at import

        booster = lightgbm.Booster(model_str=model.payload)
        if list(booster.feature_name()) != list(FEATURE_NAMES):
            raise RerankModelMismatchError(
                f"{path}: the booster's own feature names {booster.feature_name()} disagree "
                "with the file's")
        return cls(booster, model)

    def score(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0, dtype=np.float64)
        # one thread: a request's 100 rows are too few to split, and the API shares its cores
        return np.asarray(self.booster.predict(features, num_threads=1))
