import math

import pytest

from streamrec.evaluation.ranking_metrics import (
    dcg_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)


def test_ndcg_is_one_for_the_ideal_order():
    gains = {"a": 3.0, "b": 2.0, "c": 1.0}
    assert ndcg_at_k(["a", "b", "c"], gains, 10) == pytest.approx(1.0)


def test_ndcg_matches_a_hand_computed_value():
    gains = {"a": 3.0, "b": 1.0}
    ranked = ["x", "b", "a"]  # x unjudged -> gain 0
    dcg = 1.0 / math.log2(3) + 3.0 / math.log2(4)
    ideal = 3.0 / math.log2(2) + 1.0 / math.log2(3)
    assert ndcg_at_k(ranked, gains, 10) == pytest.approx(dcg / ideal)
    assert dcg_at_k(ranked, gains, 10) == pytest.approx(dcg)


def test_ndcg_cuts_at_k_on_both_sides():
    gains = {"a": 1.0, "b": 1.0, "c": 3.0}
    # only "a" is in the top 1; the ideal top 1 is "c" (gain 3)
    assert ndcg_at_k(["a", "c"], gains, 1) == pytest.approx(1.0 / 3.0)


def test_ndcg_of_empty_results_and_of_no_positive_gain_is_zero():
    assert ndcg_at_k([], {"a": 2.0}, 10) == 0.0
    assert ndcg_at_k(["a"], {}, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0.0}, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 1.0}, 0) == 0.0


def test_duplicates_count_once():
    gains = {"a": 3.0, "b": 3.0}
    assert ndcg_at_k(["a", "a", "b"], gains, 2) == pytest.approx(1.0)
    assert precision_at_k(["a", "a"], {"a"}, 2) == pytest.approx(0.5)
    assert recall_at_k(["a", "a", "a"], {"a", "b"}, 3) == pytest.approx(0.5)


def test_precision_divides_by_k_even_for_short_lists():
    assert precision_at_k(["a", "x"], {"a", "b"}, 10) == pytest.approx(0.1)
    assert precision_at_k(["a", "b"], {"a", "b"}, 2) == pytest.approx(1.0)
    assert precision_at_k([], {"a"}, 10) == 0.0
    assert precision_at_k(["a"], {"a"}, 0) == 0.0


def test_recall_at_k():
    relevant = {"a", "b", "c", "d"}
    assert recall_at_k(["a", "x", "b"], relevant, 100) == pytest.approx(0.5)
    assert recall_at_k(["x", "a"], relevant, 1) == 0.0
    assert recall_at_k(["a"], set(), 100) == 0.0
