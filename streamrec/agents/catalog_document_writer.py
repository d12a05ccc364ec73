"""Apply catalog changes to the item documents in Redis, newest change wins.

Ordering key: (version, updated_at), version -1 when absent. A redelivered or older
change is a no-op, so replays and crash recovery are idempotent. A delete leaves a
marker with its order so that an older upsert arriving later cannot resurrect the item.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from streamrec.redis_keys import RedisKeys

DELETED_MARKER_TTL_S = 30 * 24 * 3600

# KEYS: item hash, deleted marker. ARGV: op, version, updated_at, marker ttl, field, value, ...
APPLY_IF_NEWER = """
local function older_or_same(v, ts, ov, ots)
  if v ~= ov then return v < ov end
  return ts <= ots
end
local v, ts = tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], '_v', 'updated_at')
local ov, ots = tonumber(cur[1]), tonumber(cur[2])
if ots == nil then
  local marker = redis.call('GET', KEYS[2])
  if marker then
    local sep = string.find(marker, ':')
    ov, ots = tonumber(string.sub(marker, 1, sep - 1)), tonumber(string.sub(marker, sep + 1))
  end
end
if ots ~= nil and older_or_same(v, ts, ov, ots) then return 0 end
if ARGV[1] == 'DELETE' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[2] .. ':' .. ARGV[3], 'EX', tonumber(ARGV[4]))
  return 2
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], '_v', ARGV[2], unpack(ARGV, 5))
return 1
"""


def item_document(record: dict[str, Any]) -> dict[str, str]:
    """The Redis hash fields of one product (strings only; JSON for structured values)."""
    doc = {
        "sku": record["sku"],
        "title": record.get("title") or "",
        "description": record.get("description") or "",
        "category_path": json.dumps(record.get("category_path") or []),
        "category": " > ".join(record.get("category_path") or []),
        "brand": record.get("brand") or "",
        "price": "" if record.get("price") is None else repr(float(record["price"])),
        "currency": record.get("currency") or "",
        "available": "1" if record.get("available", True) else "0",
        "attributes": json.dumps(record.get("attributes") or {}, sort_keys=True),
        "updated_at": str(int(record["updated_at"])),
    }
    image = record.get("image")
    if isinstance(image, str):
        doc["image"] = image
    elif isinstance(image, bytes | bytearray):
        doc["image"] = f"bytes:{len(image)}"  # raw images are embedded, not stored as documents
    return doc


def order_of(record: dict[str, Any]) -> tuple[int, int]:
    version = record.get("version")
    return (-1 if version is None else int(version), int(record["updated_at"]))


class CatalogDocumentWriter:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._script = redis.register_script(APPLY_IF_NEWER)

    async def apply(self, records: Sequence[dict[str, Any]]) -> list[int]:
        """Apply changes in order, in one round trip. Per record: 1 upserted, 2 deleted, 0 stale."""
        if not records:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for record in records:
            version, updated_at = order_of(record)
            args: list[Any] = [record["op"], version, updated_at, DELETED_MARKER_TTL_S]
            if record["op"] == "UPSERT":
                for field, value in item_document(record).items():
                    args.extend((field, value))
            await self._script(keys=[self.keys.item(record["sku"]),
                                     self.keys.item_deleted(record["sku"])],
                               args=args, client=pipe)
        return [int(r) for r in await pipe.execute()]
