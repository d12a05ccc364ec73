"""Serving stage: one human-readable reason per item.

In order of preference: "similar to <context title>" (a context neighbour, or a
candidate close to the context item), "because you viewed <title>" (the item that led
to it), "trending in <category>", "trending now", "recommended for you".
"""

from __future__ import annotations

from dataclasses import dataclass

from streamrec.recs.context_item_booster import CONTEXT_SIMILAR
from streamrec.recs.recommendation_state import RecommendationState, ScoredItem
from streamrec.recs.trending_fallback_source import NEWEST

ITEM_ANCHORED = frozenset({"item-based", "embedding", "context"})


@dataclass(frozen=True)
class ReasonConfig:
    context_similarity: float = 0.6
    """A candidate this close to the context item is explained by it."""


class ReasonAnnotator:
    name = "reasons"
    requires = frozenset({"ranked", "docs"})
    provides = frozenset({"reasons"})

    def __init__(self, config: ReasonConfig | None = None) -> None:
        self.config = config or ReasonConfig()

    def _title(self, state: RecommendationState, sku: str | None) -> str | None:
        doc = state.doc(sku) if sku else None
        return (doc or {}).get("title") or None

    def _reason(self, state: RecommendationState, item: ScoredItem) -> str:
        context_title = self._title(state, state.request.context_sku)
        if context_title and (
            CONTEXT_SIMILAR in item.sources
            or (item.context_similarity or 0.0) >= self.config.context_similarity
        ):
            return f"similar to {context_title}"
        if item.family == "history":
            return "you viewed this recently"
        viewed = self._title(state, item.via_sku)
        if viewed and item.family in ITEM_ANCHORED:
            return f"because you viewed {viewed}"
        if item.via_category:
            return f"trending in {item.via_category}"
        if viewed:
            return f"because you viewed {viewed}"
        if item.source == NEWEST:
            return "new in the catalog"
        if item.family in ("popular", "fallback"):
            return "trending now"
        return "recommended for you"

    async def run(self, state: RecommendationState) -> None:
        for item in state.items:
            item.reason = self._reason(state, item)
