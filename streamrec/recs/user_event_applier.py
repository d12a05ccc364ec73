"""Apply a batch of user events: profiles, co-visitation and trending.

The Faust user agent loads the profiles of the batch's users from its table, calls
``apply`` and stores them back. Item vectors and category paths come from the vector
index (one worker-thread call per batch); the co-visitation and trending writes of
the whole batch go out as two concurrent pipelined round trips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.recs.candidate_filter import item_category_path
from streamrec.recs.co_visitation_store import CoVisit, CoVisitationStore
from streamrec.recs.item_vector_index import ItemVectorIndex
from streamrec.recs.trending_store import TrendingHit, TrendingStore
from streamrec.recs.user_profile import UserProfile, UserProfileConfig


@dataclass(frozen=True)
class UserEventApplierConfig:
    co_visitation_weights: Mapping[str, float] = field(default_factory=lambda: {
        "VIEW": 1.0, "CLICK": 1.0, "ADD_TO_CART": 2.0, "PURCHASE": 3.0})
    """How much an event of each type adds to its co-visitation pairs (0: none)."""


class UserEventApplier:
    def __init__(self, index: ItemVectorIndex | None, co_visitation: CoVisitationStore,
                 trending: TrendingStore, profile_config: UserProfileConfig | None = None,
                 config: UserEventApplierConfig | None = None) -> None:
        self.index = index
        self.co_visitation = co_visitation
        self.trending = trending
        self.profile_config = profile_config or UserProfileConfig()
        self.config = config or UserEventApplierConfig()

    def _item_facts(self, skus: list[str]) -> dict[str, tuple[np.ndarray | None, list[str]]]:
        out: dict[str, tuple[np.ndarray | None, list[str]]] = {}
        for sku in skus:
            if self.index is None:
                out[sku] = (None, [])
                continue
            metadata = self.index.metadata(sku)
            out[sku] = (self.index.vector(sku), item_category_path(metadata or {}))
        return out

    async def apply(self, events: Sequence[Mapping[str, Any]],
                    profiles: MutableMapping[str, UserProfile]) -> list[str]:
        """Fold de-duplicated events (in order) into ``profiles`` (missing users are
        created) and write their co-visitation and trending counts; the users touched."""
        skus = sorted({e["sku"] for e in events if e.get("sku")})
        facts = await asyncio.to_thread(self._item_facts, skus) if skus else {}
        visits: list[CoVisit] = []
        hits: list[TrendingHit] = []
        touched: dict[str, None] = {}
        for event in events:
            user = event["user_id"]
            profile = profiles.get(user)
            if profile is None:
                profile = profiles[user] = UserProfile(user, self.profile_config)
            touched[user] = None
            sku, kind, ts = event.get("sku"), event.get("type", ""), int(event.get("ts") or 0)
            vector, path = facts.get(sku, (None, [])) if sku else (None, [])
            if sku:
                weight = float(self.config.co_visitation_weights.get(kind, 0.0))
                if weight > 0:
                    window = profile.session_items(event.get("session_id"), ts,
                                                   self.co_visitation.config.window)
                    if window:
                        visits.append(CoVisit(window, sku, weight))
                trend = self.trending.weight_of(kind)
                if trend > 0:
                    hits.append(TrendingHit(sku, path, trend, ts))
            profile.apply(event, vector, path)
        await asyncio.gather(self.co_visitation.record(visits), self.trending.record(hits))
        return list(touched)
