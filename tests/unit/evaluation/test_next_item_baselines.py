import math

import pytest

from streamrec.evaluation.next_item_baselines import (
    NextItemScores,
    hit_at_k,
    ndcg_single_at_k,
    popularity_baseline,
    reciprocal_rank_at_k,
    target_rank,
    transition_baseline,
)

SEQUENCES = [
    ["a", "b", "c"],
    ["a", "b", "d"],
    ["x", "c", "e"],
    ["d", "a", "c"],
    ["e"],
]


def test_popularity_ranks_by_count_then_id_and_skips_history():
    pop = popularity_baseline(SEQUENCES)
    assert pop.counts["a"] == 3 and pop.counts["c"] == 3 and pop.counts["x"] == 1
    assert pop.ranked[:2] == ("a", "c")  # tie on 3: by id
    assert pop.recommend(["a"], 2) == ["c", "b"]  # b, d, e have 2 each: by id
    assert pop.recommend(["a"], 2, exclude_history=False) == ["a", "c"]


def test_transitions_follow_the_last_item_then_back_off_then_popularity():
    model = transition_baseline(SEQUENCES)
    assert model.counts["a"] == {"b": 2, "c": 1}
    # after "b": c and d once each; c is more popular -> first
    assert model.following["b"] == ("c", "d")
    # history [x, b]: followers of b (c, d), then of x (c: taken), then popularity
    assert model.recommend(["x", "b"], 4) == ["c", "d", "a", "e"]
    # history items never come back when excluded
    assert "b" not in model.recommend(["a", "b"], 10)


def test_transitions_keep_repeats_when_history_is_allowed():
    model = transition_baseline([["a", "a", "b"], ["a", "a"]])
    assert model.recommend(["a"], 2, exclude_history=False) == ["a", "b"]
    assert model.recommend(["a"], 2) == ["b"]  # nothing else is known


def test_max_back_limits_the_anchors():
    model = transition_baseline(SEQUENCES, max_back=1)
    # only "e" (no followers) is an anchor: straight to popularity
    assert model.recommend(["a", "e"], 2) == ["c", "b"]


def test_unknown_history_falls_back_to_popularity():
    model = transition_baseline(SEQUENCES)
    assert model.recommend(["zzz"], 3) == list(popularity_baseline(SEQUENCES).ranked[:3])


def test_single_target_metrics():
    ranked = ["p", "q", "t", "q"]
    assert target_rank(ranked, "t", 10) == 2
    assert target_rank(ranked, "t", 2) is None
    assert hit_at_k(ranked, "t", 3) == 1.0 and hit_at_k(ranked, "t", 2) == 0.0
    assert ndcg_single_at_k(ranked, "t", 3) == pytest.approx(1 / math.log2(4))
    assert reciprocal_rank_at_k(ranked, "t", 3) == pytest.approx(1 / 3)
    assert ndcg_single_at_k(ranked, "zz", 3) == 0.0


def test_scores_accumulate_and_report_coverage():
    scores = NextItemScores(k=2)
    assert scores.add(["t", "u"], "t") is True
    assert scores.add(["u", "t"], "t") is True
    assert scores.add(["u", "v", "t"], "t") is False  # rank 2 is past k
    summary = scores.summary(catalog_size=10)
    assert summary["hr@2"] == pytest.approx(round(2 / 3, 4))
    assert summary["mrr@2"] == pytest.approx(round((1 + 0.5) / 3, 4))
    assert summary["ndcg@2"] == pytest.approx(round((1 + 1 / math.log2(3)) / 3, 4))
    assert summary["coverage"] == pytest.approx(0.3)  # t, u, v
    assert summary["queries"] == 3
