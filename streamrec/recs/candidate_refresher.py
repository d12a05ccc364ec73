"""Regenerate one user's candidates and write them to the cache (the debounced refresh)."""

from __future__ import annotations

import time
from collections.abc import Callable

from streamrec.recs.candidate_cache import CandidateCache, CandidateMeta, UserSummary
from streamrec.recs.candidate_generator import CandidateGenerator, GeneratedCandidates
from streamrec.recs.user_profile import UserProfile


class CandidateRefresher:
    def __init__(self, generator: CandidateGenerator, cache: CandidateCache,
                 clock: Callable[[], float] = time.time) -> None:
        self.generator = generator
        self.cache = cache
        self.clock = clock

    async def refresh(self, profile: UserProfile) -> GeneratedCandidates:
        """Generate, then replace the cached list and the user summary (one round trip)."""
        generated = await self.generator.generate(profile)
        meta = CandidateMeta(
            generated_at_ms=int(self.clock() * 1000),
            sources=generated.sources_used,
            config_hash=self.generator.config_hash(),
            event_count=profile.event_count,
        )
        summary = UserSummary(profile.category_affinity(), frozenset(profile.purchased))
        await self.cache.write(profile.user_id, generated.candidates, meta, summary)
        return generated
