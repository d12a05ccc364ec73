"""``embedding/interest-ann``: nearest items to the user's interest vector.

The FAISS search runs in a worker thread (the event loop never waits on it). Each hit
is explained by the recent item whose vector is closest to it.
"""

from __future__ import annotations

import asyncio
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

    def _search_batch(self, batch: list[tuple[np.ndarray, int, list[str], Any]]
                      ) -> list[list[Candidate]]:
        depth = max(k for _, k, _, _ in batch) + self.config.overfetch
        queries = np.stack([np.asarray(q, dtype=np.float32) for q, _, _, _ in batch])
        search_many = getattr(self.index, "search_many", None)
        if search_many is not None:
            found = search_many(queries, depth)
        else:
            found = [self.index.search(q, depth) for q in queries]
        return [self._candidates(hits, k, anchors)
                for hits, (_, k, anchors, _) in zip(found, batch, strict=True)]

    def _candidates(self, found: list[Any], k: int, anchors: list[str]) -> list[Candidate]:
        hits = usable_hits(found)
        seen: set[str] = set()
        hits = [h for h in hits if not (h.sku in seen or seen.add(h.sku))][:k]
        if not hits:
            return []
        anchor_vectors = {s: v for s, v in vectors_of(self.index, anchors).items() if v is not None}
        via: list[str | None] = [None] * len(hits)
        if anchor_vectors:
            names = list(anchor_vectors)
            matrix = np.stack([anchor_vectors[n] for n in names])
            # only the best hits are ever shown with a reason; explaining all k of them
            # was a third of a refresh's CPU
            explained = hits[: self.config.explain_top]
            hit_vectors = vectors_of(self.index, [h.sku for h in explained])
            for row, hit in enumerate(explained):
                vector = hit_vectors.get(hit.sku)
                if vector is not None:
                    via[row] = names[int(np.argmax(matrix @ vector))]
        return [Candidate(h.sku, float(h.score), self.name, via_sku=v)
                for h, v in zip(hits, via, strict=True)]
