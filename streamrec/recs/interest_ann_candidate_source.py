"""``embedding/interest-ann``: nearest items to the user's interest vector.

The FAISS search runs in a worker thread (the event loop never waits on it). Each of
the best ``explain_top`` hits is explained by the recent item whose vector is closest
to it (one matrix product per user; item vectors are looked up once per batch).
``fetch`` batches concurrent callers behind a short timer; ``fetch_many`` (the batched
refresh) searches all its users in one call with no wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.recs.candidate import Candidate
from streamrec.recs.item_vector_index import ItemVectorIndex, usable_hits, vectors_of
from streamrec.recs.user_profile import UserProfile


@dataclass(frozen=True)
class InterestAnnConfig:
    overfetch: int = 20
    """Extra neighbours asked for, since the user's own items come back first."""
    anchor_items: int = 10
    """Recent items considered when explaining a hit."""
    batch_wait_s: float = 0.002
    """How long a query waits for others to share its FAISS call."""
    explain_top: int = 20
    """Hits explained by an anchor ("because you viewed X"); the rest keep no anchor."""


class InterestAnnCandidateSource:
    name = "embedding/interest-ann"

    def __init__(self, index: ItemVectorIndex, config: InterestAnnConfig | None = None) -> None:
        self.index = index
        self.config = config or InterestAnnConfig()
        self._pending: list[tuple[np.ndarray, int, list[str], Any]] = []
        self._flush: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def fetch(self, profile: UserProfile, k: int) -> list[Candidate]:
        query = profile.interest_vector
        if query is None or k <= 0:
            return []
        anchors = profile.recent_skus(self.config.anchor_items)
        # Concurrent refreshes share one FAISS call and one thread hop: requests that
        # arrive within ``batch_wait_s`` are searched together (search_many).
        future: asyncio.Future[list[Candidate]] = asyncio.get_running_loop().create_future()
        self._pending.append((query, k, anchors, future))
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(
                self.config.batch_wait_s, self._start_flush)
        return await future

    def _start_flush(self) -> None:
        self._flush = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.ensure_future(self._run_batch(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_batch(self, batch: list[tuple[np.ndarray, int, list[str], Any]]) -> None:
        try:
            results = await asyncio.to_thread(self._search_batch, batch)
        except Exception as exc:  # every waiting refresh sees the failure
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def fetch_many(self, profiles: Sequence[UserProfile], k: int
                         ) -> list[list[Candidate]]:
        """``fetch`` for every profile: one ``search_many`` and one thread hop for all
        users with an interest vector, no batching timer."""
        out: list[list[Candidate]] = [[] for _ in profiles]
        if k <= 0:
            return out
        rows, batch = [], []
        for row, profile in enumerate(profiles):
            query = profile.interest_vector
            if query is not None:
                rows.append(row)
                batch.append((query, k, profile.recent_skus(self.config.anchor_items), None))
        if batch:
            found = await asyncio.to_thread(self._search_batch, batch)
            for row, candidates in zip(rows, found, strict=True):
                out[row] = candidates
        return out

    def _search_batch(self, batch: list[tuple[np.ndarray, int, list[str], Any]]
                      ) -> list[list[Candidate]]:
        depth = max(k for _, k, _, _ in batch) + self.config.overfetch
        queries = np.stack([np.asarray(q, dtype=np.float32) for q, _, _, _ in batch])
        search_many = getattr(self.index, "search_many", None)
        if search_many is not None:
            found = search_many(queries, depth)
        else:
            found = [self.index.search(q, depth) for q in queries]
        vectors: dict[str, np.ndarray | None] = {}  # one lookup per sku for the whole batch
        return [self._candidates(hits, k, anchors, vectors)
                for hits, (_, k, anchors, _) in zip(found, batch, strict=True)]

    def _vectors(self, skus: list[str], memo: dict[str, np.ndarray | None]
                 ) -> list[np.ndarray | None]:
        missing = [sku for sku in skus if sku not in memo]
        if missing:
            memo.update(vectors_of(self.index, missing))
        return [memo[sku] for sku in skus]

    def _candidates(self, found: list[Any], k: int, anchors: list[str],
                    memo: dict[str, np.ndarray | None]) -> list[Candidate]:
        hits = usable_hits(found)
        seen: set[str] = set()
        hits = [h for h in hits if not (h.sku in seen or seen.add(h.sku))][:k]
        if not hits:
            return []
        anchors = list(dict.fromkeys(anchors))
        known = [(sku, v) for sku, v in zip(anchors, self._vectors(anchors, memo), strict=True)
                 if v is not None]
        via: list[str | None] = [None] * len(hits)
        if known:
            # only the best hits are ever shown with a reason; each is explained by the
            # anchor of highest inner product, all of them in one matrix product
            explained = hits[: self.config.explain_top]
            hit_vectors = self._vectors([h.sku for h in explained], memo)
            rows = [row for row, v in enumerate(hit_vectors) if v is not None]
            if rows:
                anchor_matrix = np.stack([v for _, v in known])
                products = np.stack([hit_vectors[row] for row in rows]) @ anchor_matrix.T
                for row, best in zip(rows, products.argmax(axis=1).tolist(), strict=True):
                    via[row] = known[best][0]
        return [Candidate(h.sku, float(h.score), self.name, via_sku=v)
                for h, v in zip(hits, via, strict=True)]
