"""``embedding/interest-ann``: nearest items to the user's interest vector.

The FAISS search runs in a worker thread (the event loop never waits on it). Each hit
is explained by the recent item whose vector is closest to it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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
    explain_top: int = 20
    """Hits explained by an anchor ("because you viewed X"); the rest keep no anchor."""


class InterestAnnCandidateSource:
    name = "embedding/interest-ann"

    def __init__(self, index: ItemVectorIndex, config: InterestAnnConfig | None = None) -> None:
        self.index = index
        self.config = config or InterestAnnConfig()

    async def fetch(self, profile: UserProfile, k: int) -> list[Candidate]:
        query = profile.interest_vector
        if query is None or k <= 0:
            return []
        anchors = profile.recent_skus(self.config.anchor_items)
        return await asyncio.to_thread(self._search, query, k, anchors)

    def _search(self, query: np.ndarray, k: int, anchors: list[str]) -> list[Candidate]:
        hits = usable_hits(self.index.search(query, k + self.config.overfetch))
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
