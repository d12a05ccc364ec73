"""Regenerate users' candidates and write them to the cache (the debounced refresh).

``refresh`` does one user; ``refresh_many`` a batch with one call per source and one
cache round trip for all of them, for the same lists (what the users worker runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from streamrec.recs.candidate_cache import CacheEntry, CandidateCache, CandidateMeta, UserSummary
from streamrec.recs.candidate_generator import CandidateGenerator, GeneratedCandidates
from streamrec.recs.user_profile import UserProfile


class CandidateRefresher:
    def __init__(self, generator: CandidateGenerator, cache: CandidateCache,
                 clock: Callable[[], float] = time.time) -> None:
        self.generator = generator
        self.cache = cache
        self.clock = clock

    def _entry(self, profile: UserProfile, generated: GeneratedCandidates) -> CacheEntry:
        meta = CandidateMeta(
            generated_at_ms=int(self.clock() * 1000),
            sources=generated.sources_used,
            config_hash=self.generator.config_hash(),
            event_count=profile.event_count,
        )
        summary = UserSummary(profile.category_affinity(), frozenset(profile.purchased))
        return (profile.user_id, generated.candidates, meta, summary)

    async def refresh(self, profile: UserProfile) -> GeneratedCandidates:
        """Generate, then replace the cached list and the user summary (one round trip)."""
        generated = await self.generator.generate(profile)
        await self.cache.write(*self._entry(profile, generated))
        return generated

    async def refresh_many(self, profiles: Sequence[UserProfile]
                           ) -> dict[str, GeneratedCandidates]:
        """``refresh`` for each profile: one ``generate_many``, then one ``write_many``
        (all users' lists in one round trip). User id -> what was generated; a failure
        raises for the whole batch (the caller may retry its users one by one)."""
        if not profiles:
            return {}
        generated = await self.generator.generate_many(profiles)
        await self.cache.write_many(
            [self._entry(profile, g) for profile, g in zip(profiles, generated, strict=True)])
        return {profile.user_id: g for profile, g in zip(profiles, generated, strict=True)}
