"""Leave out items marked unavailable and, by default, items the catalog does not know
(deleted, or never indexed)."""

from __future__ import annotations

from collections.abc import Sequence

from streamrec.recs.candidate_filter import (
    FilterContext,
    FilterOutcome,
    T,
    item_available,
    split,
)


class UnavailableItemsFilter:
    name = "unavailable"
    requires = frozenset({"candidates", "docs"})

    def __init__(self, drop_unknown: bool = True) -> None:
        self.drop_unknown = drop_unknown

    def apply(self, items: Sequence[T], context: FilterContext) -> FilterOutcome[T]:
        def keep(item: T) -> bool:
            doc = context.item(item.sku)
            return not self.drop_unknown if doc is None else item_available(doc)

        return split(items, keep)
