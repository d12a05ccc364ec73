"""Which shard holds a product: the interface the sharded index routes with.

A router is pure (the same sku and category path always give the same shard, in every
process), so the catalog agent can write the shard into ``ItemVector.shard`` and every
index replica agrees. Its ``spec()`` is stored in snapshots and rebuilds it on restore.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any


class ShardRouter(ABC):
    kind: str

    @abstractmethod
    def shard_for(self, sku: str, category_path: Sequence[str]) -> str:
        """The name of the shard that holds this product."""

    def shards_for_category(self, prefix: Sequence[str]) -> set[str] | None:
        """Shards that can hold products under ``prefix``; ``None`` means any shard."""
        return None

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """A JSON-able description that ``router_from_spec`` turns back into this router."""


def router_from_spec(spec: dict[str, Any]) -> ShardRouter:
    """The router a ``spec()`` describes (snapshots and settings use this)."""
    kind = spec.get("kind")
    if kind == "category":
        from streamrec.indexer.category_shard_router import CategoryShardRouter

        return CategoryShardRouter()
    if kind == "hash":
        from streamrec.indexer.hash_shard_router import HashShardRouter

        return HashShardRouter(int(spec["shards"]))
    raise ValueError(f"unknown shard router {kind!r}; use 'category' or 'hash'")
