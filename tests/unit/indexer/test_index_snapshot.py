from __future__ import annotations

import os
import time

import numpy as np
import pytest

from streamrec.indexer.hash_shard_router import HashShardRouter
from streamrec.indexer.index_config import IndexConfig
from streamrec.indexer.index_snapshot import (
    STALE_TEMP_S,
    TEMP_PREFIX,
    load_latest_snapshot,
    write_snapshot,
)
from streamrec.indexer.sharded_index import ShardedIndex

PATHS = [["Apparel", "Topwear"], ["Apparel", "Bottomwear"], ["Footwear"], []]


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def catalog(config: IndexConfig | None = None, router=None) -> tuple[ShardedIndex, np.ndarray]:
    config = config or IndexConfig(hnsw_m=16, ef_construction=40, exact_search_below=0,
                                   exact_batch_below=0)
    vectors = unit_vectors(300, 32, seed=4)
    index = ShardedIndex(32, "model-a", router, config)
    index.upsert_many(
        [f"p{i}" for i in range(300)],
        vectors,
        [PATHS[i % 4] for i in range(300)],
        [{"title": f"P{i}", "price": float(i)} for i in range(300)],
    )
    index.delete("p1")
    index.upsert("p2", -vectors[2], ["Footwear"])  # a tombstone, and a shard move
    return index, vectors


def results(index: ShardedIndex, vectors: np.ndarray) -> list:
    return [
        index.search_many(vectors[:30], k=10, category=category)
        for category in (None, "Apparel", "Apparel > Topwear")
    ]


@pytest.mark.parametrize("storage", ["flat", "sq8"])
@pytest.mark.parametrize("router", [None, HashShardRouter(3)])
def test_round_trip_gives_identical_search_results(tmp_path, storage: str, router) -> None:
    config = IndexConfig(hnsw_m=16, ef_construction=40, exact_search_below=0, exact_batch_below=0,
                         storage=storage)
    index, vectors = catalog(config, router)
    path = write_snapshot(index, tmp_path, {0: 120, "1": 7})
    assert path.parent == tmp_path and path.name.startswith("snapshot-")
    restored, offsets = load_latest_snapshot(tmp_path, config)
    assert offsets == {"0": 120, "1": 7}
    assert restored.model_id == "model-a" and restored.router.spec() == index.router.spec()
    assert len(restored) == len(index) == 299
    assert results(restored, vectors) == results(index, vectors)
    assert restored.stats() == index.stats()
    assert restored.metadata("p5") == {"title": "P5", "price": 5.0}
    assert restored.shard_of("p2") == index.shard_of("p2")
    assert restored.similar("p8", 5) == index.similar("p8", 5)
    # the restored index keeps working: updates, deletes, compaction
    restored.upsert("p8", -vectors[8], ["Apparel"])
    assert restored.search(-vectors[8], k=1)[0].sku == "p8"
    restored.compact(list(restored.shards))
    assert restored.search(-vectors[8], k=1)[0].sku == "p8"


def test_no_snapshot_gives_none(tmp_path) -> None:
    assert load_latest_snapshot(tmp_path) is None
    assert load_latest_snapshot(tmp_path / "missing") is None


def test_empty_index_round_trip(tmp_path) -> None:
    write_snapshot(ShardedIndex(32, "model-a"), tmp_path, {})
    restored, offsets = load_latest_snapshot(tmp_path)
    assert len(restored) == 0 and offsets == {}
    assert restored.search(unit_vectors(1)[0], k=3) == []


def test_a_leftover_temp_folder_is_ignored_and_later_removed(tmp_path) -> None:
    index, _ = catalog()
    write_snapshot(index, tmp_path, {0: 1})
    crashed = tmp_path / f"{TEMP_PREFIX}crashed"
    crashed.mkdir()
    (crashed / "shard-0000.faiss").write_bytes(b"half a graph")
    assert load_latest_snapshot(tmp_path)[1] == {"0": 1}
    old = time.time() - STALE_TEMP_S - 10
    os.utime(crashed, (old, old))
    write_snapshot(index, tmp_path, {0: 2})
    assert not crashed.exists()


def test_a_damaged_newest_snapshot_falls_back_to_the_previous(tmp_path) -> None:
    index, _ = catalog()
    write_snapshot(index, tmp_path, {0: 1})
    newest = write_snapshot(index, tmp_path, {0: 2})
    graph = newest / "shard-0000.faiss"
    graph.write_bytes(graph.read_bytes()[:100])  # truncated: the size check fails
    _, offsets = load_latest_snapshot(tmp_path)
    assert offsets == {"0": 1}


def test_only_the_newest_snapshots_are_kept(tmp_path) -> None:
    index, _ = catalog()
    paths = [write_snapshot(index, tmp_path, {0: n}) for n in range(4)]
    remaining = sorted(p.name for p in tmp_path.iterdir())
    assert remaining == [paths[2].name, paths[3].name]
    assert load_latest_snapshot(tmp_path)[1] == {"0": 3}
    write_snapshot(index, tmp_path, {0: 9}, keep=1)
    assert len(list(tmp_path.iterdir())) == 1


def test_model_id_filter_skips_snapshots_of_another_model(tmp_path) -> None:
    index, _ = catalog()
    write_snapshot(index, tmp_path, {0: 5})
    assert load_latest_snapshot(tmp_path, model_id="model-b") is None
    assert load_latest_snapshot(tmp_path, model_id="model-a")[1] == {"0": 5}


def test_negative_offsets_are_rejected(tmp_path) -> None:
    with pytest.raises(ValueError):
        write_snapshot(ShardedIndex(32, "m"), tmp_path, {0: -1})
    assert list(tmp_path.iterdir()) == []
