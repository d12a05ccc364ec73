"""``item-based/co-visitation``: items often visited next to the user's recent items.

Recent items are anchors weighted by their strongest event type and their recency
(``recency_decay ** position``, the newest at position 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streamrec.recs.candidate import Candidate
from streamrec.recs.co_visitation_store import CoVisitationStore
from streamrec.recs.user_profile import DEFAULT_EVENT_WEIGHTS, UserProfile


@dataclass(frozen=True)
class CoVisitationSourceConfig:
    anchor_items: int = 10
    recency_decay: float = 0.8
    event_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))


class CoVisitationCandidateSource:
    name = "item-based/co-visitation"

    def __init__(self, store: CoVisitationStore,
                 config: CoVisitationSourceConfig | None = None) -> None:
        self.store = store
        self.config = config or CoVisitationSourceConfig()

    def anchor_weights(self, profile: UserProfile) -> dict[str, float]:
        """Recent distinct items -> anchor weight, the newest first."""
        return profile.recent_weights(self.config.anchor_items, self.config.recency_decay,
                                      self.config.event_weights)

    async def fetch(self, profile: UserProfile, k: int) -> list[Candidate]:
        weights = self.anchor_weights(profile)
        if not weights or k <= 0:
            return []
        neighbours = await self.store.neighbours(list(weights), k, weights)
        return [Candidate(n.sku, n.score, self.name, via_sku=n.via) for n in neighbours]

    async def fetch_many(self, profiles: Sequence[UserProfile], k: int
                         ) -> list[list[Candidate]]:
        """``fetch`` for every profile, all anchors read in one round trip."""
        if k <= 0:
            return [[] for _ in profiles]
        weights = [self.anchor_weights(profile) for profile in profiles]
        asked = [row for row, w in enumerate(weights) if w]
        out: list[list[Candidate]] = [[] for _ in profiles]
        if asked:
            found = await self.store.neighbours_many(
                [(list(weights[row]), weights[row]) for row in asked], k)
            for row, neighbours in zip(asked, found, strict=True):
                out[row] = [Candidate(n.sku, n.score, self.name, via_sku=n.via)
                            for n in neighbours]
        return out
