"""Turn applied catalog changes into ``ItemVector`` records: embed only what changed.

The text embedded for a product comes from ``indexer.product_text``; its content hash
(text + model id) is kept in Redis beside the vector. An upsert whose text is unchanged
(a price or stock change) reuses the stored vector, so a replay or a restart never
embeds a product twice. Encoding runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from streamrec.indexer.product_text import content_hash, product_text
from streamrec.indexer.shard_router import ShardRouter
from streamrec.indexer.text_encoder import TextEncoder
from streamrec.redis_keys import RedisKeys


@dataclass
class EmbeddingOutcome:
    vectors: list[tuple[str, dict[str, Any] | None]]
    """(sku, ItemVector record) in input order; None is a tombstone (delete)."""
    embedded: int
    reused: int


class CatalogEmbedder:
    def __init__(self, encoder_factory: Callable[[], TextEncoder], redis: aioredis.Redis,
                 keys: RedisKeys, router: ShardRouter) -> None:
        self._encoder_factory = encoder_factory
        self._encoder: TextEncoder | None = None
        self.redis = redis
        self.keys = keys
        self.router = router

    async def encoder(self) -> TextEncoder:
        if self._encoder is None:  # heavy: loaded on first use, in a thread
            self._encoder = await asyncio.to_thread(self._encoder_factory)
        return self._encoder

    async def vectors_for(self, records: Sequence[dict[str, Any]]) -> EmbeddingOutcome:
        """ItemVectors for changes that were applied (newer than what Redis had)."""
        encoder = await self.encoder()
        upserts = [r for r in records if r["op"] == "UPSERT"]
        texts = [product_text(r) for r in upserts]
        hashes = [content_hash(t, encoder.model_id) for t in texts]
        pipe = self.redis.pipeline(transaction=False)
        for record in upserts:
            pipe.hmget(self.keys.item_vector(record["sku"]), "content_hash", "vector")
        stored = await pipe.execute() if upserts else []

        vectors: dict[str, bytes] = {}
        to_embed: list[int] = []
        for i, (record, digest) in enumerate(zip(upserts, hashes, strict=True)):
            old_hash, old_vector = stored[i]
            if old_hash is not None and old_hash.decode() == digest and old_vector:
                vectors[record["sku"]] = old_vector
            else:
                to_embed.append(i)
        if to_embed:
            matrix = await asyncio.to_thread(encoder.encode_texts, [texts[i] for i in to_embed])
            matrix = np.ascontiguousarray(matrix, dtype="<f4")
            pipe = self.redis.pipeline(transaction=False)
            for row, i in zip(matrix, to_embed, strict=True):
                sku = upserts[i]["sku"]
                vectors[sku] = row.tobytes()
                pipe.hset(self.keys.item_vector(sku), mapping={
                    "content_hash": hashes[i], "model_id": encoder.model_id,
                    "vector": vectors[sku]})
            await pipe.execute()

        out: list[tuple[str, dict[str, Any] | None]] = []
        hash_of = {r["sku"]: h for r, h in zip(upserts, hashes, strict=True)}
        deleted = [r["sku"] for r in records if r["op"] == "DELETE"]
        if deleted:
            await self.redis.delete(*[self.keys.item_vector(sku) for sku in deleted])
        for record in records:
            sku = record["sku"]
            if record["op"] == "DELETE":
                out.append((sku, None))
                continue
            out.append((sku, {
                "sku": sku,
                "shard": self.router.shard_for(sku, record.get("category_path") or []),
                "model_id": encoder.model_id,
                "dim": encoder.dim,
                "vector": vectors[sku],
                "content_hash": hash_of[sku],
                "title": record.get("title"),
                "category_path": record.get("category_path") or [],
                "brand": record.get("brand"),
                "price": record.get("price"),
                "available": record.get("available", True),
                "updated_at": record["updated_at"],
                "version": record.get("version"),
            }))
        return EmbeddingOutcome(out, embedded=len(to_embed),
                                reused=len(upserts) - len(to_embed))
