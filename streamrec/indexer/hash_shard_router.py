"""Shard by a stable hash of the sku: N shards of even size, whatever the catalog's mix."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from streamrec.indexer.shard_router import ShardRouter


class HashShardRouter(ShardRouter):
    """``hash-<i>`` with ``i = blake2b(sku) mod shards`` (Python's ``hash`` is per-process)."""

    kind = "hash"

    def __init__(self, shards: int = 4) -> None:
        if shards < 1:
            raise ValueError("a hash router needs at least one shard")
        self.shards = shards

    def shard_for(self, sku: str, category_path: Sequence[str]) -> str:
        digest = hashlib.blake2b(sku.encode("utf-8"), digest_size=8).digest()
        return f"hash-{int.from_bytes(digest, 'little') % self.shards}"

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "shards": self.shards}
