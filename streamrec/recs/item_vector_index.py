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
    out: dict[str, np.ndarray | None] = {}
    for sku in skus:
        if sku in out:
            continue
        vector = index.vector(sku)
        if vector is not None:
            # the index stores unit vectors (ShardedIndex normalises on upsert); checking the
            # norm here was a seventh of a candidate refresh's CPU
            vector = np.asarray(vector, dtype=np.float32).reshape(-1)
            if not vector.any():
                vector = None
        out[sku] = vector
    return out
