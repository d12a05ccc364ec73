"""Never recommend what the user already bought."""

from __future__ import annotations

from collections.abc import Sequence

from streamrec.recs.candidate_filter import FilterContext, FilterOutcome, T, split


class PurchasedItemsFilter:
    name = "purchased"
    requires = frozenset({"candidates", "summary"})

    def apply(self, items: Sequence[T], context: FilterContext) -> FilterOutcome[T]:
        purchased = context.purchased
        return split(items, lambda item: item.sku not in purchased)
