"""``popular/trending``: what trends in the user's strongest categories, then overall.

Each scope's list is normalised by its best score and scaled by the user's share of
interest in that category (overall by ``overall_weight``); an item found in several
scopes keeps its best score.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streamrec.recs.candidate import Candidate
from streamrec.recs.trending_store import TrendingItem, TrendingStore
from streamrec.recs.user_profile import UserProfile


@dataclass(frozen=True)
class TrendingSourceConfig:
    categories: int = 3
    overall_weight: float = 0.5


def blend_trending(scoped: list[tuple[str | None, float, list[TrendingItem]]], k: int,
                   source: str) -> list[Candidate]:
    """(scope or None for overall, weight, items) -> the ``k`` best candidates."""
    best: dict[str, Candidate] = {}
    for scope, weight, items in scoped:
        top = max((item.score for item in items), default=0.0)
        if top <= 0 or weight <= 0:
            continue
        for item in items:
            score = weight * item.score / top
            if item.sku not in best or score > best[item.sku].score:
                best[item.sku] = Candidate(item.sku, score, source, via_category=scope)
    return sorted(best.values(), key=lambda c: (-c.score, c.sku))[:k]


class TrendingCandidateSource:
    name = "popular/trending"

    def __init__(self, store: TrendingStore, config: TrendingSourceConfig | None = None,
                 cache_s: float = 1.0) -> None:
        self.store = store
        self.config = config or TrendingSourceConfig()
        self.cache_s = cache_s
        self._cache: dict[tuple[str | None, int], tuple[float, Any]] = {}

    async def _top_many(self, scopes: list[str | None], k: int) -> list[Any]:
        """Trending lists are the same for every user: keep each for ``cache_s`` seconds,
        so a burst of refreshes costs one Redis read per scope, not one per user."""
        now = time.monotonic()
        missing = [s for s in dict.fromkeys(scopes)
                   if (hit := self._cache.get((s, k))) is None or hit[0] < now]
        if missing:
            for scope, found in zip(missing, await self.store.top_many(missing, k),
                                    strict=True):
                self._cache[(scope, k)] = (now + self.cache_s, found)
            if len(self._cache) > 10_000:
                self._cache = {key: v for key, v in self._cache.items() if v[0] >= now}
        return [self._cache[(s, k)][1] for s in scopes]

    def _scoped_weights(self, profile: UserProfile) -> tuple[list[str | None], list[float]]:
        categories = profile.top_categories(self.config.categories)
        scopes: list[str | None] = [scope for scope, _ in categories]
        weights = [share for _, share in categories]
        if self.config.overall_weight > 0:
            scopes.append(None)
            weights.append(self.config.overall_weight)
        return scopes, weights

    async def fetch(self, profile: UserProfile, k: int) -> list[Candidate]:
        if k <= 0:
            return []
        scopes, weights = self._scoped_weights(profile)
        if not scopes:
            return []
        lists = await self._top_many(scopes, k)
        return blend_trending(list(zip(scopes, weights, lists, strict=True)), k, self.name)

    async def fetch_many(self, profiles: Sequence[UserProfile], k: int
                         ) -> list[list[Candidate]]:
        """``fetch`` for every profile: each scope read once (through the cache), and one
        blend per distinct (scopes, shares), which many users share (a new user's shares
        are all 1.0)."""
        if k <= 0:
            return [[] for _ in profiles]
        asked = [self._scoped_weights(profile) for profile in profiles]
        scopes = list(dict.fromkeys(scope for user_scopes, _ in asked for scope in user_scopes))
        lists = dict(zip(scopes, await self._top_many(scopes, k), strict=True)) if scopes else {}
        blended: dict[tuple[tuple[str | None, ...], tuple[float, ...]], list[Candidate]] = {}
        out = []
        for user_scopes, weights in asked:
            if not user_scopes:
                out.append([])
                continue
            key = (tuple(user_scopes), tuple(weights))
            if key not in blended:
                blended[key] = blend_trending(
                    [(s, w, lists[s]) for s, w in zip(user_scopes, weights, strict=True)],
                    k, self.name)
            out.append(list(blended[key]))
        return out
