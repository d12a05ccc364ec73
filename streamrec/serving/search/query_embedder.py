"""Embed search queries, with a small LRU cache (popular queries repeat)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from streamrec.indexer.text_encoder import TextEncoder


class QueryEmbedder:
    def __init__(self, encoder: TextEncoder, cache_size: int = 4096) -> None:
        self.encoder = encoder
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, query: str) -> np.ndarray:
        key = " ".join(query.lower().split())
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        vector = self.encoder.encode_texts([key])[0]
        with self._lock:
            self._cache[key] = vector
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return vector
