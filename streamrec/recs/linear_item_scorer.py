"""A linear scorer over named features: the default reranking model.

Anything with ``feature_names`` and ``score(features) -> scores`` can replace it (a
learned model loaded in a load hook), without touching ``FeatureReranker``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np


class ItemScorer(Protocol):
    feature_names: tuple[str, ...]

    def score(self, features: np.ndarray) -> np.ndarray:
        """(n, len(feature_names)) float32 -> n scores, higher is better."""
        ...


class LinearItemScorer:
    def __init__(self, weights: Mapping[str, float], feature_names: Sequence[str]) -> None:
        unknown = sorted(set(weights) - set(feature_names))
        if unknown:
            raise ValueError(f"weights for unknown features: {unknown}")
        self.feature_names = tuple(feature_names)
        self.weights = np.array([float(weights.get(n, 0.0)) for n in self.feature_names],
                                dtype=np.float32)

    def score(self, features: np.ndarray) -> np.ndarray:
        if features.size == 0:
            return np.zeros(len(features), dtype=np.float32)
        return features @ self.weights
