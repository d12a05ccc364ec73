"""Serving stage: item documents, from the in-memory index replica where it has them,
else from Redis (``RedisKeys.item``) in one round trip.

Hydrates every candidate, every ``via`` item (for reasons) and the context item, and
reads the candidates' event-weighted popularity (``RedisKeys.popular``) in the same
pipeline. A missing document stays ``None`` (the unavailable filter drops it). The
replica's metadata (title, category, brand, price, availability) arrives with every
``ItemVector``, so it is as fresh as the index; reading it instead of 40 Redis hashes
cut the stage from ~20 ms to well under 1 ms per request.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from streamrec.recs.candidate_filter import item_available, item_category_path
from streamrec.recs.item_vector_index import ItemVectorIndex
from streamrec.recs.recommendation_state import RecommendationState
from streamrec.redis_keys import RedisKeys
from streamrec.redis_reads import Command, read_many

FIELDS = ("title", "category_path", "brand", "price", "available", "updated_at", "image")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_item_document(values: list[Any]) -> dict[str, Any] | None:
    """HMGET ``FIELDS`` -> typed fields, or ``None`` when the document does not exist."""
    raw = dict(zip(FIELDS, (_text(v) for v in values), strict=True))
    if all(v is None for v in raw.values()):
        return None
    price = raw.get("price")
    updated = raw.get("updated_at")
    return {
        "title": raw.get("title") or "",
        "category_path": item_category_path(raw),
        "brand": raw.get("brand") or None,
        "price": float(price) if price else None,
        "available": item_available(raw),
        "updated_at": int(updated) if updated else None,
        "image": raw.get("image") or None,
    }


class ItemHydrator:
    name = "hydrate"
    requires = frozenset({"candidates"})
    provides = frozenset({"docs", "popularity"})

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys,
                 index: ItemVectorIndex | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.index = index

    def _from_index(self, sku: str) -> dict[str, Any] | None:
        meta = self.index.metadata(sku) if self.index is not None else None
        if not meta or not meta.get("title"):
            return None  # the index does not describe this item: read its document
        price = meta.get("price")
        return {
            "title": meta.get("title") or "",
            "category_path": list(meta.get("category_path") or []),
            "brand": meta.get("brand") or None,
            "price": float(price) if price is not None else None,
            "available": meta.get("available") is not False,
            "updated_at": meta.get("updated_at"),
            "image": None,
        }

    async def run(self, state: RecommendationState) -> None:
        candidates = [item.sku for item in state.items]
        extra = [item.via_sku for item in state.items if item.via_sku]
        if state.request.context_sku:
            extra.append(state.request.context_sku)
        skus = []
        for sku in dict.fromkeys([*candidates, *extra]):
            if sku in state.docs:
                continue
            doc = self._from_index(sku)
            if doc is None:
                skus.append(sku)
            else:
                state.docs[sku] = doc
        if skus or candidates:
            commands: list[Command] = [("HMGET", self.keys.item(sku), *FIELDS) for sku in skus]
            if candidates:
                commands.append(("ZMSCORE", self.keys.popular(), *candidates))
            answers = await read_many(self.redis, commands)
            for sku, values in zip(skus, answers, strict=False):
                state.docs[sku] = parse_item_document(values)
            if candidates:
                scores = answers[len(skus)] or []
                state.popularity = {sku: float(s) for sku, s in zip(candidates, scores,
                                                                     strict=True)
                                    if s is not None}
        for item in state.items:
            item.doc = state.docs.get(item.sku)
        state.counts[self.name] = {"missing": sum(1 for s in skus if state.docs[s] is None)}
