"""The candidate source contract: one small class per source, named ``family/name``.

A source may also answer for many users at once (``fetch_many``: one Redis round trip,
one FAISS call); the generator's batched path uses it when present and otherwise
gathers ``fetch`` per user. Both must give the same candidates for the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from streamrec.recs.candidate import Candidate
from streamrec.recs.user_profile import UserProfile


class CandidateSource(Protocol):
    name: str
    """``family/name`` as in configuration (``item-based/co-visitation``)."""
    config: Any
    """A frozen dataclass; part of the generator's ``config_hash``."""

    async def fetch(self, profile: UserProfile, k: int) -> list[Candidate]:
        """Up to ``k`` candidates, best first, one per sku (an empty list is fine)."""
        ...


class BatchedCandidateSource(CandidateSource, Protocol):
    async def fetch_many(self, profiles: Sequence[UserProfile], k: int
                         ) -> list[list[Candidate]]:
        """``fetch`` for each profile, in order, in as few round trips as possible."""
        ...
