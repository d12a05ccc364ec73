"""Leave out items the user interacted with recently (optional, by configuration)."""

from __future__ import annotations

from collections.abc import Sequence

from streamrec.recs.candidate_filter import FilterContext, FilterOutcome, T, split


class SeenItemsFilter:
    name = "seen"
    requires = frozenset({"candidates"})

    def apply(self, items: Sequence[T], context: FilterContext) -> FilterOutcome[T]:
        seen = context.seen
        return split(items, lambda item: item.sku not in seen)
