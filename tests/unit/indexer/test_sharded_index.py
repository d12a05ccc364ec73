from __future__ import annotations

import threading

import numpy as np
import pytest

from streamrec.indexer.category_shard_router import CategoryShardRouter, category_slug
from streamrec.indexer.hash_shard_router import HashShardRouter
from streamrec.indexer.index_config import IndexConfig
from streamrec.indexer.shard_router import router_from_spec
from streamrec.indexer.sharded_index import ShardedIndex, choose_ef_search, parse_category


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


PATHS = [["Apparel", "Topwear"], ["Apparel", "Bottomwear"], ["Footwear", "Shoes"], []]
CONFIG = IndexConfig(hnsw_m=16, ef_construction=40)


def catalog(
    n: int = 400, router=None, config: IndexConfig = CONFIG
) -> tuple[ShardedIndex, np.ndarray]:
    vectors = unit_vectors(n, 32, seed=1)
    index = ShardedIndex(32, "test-model", router or CategoryShardRouter(), config)
    skus = [f"p{i}" for i in range(n)]
    metadata = [{"title": f"Product {i}"} for i in range(n)]
    index.upsert_many(skus, vectors, [PATHS[i % 4] for i in range(n)], metadata)
    return index, vectors


def brute_force(vectors: np.ndarray, query: np.ndarray, rows: list[int], k: int) -> list[str]:
    scores = vectors[rows] @ query
    return [f"p{rows[i]}" for i in np.argsort(-scores)[:k]]


def test_category_router_shards_by_top_level_category() -> None:
    router = CategoryShardRouter()
    assert router.shard_for("x", ["Home & Garden", "Lamps"]) == "home-garden"
    assert router.shard_for("x", []) == "uncategorised" == category_slug(" & ")
    assert router.shards_for_category(["Home & Garden"]) == {"home-garden"}
    assert router.shards_for_category([]) is None


def test_hash_router_is_stable_and_spreads_skus() -> None:
    router = HashShardRouter(4)
    shards = [router.shard_for(f"sku-{i}", ["A"]) for i in range(2000)]
    assert shards == [HashShardRouter(4).shard_for(f"sku-{i}", ["B"]) for i in range(2000)]
    counts = {name: shards.count(name) for name in set(shards)}
    assert sorted(counts) == ["hash-0", "hash-1", "hash-2", "hash-3"]
    assert min(counts.values()) > 400
    assert router_from_spec(router.spec()).shard_for("sku-7", []) == router.shard_for("sku-7", [])
    with pytest.raises(ValueError):
        router_from_spec({"kind": "nope"})


def test_parse_category() -> None:
    assert parse_category(None) == ()
    assert parse_category("Apparel > Topwear") == ("Apparel", "Topwear")
    assert parse_category(["Apparel", " Topwear "]) == ("Apparel", "Topwear")
    assert parse_category("") == ()


def test_choose_ef_search_grows_with_k_and_selective_filters() -> None:
    assert choose_ef_search(10, 1.0, 64) == 64
    assert choose_ef_search(5, 1.0, 64) == 64
    assert choose_ef_search(50, 1.0, 64) == 144  # 64 * sqrt(50 / 10)
    assert choose_ef_search(100, 1.0, 64) == 203
    assert choose_ef_search(10, 0.25, 64) == 128
    assert choose_ef_search(10, 0.1, 64) > choose_ef_search(10, 0.5, 64)
    assert choose_ef_search(10, 0.0, 64, ceiling=1024) == 1024
    assert choose_ef_search(2000, 1.0, 64, ceiling=1024) == 2000  # never below k


def test_search_merges_shards_by_score() -> None:
    index, vectors = catalog()
    hits = index.search(vectors[5], k=10, ef_search=400)
    assert [h.sku for h in hits] == brute_force(vectors, vectors[5], list(range(400)), 10)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.shard for h in hits} <= {"apparel", "footwear", "uncategorised"}


@pytest.mark.parametrize("router", [CategoryShardRouter(), HashShardRouter(3)])
@pytest.mark.parametrize("exact_below", [0, 10_000])
def test_category_filter_is_an_exact_prefix_match(router, exact_below: int) -> None:
    config = IndexConfig(hnsw_m=16, ef_construction=40, exact_search_below=exact_below)
    index, vectors = catalog(router=router, config=config)
    topwear = [i for i in range(400) if i % 4 == 0]
    hits = index.search(vectors[1], k=10, category="Apparel > Topwear")
    assert all(int(h.sku[1:]) % 4 == 0 for h in hits) and len(hits) == 10
    assert [h.sku for h in hits] == brute_force(vectors, vectors[1], topwear, 10)
    apparel = index.search(vectors[1], k=50, category=["Apparel"])
    assert all(int(h.sku[1:]) % 4 in (0, 1) for h in apparel) and len(apparel) == 50
    assert index.search(vectors[1], k=10, category="Apparel > Top") == []
    assert index.search(vectors[1], k=10, category="Nowhere") == []


def test_moving_category_leaves_no_stale_copy() -> None:
    index, vectors = catalog()
    assert index.shard_of("p0") == "apparel"
    assert index.upsert("p0", vectors[0], ["Footwear", "Shoes"]) == "footwear"
    assert "p0" not in index.shards["apparel"] and "p0" in index.shards["footwear"]
    assert len(index) == 400
    everywhere = index.search(vectors[0], k=400, ef_search=800)
    assert [h.sku for h in everywhere].count("p0") == 1
    assert index.search(vectors[0], k=5, category="Apparel")[0].sku != "p0"
    assert index.search(vectors[0], k=1, category="Footwear")[0].sku == "p0"
    assert index.metadata("p0") is None  # upsert replaces the stored metadata


def test_sku_twice_in_one_batch_across_shards_keeps_the_last() -> None:
    index = ShardedIndex(32, "m", CategoryShardRouter(), CONFIG)
    vectors = unit_vectors(2)
    assert index.upsert_many(["a", "a"], vectors, [["X"], ["Y"]]) == ["x", "y"]
    assert index.shard_of("a") == "y" and "a" not in index.shards.get("x", ())
    assert len(index) == 1


def test_similar_excludes_the_item_itself() -> None:
    index, vectors = catalog()
    index.upsert("twin", vectors[9], PATHS[1])  # an identical vector under another sku
    similar = index.similar("p9", k=5)
    assert len(similar) == 5 and "p9" not in [h.sku for h in similar]
    assert similar[0].sku == "twin"
    in_category = index.similar("p9", k=5, category="Footwear")
    assert all(int(h.sku[1:]) % 4 == 2 for h in in_category)
    with pytest.raises(KeyError):
        index.similar("unknown")


def test_delete_and_metadata() -> None:
    index, vectors = catalog()
    assert index.metadata("p3") == {"title": "Product 3"}
    assert index.delete("p3") is True and index.delete("p3") is False
    assert "p3" not in index and index.metadata("p3") is None and index.vector("p3") is None
    assert "p3" not in [h.sku for h in index.search(vectors[3], k=20)]


def test_empty_index_and_bad_input() -> None:
    index = ShardedIndex(32, "m")
    assert index.search(unit_vectors(1)[0], k=5) == []
    assert index.search(unit_vectors(1)[0], k=5, category="A") == []
    assert index.search(unit_vectors(1)[0], k=0) == []
    with pytest.raises(ValueError):
        index.upsert("a", np.ones(16, dtype=np.float32))
    with pytest.raises(ValueError):
        index.search(np.ones(16, dtype=np.float32))


def test_compact_rebuilds_shards_past_the_tombstone_ratio() -> None:
    config = IndexConfig(hnsw_m=16, ef_construction=40, compaction_ratio=0.2)
    index, vectors = catalog(config=config)
    for i in range(0, 200, 4):  # half of Apparel > Topwear
        index.delete(f"p{i}")
    assert index.shards_needing_compaction() == ["apparel"]
    assert index.compact() == ["apparel"]
    assert index.stats()["apparel"]["tombstone_ratio"] == 0.0
    assert len(index) == 350 and index.shards_needing_compaction() == []
    hits = index.search(vectors[204], k=1, category="Apparel")
    assert hits[0].sku == "p204"


def test_mutations_during_compaction_are_replayed_on_the_new_shard(monkeypatch) -> None:
    from streamrec.indexer import sharded_index

    index, vectors = catalog()
    original_build = sharded_index.HnswShard.build

    def slow_build(*args, **kwargs):
        shard = original_build(*args, **kwargs)
        index.delete("p0")  # arrives while the new graph is being built
        index.upsert("late", vectors[0], ["Apparel"])
        return shard

    monkeypatch.setattr(sharded_index.HnswShard, "build", slow_build)
    index.compact(["apparel"])
    assert "p0" not in index and "p0" not in index.shards["apparel"]
    assert index.search(vectors[0], k=1, category="Apparel")[0].sku == "late"


def test_concurrent_searches_and_upserts_do_not_crash() -> None:
    index, vectors = catalog()
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            for i in range(200):
                index.search(vectors[i % 400], k=5, category="Apparel" if i % 2 else None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for thread in threads:
        thread.start()
    fresh = unit_vectors(200, 32, seed=9)
    for i in range(200):
        index.upsert(f"p{i}", fresh[i], PATHS[(i + 1) % 4])
    for thread in threads:
        thread.join()
    assert not errors and len(index) == 400


@pytest.mark.parametrize(("field", "value"), [
    ("storage", "pq"), ("hnsw_m", 1), ("ef_search", 0), ("refine_factor", 0),
    ("compaction_ratio", 0.0), ("compaction_ratio", 1.5)])
def test_index_config_refuses_values_out_of_range(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        IndexConfig(**{field: value})


def test_vectors_for_many_skus_match_one_at_a_time_across_shards() -> None:
    rng = np.random.default_rng(5)
    index = ShardedIndex(16, "m", config=IndexConfig(hnsw_m=8, ef_construction=20))
    skus = [f"p{i}" for i in range(40)]
    index.upsert_many(skus, rng.standard_normal((40, 16)).astype(np.float32),
                      [["Tools"] if i % 2 else ["Kitchen"] for i in range(40)])
    index.delete("p3")
    asked = ["p7", "nope", "p2", "p3", "p7", "p38"]
    batched = index.vectors(asked)
    assert [v is None for v in batched] == [False, True, False, True, False, False]
    for sku, vector in zip(asked, batched, strict=True):
        if vector is not None:
            np.testing.assert_array_equal(vector, index.vector(sku))
    batched[0][0] = 99.0  # copies: the index's own storage is untouched
    assert index.vector("p7")[0] != 99.0
    assert index.vectors([]) == []
