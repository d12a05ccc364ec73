"""What the recommendation path needs from the vector index (``ShardedIndex`` has it)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from streamrec.indexer.hnsw_shard import SearchHit


class ItemVectorIndex(Protocol):
    def search(self, query: np.ndarray, k: int = 10,
               category: str | Sequence[str] | None = None) -> list[SearchHit]: ...

    def vector(self, sku: str) -> np.ndarray | None: ...

    def vectors(self, skus: Sequence[str]) -> list[np.ndarray | None]: ...

    def metadata(self, sku: str) -> dict[str, Any] | None: ...


def usable_hits(hits: Iterable[Any]) -> list[Any]:
    """Hits with a real sku and a finite score: FAISS pads with id ``-1`` (a wrapper that
    lets one through shows up as sku ``None``, ``""`` or ``"-1"``)."""
    return [
        hit for hit in hits
        if hit.sku not in (None, "", "-1", -1) and math.isfinite(float(hit.score))
    ]


def vectors_of(index: ItemVectorIndex, skus: Iterable[str]) -> dict[str, np.ndarray | None]:
    """Unit float32 vectors by sku (``None`` where the index lacks the item). Blocking:
    call it in a worker thread from async code."""
    unique = list(dict.fromkeys(skus))
    found = index.vectors(unique)
    have = [i for i, vector in enumerate(found) if vector is not None]
    out: dict[str, np.ndarray | None] = dict.fromkeys(unique)
    if have:
        # one matrix, one zero-row check: per-vector numpy calls were most of the cost
        # (the index stores unit vectors, so the norm is not checked again)
        matrix = np.asarray([np.asarray(found[i]).reshape(-1) for i in have],
                            dtype=np.float32)
        for i, row, nonzero in zip(have, matrix, matrix.any(axis=1), strict=True):
            out[unique[i]] = row if nonzero else None
    return out
