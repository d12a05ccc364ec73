"""LightGBM lambdarank over the pair features: the cheap learned reranker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.rerank.feature_schema import FEATURE_NAMES, FEATURE_SET
from streamrec.rerank.pair_feature_extractor import PairFeatureExtractor
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.reranker_model_file import (
    RerankerModelFile,
    RerankModelError,
    load_model_file,
)
from streamrec.rerank.search_log import SearchLog

KIND = "lightgbm"


class LightGbmRanker:
    name = KIND
    default_candidate_ms = 0.05
    """~20 us of feature Python + tree walks per candidate on this machine (bench_rerank)."""

    def __init__(self, booster: Any, model: RerankerModelFile | None = None,
                 extractor: PairFeatureExtractor | None = None) -> None:
        self.booster = booster
        self.model = model
        self.extractor = extractor or PairFeatureExtractor()

    @classmethod
    def load(cls, path: Path, extractor: PairFeatureExtractor | None = None) -> LightGbmRanker:
        """Open a model file; refuses one trained on another feature list."""
        try:
            import lightgbm  # heavy, optional: only where a model is loaded
        except ImportError as exc:
            raise RerankModelError(f"{path} is a LightGBM model but lightgbm is not "
                                   "installed: pip install 'streamrec[rerank]'") from exc
        model = load_model_file(path, kind=KIND, feature_set=FEATURE_SET,
                                features=FEATURE_NAMES)
        booster = lightgbm.Booster(model_str=model.payload)
        if list(booster.feature_name()) != list(FEATURE_NAMES):
            raise ValueError(f"{path}: the booster's own feature names disagree with the file")
        extractor = extractor or PairFeatureExtractor()
        if model.search_log:
            extractor.use_search_log(SearchLog(model.search_log))
        return cls(booster, model, extractor)

    def score(self, query: RerankQuery, candidates: Sequence[RerankCandidate]) -> np.ndarray:
        if not candidates:
            return np.zeros(0, dtype=np.float64)
        features = self.extractor.extract(query, candidates)
        # one thread: a request's 100 rows are too few to split, and the API shares 2 cores
        return np.asarray(self.booster.predict(features, num_threads=1))

    def prepare_titles(self, titles: Iterable[str | None]) -> int:
        return self.extractor.prepare_titles(titles)

    def search_logs(self) -> list[SearchLog]:
        return [self.extractor.search_log] if self.extractor.search_log is not None else []

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **(self.model.summary() if self.model else {})}
