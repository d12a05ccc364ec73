"""What one search run tells the cascade: how well the query matched.

The router reads it for the original query; the validator compares the rewrite's
probe with the original's. ``payload`` carries whatever the caller needs to serve the
rewrite's results without searching a second time (the ladder's result in the API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MATCH_CLASS: dict[str, int] = {
    "hybrid": 2, "spelling": 2,  # the query (or the ladder's own spelling fix) matched
    "lexical_relaxed": 1,  # some word matched
    "popular_in_category": 0, "popular": 0,  # nothing matched: filler items
}
"""How well a ladder rung matched. ``spelling`` counts as ``hybrid``: the ladder already
rewrote the query there, and a rewrite repeating that fix must not count as a gain."""


@dataclass(frozen=True)
class SearchProbe:
    rung: str
    """The rung of the no-empty-page ladder that served."""
    hits: int
    """Items returned."""
    strict_hits: int
    """Products matching most of the query's words (lexical ``strict`` mode), up to k."""
    top_score: float = 0.0
    payload: Any = None

    @property
    def matched_hits(self) -> int:
        """Results that match the query at all: popular filler items count zero."""
        return self.hits if MATCH_CLASS.get(self.rung, 0) > 0 else 0

    def strength(self) -> tuple[int, int, int]:
        """Comparable result strength: (match class of the rung, strict hits, matched hits).
        A rewrite "returns fewer results" when its strength is lower than the original's
        and "improves" the result when it is higher (lexicographic order)."""
        return (MATCH_CLASS.get(self.rung, 0), self.strict_hits, self.matched_hits)
