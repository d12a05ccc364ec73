"""Keep only items inside the requested category (exact prefix match on whole levels)."""

from __future__ import annotations

from collections.abc import Sequence

from streamrec.recs.candidate_filter import (
    FilterContext,
    FilterOutcome,
    T,
    item_category_path,
    split,
)
from streamrec.recs.category_scope import in_scope


class CategoryFilter:
    name = "category"
    requires = frozenset({"candidates", "docs"})

    def apply(self, items: Sequence[T], context: FilterContext) -> FilterOutcome[T]:
        if not context.category:
            return FilterOutcome(list(items), [])

        def keep(item: T) -> bool:
            doc = context.item(item.sku)
            return doc is not None and in_scope(item_category_path(doc), context.category)

        return split(items, keep)
