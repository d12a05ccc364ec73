"""Embed search queries: a small LRU cache (popular queries repeat) and dynamic batching.

Under concurrent load several requests want a query vector at the same moment. One
ONNX call for four short queries costs about half the CPU of four single calls (1.3 vs
2.6 ms a query on this machine), so queries that arrive while the encoder is busy wait
for it and then go together in one call. Nothing waits on purpose: a lone query is
encoded at once, a batch forms only from queries that queued behind a running one.

With ``prefetch`` a request hands its query over as it arrives, before its lexical
stages run: the embedder's own thread encodes what is waiting, so the queries of the
requests in flight share a batch even when only two search threads run them, and the
encoding overlaps the lexical search on the other core. Less CPU per search, but a
longer tail at 8 clients on two cores, so it is off by default
(``Settings.search_embed_prefetch``).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from prometheus_client import Histogram

from streamrec.indexer.text_encoder import TextEncoder

QUERY_EMBED_BATCH = Histogram(
    "streamrec_search_query_embed_batch_size", "Queries encoded together in one encoder call",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32))


class QueryEmbedder:
    def __init__(self, encoder: TextEncoder, cache_size: int = 4096, batch_max: int = 16,
                 prefetch: bool = False) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be >= 1")
        self.encoder = encoder
        self.cache_size = cache_size
        self.batch_max = batch_max
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cond = threading.Condition()
        # queries waiting for the encoder, and whether a thread is encoding right now
        self._waiting: OrderedDict[str, Future[np.ndarray]] = OrderedDict()
        self._encoding = False
        # the batch the running call encodes: a query asked for again meanwhile waits for
        # it rather than being encoded a second time
        self._in_flight: dict[str, Future[np.ndarray]] = {}
        self._prefetcher = (ThreadPoolExecutor(1, thread_name_prefix="query-embed")
                            if prefetch else None)

    def close(self) -> None:
        if self._prefetcher is not None:
            self._prefetcher.shutdown(wait=False, cancel_futures=True)

    def prefetch(self, query: str) -> None:
        """Start encoding ``query`` on the embedder's thread (without blocking the caller);
        ``embed`` then finds it done or in flight. A no-op without ``prefetch=True``."""
        if self._prefetcher is None:
            return
        key = self.key(query)
        with self._cond:
            if key in self._cache or key in self._waiting or key in self._in_flight:
                return
            self._waiting[key] = Future()
        # shutting down (submit refuses): embed() encodes the waiting query itself
        with contextlib.suppress(RuntimeError):
            self._prefetcher.submit(self._drain)

    def _drain(self) -> None:
        """Encode whatever waits, a batch at a time (the prefetch thread's work)."""
        with self._cond:
            while self._waiting:
                if self._encoding:
                    self._cond.wait()
                    continue
                self._encode_next_batch()

    @staticmethod
    def key(query: str) -> str:
        return " ".join(query.lower().split())

    def embed(self, query: str) -> np.ndarray:
        """The query's vector (blocks the calling thread; call it off the event loop).

        A thread whose query is not yet encoded either encodes the oldest waiting queries
        (when no other thread is encoding) or waits; it returns as soon as its own query is
        done, and a waiting thread takes over the encoding of what is left."""
        key = self.key(query)
        with self._cond:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            # the same query already waiting or being encoded shares its future
            future = self._waiting.get(key) or self._in_flight.get(key)
            if future is None:
                future = self._waiting[key] = Future()
            while not future.done():
                if self._encoding:
                    self._cond.wait()
                    continue
                self._encode_next_batch()
        return future.result()

    def _encode_next_batch(self) -> None:
        """Encode the oldest waiting queries (called holding the lock while no call runs;
        the lock is released during the encoder call)."""
        self._encoding = True
        batch = [self._waiting.popitem(last=False)
                 for _ in range(min(self.batch_max, len(self._waiting)))]
        self._in_flight = dict(batch)
        self._cond.release()
        try:
            vectors = self._encode(batch)
        finally:
            self._cond.acquire()
            self._encoding = False
            self._in_flight = {}
            self._cond.notify_all()
        self._keep(batch, vectors)

    def _encode(self, batch: list[tuple[str, Future[np.ndarray]]]) -> np.ndarray | None:
        """One encoder call for ``batch`` (outside the lock); on failure every waiter of
        the batch gets the error, not a hang."""
        QUERY_EMBED_BATCH.observe(len(batch))
        try:
            return self.encoder.encode_texts([key for key, _ in batch])
        except Exception as exc:
            for _, future in batch:
                future.set_exception(exc)
            return None

    def _keep(self, batch: list[tuple[str, Future[np.ndarray]]], vectors: np.ndarray | None
              ) -> None:
        """Cache and hand out a batch's vectors (under the lock)."""
        if vectors is None:
            return
        for (key, future), vector in zip(batch, vectors, strict=True):
            self._cache[key] = vector
            self._cache.move_to_end(key)
            future.set_result(vector)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
