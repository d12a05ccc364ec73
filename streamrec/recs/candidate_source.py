"""The candidate source contract: one small class per source, named ``family/name``."""

from __future__ import annotations

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
