"""Popular items, overall or in a category: the last rungs of the no-empty-page ladder.

Popularity is the ``popular`` sorted set the user-events agent increments per event
(weighted by type). Items without any traffic still fill a category's page: the
category's products from the index replica, most recently updated first.
"""

from __future__ import annotations

import redis

from streamrec.indexer.catalog_index_replica import CatalogIndexReplica
from streamrec.indexer.sharded_index import parse_category
from streamrec.redis_keys import RedisKeys


class PopularItemsSource:
    def __init__(self, redis_client: redis.Redis, keys: RedisKeys,
                 replica: CatalogIndexReplica, scan: int = 1000) -> None:
        self.redis = redis_client
        self.keys = keys
        self.replica = replica
        self.scan = scan

    def top(self, k: int, category: str | None = None) -> list[tuple[str, float]]:
        prefix = parse_category(category) if category else ()
        metadata = self.replica.index.metadata  # per sku: no copy of the whole catalog

        def eligible(sku: str) -> bool:
            meta = metadata(sku)
            if meta is None or meta.get("available") is False:
                return False
            return tuple(meta.get("category_path") or ())[: len(prefix)] == prefix

        ranked = self.redis.zrevrange(self.keys.popular(), 0, self.scan - 1, withscores=True)
        out = [(sku.decode(), float(score)) for sku, score in ranked if eligible(sku.decode())]
        if len(out) < k:
            have = {sku for sku, _ in out}
            out.extend((sku, 0.0) for sku in self.replica.newest(k - len(out), category, have))
        return out[:k]
