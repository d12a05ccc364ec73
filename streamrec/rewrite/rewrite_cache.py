"""The first tier: validated rewrites in Redis, shared by every API process.

Key: the hash of the normalised query, the category and the cascade's fingerprint (the
tier models and the prompt version), so changing a model or the prompt starts a fresh
cache instead of serving the old model's rewrites (as Gorse hashes its configuration
into cached lists). Value: the rewrite and the tier that made it. Only rewrites that
passed validation are written; a cached rewrite that fails validation later (the
catalog changed) is deleted.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from streamrec.redis_keys import RedisKeys
from streamrec.rewrite.query_wording import query_tokens


@dataclass(frozen=True)
class CachedRewrite:
    text: str
    tier: str
    model: str


class RewriteCache:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, ttl_s: int,
                 fingerprint: str) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_s = ttl_s
        self.fingerprint = fingerprint

    def key(self, query: str, category: str | None) -> str:
        basis = "\x00".join((self.fingerprint, " ".join(query_tokens(query)),
                             (category or "").casefold()))
        return self.keys.query_rewrite(hashlib.sha1(basis.encode()).hexdigest())

    async def get(self, query: str, category: str | None) -> CachedRewrite | None:
        raw = await self.redis.get(self.key(query, category))
        if raw is None:
            return None
        data = json.loads(raw)
        return CachedRewrite(data["q"], data["tier"], data.get("model", ""))

    async def put(self, query: str, category: str | None, rewrite: CachedRewrite) -> None:
        value = json.dumps({"q": rewrite.text, "tier": rewrite.tier, "model": rewrite.model,
                            "at": int(time.time() * 1000)})
        await self.redis.set(self.key(query, category), value, ex=self.ttl_s)

    async def forget(self, query: str, category: str | None) -> None:
        await self.redis.delete(self.key(query, category))
