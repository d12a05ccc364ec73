"""Applying reranker scores to a fused list: the head is reordered, the tail kept."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Scored = list[tuple[str, float]]


def reorder_head(fused: Sequence[tuple[str, float]], scores: np.ndarray) -> Scored:
    """The first ``len(scores)`` items sorted by score (stable: ties keep fused order),
    then the rest unchanged. Each item keeps its fused score, so clients reading
    ``score`` still see the retrieval scale; the order is the reranker's."""
    depth = len(scores)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    head = [fused[int(i)] for i in order]
    return [*head, *fused[depth:]]
