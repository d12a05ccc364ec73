"""The replica's apply path and its ``newest`` ladder rung, without Kafka (messages are
built here the way confluent-kafka hands them over)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamrec.indexer.catalog_index_replica import CatalogIndexReplica
from streamrec.indexer.category_shard_router import CategoryShardRouter
from streamrec.indexer.index_config import IndexConfig
from streamrec.schemas.codec import codec_for

DIM = 8
CODEC = codec_for("ItemVector")


@dataclass
class Message:
    sku: str
    payload: bytes | None
    offset_: int

    def key(self) -> bytes:
        return self.sku.encode()

    def value(self) -> bytes | None:
        return self.payload

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self.offset_


def vector_message(sku: str, offset: int, updated_at: int, path: list[str],
                   available: bool = True) -> Message:
    vector = np.zeros(DIM, dtype="<f4")
    vector[offset % DIM] = 1.0
    return Message(sku, CODEC.encode({
        "sku": sku, "shard": path[0] if path else "uncategorised", "model_id": "m",
        "dim": DIM, "vector": vector.tobytes(), "content_hash": sku, "title": f"title {sku}",
        "category_path": path, "brand": None, "price": None, "available": available,
        "updated_at": updated_at, "version": None}), offset)


def replica(tmp_path: Path) -> CatalogIndexReplica:
    return CatalogIndexReplica(bootstrap="127.0.0.1:1", topic="t", snapshot_dir=tmp_path,
                               dim=DIM, model_id="m", router=CategoryShardRouter(),
                               config=IndexConfig(), text_indexes=False)


def test_newest_orders_by_update_time_and_recomputes_after_each_batch(tmp_path: Path) -> None:
    r = replica(tmp_path)
    seen: list[list[str]] = []
    r.listeners.append(seen.append)
    r.apply_messages([vector_message("a", 0, 100, ["Tools"]),
                      vector_message("b", 1, 300, ["Tools", "Drills"]),
                      vector_message("c", 2, 200, ["Kitchen"]),
                      vector_message("d", 3, 400, ["Tools"], available=False)])
    assert seen == [["a", "b", "c", "d"]]
    assert r.newest(3) == ["b", "c", "a"]  # d is unavailable
    assert r.newest(5, "Tools") == ["b", "a"]
    assert r.newest(5, "Tools", exclude={"b"}) == ["a"]
    assert r.newest(3) is r.newest(3)  # kept until the next batch
    r.apply_messages([vector_message("a", 4, 500, ["Tools"]), Message("b", None, 5)])
    assert seen[-1] == ["a", "b"]
    assert r.newest(3) == ["a", "c"]  # a updated, b deleted: not the kept answer
