"""The tiers of the cascade and what a tier proposes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TierName = Literal["cache", "deterministic", "small_llm", "large_llm"]
TIERS: tuple[TierName, ...] = ("cache", "deterministic", "small_llm", "large_llm")
PAID_TIERS: tuple[TierName, ...] = ("small_llm", "large_llm")


@dataclass(frozen=True)
class RewriteContext:
    """What a tier may tell a model about the query besides its text."""

    category: str | None
    reasons: tuple[str, ...]
    """Why the router sent it (``no_results``, ``weak_results``, ``natural_language``)."""


@dataclass(frozen=True)
class Proposal:
    text: str | None
    """The rewritten query; None when the tier had nothing to offer."""
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0


class RewriteTier(Protocol):
    name: TierName
    model: str

    async def propose(self, query: str, context: RewriteContext) -> Proposal: ...
