"""Shard by top-level category: a category filter searches one shard, unfiltered.

Shard names are the top-level category as a slug (``"Home & Garden"`` ->
``"home-garden"``); products without a category go to ``"uncategorised"``. Shard sizes
follow the catalog's mix, so one big category makes one big shard: use the hash router
when balance matters more than filtered-search speed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from streamrec.indexer.shard_router import ShardRouter

UNCATEGORISED = "uncategorised"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def category_slug(name: str) -> str:
    """``"Home & Garden"`` -> ``"home-garden"``; an empty result becomes ``"uncategorised"``."""
    return _NOT_SLUG.sub("-", name.strip().lower()).strip("-") or UNCATEGORISED


class CategoryShardRouter(ShardRouter):
    kind = "category"

    def shard_for(self, sku: str, category_path: Sequence[str]) -> str:
        return category_slug(category_path[0]) if category_path else UNCATEGORISED

    def shards_for_category(self, prefix: Sequence[str]) -> set[str] | None:
        return {category_slug(prefix[0])} if prefix else None

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind}
