from __future__ import annotations

import numpy as np
import pytest

from streamrec.indexer import hnsw_shard
from streamrec.indexer.hnsw_shard import HnswShard
from streamrec.indexer.index_config import IndexConfig


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# exact_*_below=0: every search goes through the HNSW graph and its selector
GRAPH_ONLY = IndexConfig(hnsw_m=16, ef_construction=40, exact_search_below=0, exact_batch_below=0)


def filled(vectors: np.ndarray, config: IndexConfig = GRAPH_ONLY) -> HnswShard:
    shard = HnswShard(vectors.shape[1], config, "s")
    shard.upsert_many([f"s{i}" for i in range(len(vectors))], vectors)
    return shard


def top_skus(shard: HnswShard, query: np.ndarray, k: int = 5, **kwargs) -> list[str]:
    return [n.sku for n in shard.search(query[None, :], k, **kwargs)[0]]


@pytest.fixture
def vectors() -> np.ndarray:
    return unit_vectors(300, 32)


def test_empty_shard_returns_no_neighbours() -> None:
    shard = HnswShard(32, GRAPH_ONLY)
    assert shard.search(unit_vectors(2), 5) == [[], []]
    assert shard.tombstone_ratio == 0.0 and len(shard) == 0 and not shard.needs_rebuild


def test_search_finds_each_vector_first(vectors: np.ndarray) -> None:
    shard = filled(vectors)
    found = shard.search(vectors[:20], 3, ef_search=64)
    assert [hits[0].sku for hits in found] == [f"s{i}" for i in range(20)]
    assert found[0][0].score == pytest.approx(1.0, abs=1e-5)
    assert found[0][0].score >= found[0][1].score >= found[0][2].score


def test_k_beyond_the_live_count_drops_faiss_minus_one_padding() -> None:
    vectors = unit_vectors(5)
    shard = filled(vectors)
    hits = shard.search(vectors[:1], 50)[0]
    assert sorted(h.sku for h in hits) == [f"s{i}" for i in range(5)]
    shard.delete("s1")
    shard.delete("s2")
    hits = shard.search(vectors[:1], 50)[0]  # selector path: FAISS pads with -1
    assert sorted(h.sku for h in hits) == ["s0", "s3", "s4"]


def test_update_gives_a_new_internal_id_and_tombstones_the_old(vectors: np.ndarray) -> None:
    shard = filled(vectors)
    moved = -vectors[0]
    assert shard.upsert_many(["s0"], moved[None, :]) == 1
    assert len(shard) == len(vectors) and shard.total == len(vectors) + 1
    assert shard.tombstone_ratio == pytest.approx(1 / (len(vectors) + 1))
    assert "s0" not in top_skus(shard, vectors[0], k=10)  # the old vector is gone
    assert top_skus(shard, moved, k=1) == ["s0"]
    np.testing.assert_allclose(shard.vector("s0"), moved, atol=1e-6)


def test_unchanged_vector_is_not_re_added_but_its_category_is_updated(
    vectors: np.ndarray,
) -> None:
    shard = filled(vectors)
    assert shard.upsert_many(["s0"], vectors[:1], [["Toys"]]) == 0
    assert shard.total == len(vectors)
    assert shard.category_path("s0") == ("Toys",)


def test_last_occurrence_of_a_sku_in_a_batch_wins() -> None:
    vectors = unit_vectors(2)
    shard = HnswShard(32, GRAPH_ONLY)
    shard.upsert_many(["a", "a"], vectors)
    assert len(shard) == 1 and shard.total == 1
    np.testing.assert_allclose(shard.vector("a"), vectors[1], atol=1e-6)


def test_delete_tombstones_and_search_never_returns_it(vectors: np.ndarray) -> None:
    shard = filled(vectors)
    assert shard.delete("s7") is True
    assert shard.delete("s7") is False and shard.delete("never") is False
    assert "s7" not in shard and shard.vector("s7") is None
    assert "s7" not in top_skus(shard, vectors[7], k=20)
    assert shard.tombstone_ratio == pytest.approx(1 / len(vectors))


def test_allowed_mask_restricts_results_through_the_graph(vectors: np.ndarray) -> None:
    shard = filled(vectors)
    allowed = np.zeros(shard.total, dtype=bool)
    allowed[::3] = True
    hits = shard.search(vectors[1:2], 10, ef_search=200, allowed=allowed)[0]
    assert len(hits) == 10
    assert all(int(h.sku[1:]) % 3 == 0 for h in hits)


def test_small_filters_use_exact_search_and_match_brute_force(vectors: np.ndarray) -> None:
    shard = filled(vectors, IndexConfig(exact_search_below=1000))
    allowed = np.zeros(shard.total, dtype=bool)
    allowed[10:40] = True
    shard.delete("s11")
    hits = shard.search(vectors[:1], 5, allowed=allowed)[0]
    scores = vectors[10:40] @ vectors[0]
    scores[1] = -np.inf  # s11 is deleted
    expected = [f"s{10 + i}" for i in np.argsort(-scores)[:5]]
    assert [h.sku for h in hits] == expected
    assert len(shard.search(vectors[:1], 100, allowed=allowed)[0]) == 29


def test_category_mask_is_an_exact_prefix_match() -> None:
    vectors = unit_vectors(4)
    shard = HnswShard(32, GRAPH_ONLY)
    paths = [["A", "B"], ["A", "BC"], ["A"], ["X", "B"]]
    shard.upsert_many(["ab", "abc", "a", "xb"], vectors, paths)
    mask = shard.category_mask(["A", "B"])
    assert mask is not None and mask.tolist() == [True, False, False, False]
    assert shard.category_mask([]) is None
    assert shard.count_allowed(shard.category_mask(["A"])) == 3
    assert shard.count_allowed(shard.category_mask(["Nope"])) == 0


def test_rebuild_compacts_live_vectors_and_keeps_results(vectors: np.ndarray) -> None:
    shard = filled(vectors, IndexConfig(hnsw_m=16, compaction_ratio=0.1))
    for i in range(0, 60, 2):
        shard.delete(f"s{i}")
    shard.upsert_many(["s1"], -vectors[1][None, :], [["Moved"]])
    assert shard.needs_rebuild
    before = [[n.sku for n in hits] for hits in shard.search(vectors[100:110], 5, ef_search=300)]
    shard.rebuild()
    assert shard.total == len(shard) == len(vectors) - 30
    assert shard.tombstone_ratio == 0.0 and not shard.needs_rebuild
    after = shard.search(vectors[100:110], 5, ef_search=300)
    assert [[n.sku for n in hits] for hits in after] == before
    assert shard.category_path("s1") == ("Moved",)
    assert "s0" not in shard


@pytest.mark.parametrize("storage", ["fp16", "sq8"])
def test_quantised_storage_finds_neighbours_and_rebuilds(storage: str) -> None:
    vectors = unit_vectors(400, 32, seed=3)
    config = IndexConfig(storage=storage, sq_min_train=300, exact_search_below=0)
    shard = HnswShard(32, config)
    shard.upsert_many([f"s{i}" for i in range(100)], vectors[:100])  # sq8: too few to train
    shard.upsert_many([f"s{i}" for i in range(100, 400)], vectors[100:])
    if storage == "sq8":  # the raw copy: exact
        np.testing.assert_array_equal(shard.vector("s5"), vectors[5])
    else:  # decoded from float16
        np.testing.assert_array_equal(shard.vector("s5"), vectors[5].astype(np.float16))
    assert shard.needs_rebuild == (storage == "sq8")  # ranges still [-1, 1]
    shard.rebuild()
    assert not shard.needs_rebuild and shard.total == 400
    assert shard.upsert_many(["s7"], vectors[7:8]) == 0  # unchanged after the round trip
    firsts = [hits[0].sku for hits in shard.search(vectors[:50], 1, ef_search=64)]
    assert sum(s == f"s{i}" for i, s in enumerate(firsts)) >= 48
    if storage == "sq8":  # refined: exact scores
        hit = shard.search(vectors[:1], 1)[0][0]
        assert hit.score == pytest.approx(1.0, abs=1e-5)


def test_wrong_dimension_is_rejected() -> None:
    shard = HnswShard(32, GRAPH_ONLY)
    with pytest.raises(ValueError):
        shard.upsert_many(["a"], unit_vectors(1, 16))
    with pytest.raises(ValueError):
        shard.search(unit_vectors(1, 16), 3)


def test_save_and_load_round_trip(tmp_path, vectors: np.ndarray) -> None:
    shard = filled(vectors, IndexConfig(storage="sq8", sq_min_train=10, exact_search_below=0))
    shard.delete("s3")
    shard.save(tmp_path, "x")
    loaded = HnswShard.load(tmp_path, "x", IndexConfig(exact_search_below=0))
    assert loaded.config.storage == "sq8" and len(loaded) == len(shard)
    assert loaded.search(vectors[:20], 5) == shard.search(vectors[:20], 5)
    loaded.upsert_many(["new"], vectors[3:4])
    assert top_skus(loaded, vectors[3], k=1) == ["new"]


def test_zero_or_nan_vectors_are_rejected() -> None:
    shard = HnswShard(32, GRAPH_ONLY)
    with pytest.raises(ValueError):
        shard.upsert_many(["a"], np.zeros((1, 32), dtype=np.float32))
    with pytest.raises(ValueError):
        shard.upsert_many(["a"], np.full((1, 32), np.nan, dtype=np.float32))
    assert len(shard) == 0


def test_replaying_an_unchanged_vector_adds_nothing(vectors: np.ndarray) -> None:
    shard = filled(vectors)
    shard.rebuild()
    assert shard.upsert_many([f"s{i}" for i in range(len(vectors))], vectors) == 0
    assert shard.total == len(vectors)


@pytest.mark.parametrize("storage", ["flat", "fp16", "sq8"])
def test_query_batches_on_a_small_shard_are_exact_and_skip_tombstones_and_filters(
        vectors: np.ndarray, storage: str) -> None:
    shard = filled(vectors, IndexConfig(storage=storage, exact_search_below=0,
                                        exact_batch_below=10_000, exact_batch_min=4))
    shard.delete("s3")
    shard.upsert("s5", vectors[6])  # a new internal id; the old row is a tombstone
    allowed = np.zeros(shard.total, dtype=bool)
    allowed[:60] = True
    queries = vectors[:8]
    current = vectors.copy()
    current[5] = vectors[6]
    for mask, candidates in ((None, [i for i in range(len(vectors)) if i != 3]),
                             (allowed, [i for i in range(60) if i not in (3, 5)])):
        found = shard.search(queries, 7, allowed=mask)
        for query, hits in zip(queries, found, strict=True):
            scores = current[candidates] @ query
            expected = [f"s{candidates[i]}" for i in np.argsort(-scores, kind="stable")[:7]]
            atol = {"flat": 1e-6, "fp16": 1e-3, "sq8": 1e-2}[storage]  # what storage rounds
            assert np.allclose([h.score for h in hits], np.sort(scores)[::-1][:7], atol=atol)
            if storage == "flat":
                assert [h.sku for h in hits] == expected
    # k beyond what the filter allows: every allowed live row, no padding
    assert len(shard.search(queries, 500, allowed=allowed)[0]) == 58


def test_exact_batches_give_the_same_answer_in_memory_bounded_chunks(
        vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    shard = filled(vectors, IndexConfig(exact_search_below=0, exact_batch_min=4))
    whole = shard.search(vectors[:9], 5)
    monkeypatch.setattr(hnsw_shard, "EXACT_BATCH_SCORES", 2 * shard.total)  # 2 rows a chunk
    chunked = shard.search(vectors[:9], 5)
    assert [[h.sku for h in hits] for hits in chunked] == [[h.sku for h in hits] for hits in whole]
    assert np.allclose([h.score for hits in chunked for h in hits],  # BLAS rounds per shape
                       [h.score for hits in whole for h in hits], atol=1e-6)


def test_small_shards_insert_with_the_cheaper_ef_construction(vectors: np.ndarray) -> None:
    config = IndexConfig(hnsw_m=16, ef_construction=200, small_shard_ef_construction=50,
                         small_shard_below=100)
    shard = HnswShard(vectors.shape[1], config)
    shard.upsert_many([f"s{i}" for i in range(60)], vectors[:60])
    assert shard._index.hnsw.efConstruction == 50
    shard.upsert_many([f"s{i}" for i in range(60, 110)], vectors[60:110])  # passes 100
    assert shard._index.hnsw.efConstruction == 200
    assert IndexConfig(ef_construction=40).ef_construction_at(10) == 40  # never above it
    assert [h.sku for h in shard.search(vectors[70:71], 1)[0]] == ["s70"]


def test_a_shard_grown_big_on_a_cheap_graph_is_rebuilt_once(tmp_path, vectors: np.ndarray
                                                              ) -> None:
    config = IndexConfig(hnsw_m=16, ef_construction=200, small_shard_ef_construction=50,
                         small_shard_below=100, exact_search_below=0)
    shard = HnswShard(vectors.shape[1], config, "big")
    shard.upsert_many([f"s{i}" for i in range(60)], vectors[:60])
    assert not shard.needs_rebuild  # small: the cheap graph is the point
    shard.upsert_many([f"s{i}" for i in range(60, 150)], vectors[60:150])
    assert shard.needs_rebuild  # big now, its first 60 nodes linked at efConstruction 50
    shard.save(tmp_path, "big")
    assert HnswShard.load(tmp_path, "big", config).needs_rebuild  # remembered by snapshots
    shard.rebuild()
    assert not shard.needs_rebuild  # every node linked at 200: once is enough
    assert shard._index.hnsw.efConstruction == 200
    assert [h.sku for h in shard.search(vectors[70:71], 1)[0]] == ["s70"]
