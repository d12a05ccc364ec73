import pytest

from streamrec.serving.rank_fusion import (
    RankFusion,
    RankFusionConfig,
    convex_combination,
    min_max_normalise,
    rrf,
)


def test_rrf_scores_are_sums_of_reciprocal_ranks():
    fused = dict(rrf([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)
    assert [item for item, _ in rrf([["a", "b", "c"], ["b", "d"]])] == ["b", "a", "d", "c"]


def test_rrf_weights_and_limit():
    fused = rrf([["a"], ["b"]], k=0, weights=[1.0, 3.0])
    assert fused == [("b", 3.0), ("a", 1.0)]
    assert rrf([["a", "b", "c"]], limit=2) == rrf([["a", "b"]])


def test_rrf_ties_keep_first_seen_order_and_duplicates_count_once():
    assert [item for item, _ in rrf([["a"], ["b"]])] == ["a", "b"]
    assert dict(rrf([["a", "a", "b"]], k=0)) == {"a": 1.0, "b": 0.5}


def test_rrf_edge_cases():
    assert rrf([]) == []
    assert rrf([[], []]) == []
    with pytest.raises(ValueError):
        rrf([["a"]], weights=[1.0, 2.0])
    with pytest.raises(ValueError):
        rrf([["a"]], weights=[-1.0])
    with pytest.raises(ValueError):
        rrf([["a"]], k=-1)


def test_min_max_normalise():
    assert min_max_normalise([("a", 10.0), ("b", 5.0), ("c", 0.0)]) == {
        "a": 1.0,
        "b": 0.5,
        "c": 0.0,
    }
    assert min_max_normalise([("a", 3.0), ("b", 3.0)]) == {"a": 1.0, "b": 1.0}
    assert min_max_normalise([]) == {}


def test_convex_combination_uses_normalised_scores_and_missing_is_zero():
    lexical = [("a", 20.0), ("b", 10.0), ("c", 0.0)]
    vector = [("c", 0.9), ("b", 0.8), ("d", 0.5)]
    fused = dict(convex_combination([lexical, vector], weights=[0.5, 0.5]))
    assert fused["a"] == pytest.approx(0.5)
    assert fused["b"] == pytest.approx(0.5 * 0.5 + 0.5 * 0.75)
    assert fused["c"] == pytest.approx(0.5)
    assert fused["d"] == pytest.approx(0.0)
    # weights are rescaled to sum to one
    assert convex_combination([lexical, vector], weights=[1, 1]) == convex_combination(
        [lexical, vector]
    )
    ranked = [item for item, _ in convex_combination([lexical, vector], weights=[0.2, 0.8])]
    assert ranked[0] == "c"


def test_convex_combination_edge_cases():
    assert convex_combination([[], []]) == []
    with pytest.raises(ValueError):
        convex_combination([[("a", 1.0)]], weights=[0.0])
    assert convex_combination([[("a", 1.0), ("b", 0.0)]], limit=1) == [("a", 1.0)]


def test_rank_fusion_dispatches_on_the_configured_method():
    lists = [[("a", 9.0), ("b", 1.0)], [("b", 0.9), ("c", 0.8)]]
    default = RankFusion()
    assert default.config.method == "convex" and default.config.weights == (0.8, 0.2)
    assert default.fuse(lists) == convex_combination(lists, [0.8, 0.2])
    as_rrf = RankFusion(RankFusionConfig(method="rrf", rrf_k=10, weights=None))
    assert as_rrf.fuse(lists) == rrf([["a", "b"], ["b", "c"]], k=10)
    convex = RankFusion(RankFusionConfig(method="convex", weights=(0.5, 0.5)))
    assert convex.fuse(lists, limit=2) == convex_combination(lists, [0.5, 0.5], limit=2)
    with pytest.raises(ValueError):
        RankFusion(RankFusionConfig(method="median")).fuse(lists)  # type: ignore[arg-type]
