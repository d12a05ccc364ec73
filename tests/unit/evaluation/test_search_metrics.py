import pytest

from streamrec.evaluation.search_metrics import (
    judged_only_quality,
    judged_only_ranking,
    pcts,
    score_rankings,
)

JUDGMENTS = {
    "drill": {"a": 3.0, "b": 1.0},
    "saw": {"c": 2.67, "d": 2.0},
}


def test_score_rankings_averages_over_every_judged_query():
    rankings = {"drill": ["a", "x", "b"], "saw": []}
    quality = score_rankings(rankings, JUDGMENTS)
    assert quality.per_query_ndcg["drill"] == pytest.approx(
        (3.0 + 1.0 / 2.0) / (3.0 + 1.0 / 1.5849625007211563))
    assert quality.per_query_ndcg["saw"] == 0.0
    assert quality.ndcg_at_10 == pytest.approx(quality.per_query_ndcg["drill"] / 2)
    assert quality.p_at_10 == pytest.approx((1 / 10 + 0) / 2)  # only a and c are >= 2.5
    assert quality.recall_at_100 == pytest.approx((1.0 + 0.0) / 2)
    assert quality.zero_result_rate == pytest.approx(0.5)


def test_a_query_missing_from_the_rankings_counts_as_zero_results():
    quality = score_rankings({}, {"drill": {"a": 3.0}})
    assert quality.summary() == {"ndcg_at_10": 0.0, "p_at_10": 0.0, "recall_at_100": 0.0,
                                 "zero_result_rate": 1.0}


def test_judged_only_ranking_keeps_the_system_order_then_the_missing_in_sku_order():
    gains = {"b": 1.0, "a": 3.0, "z": 2.0, "c": 1.0}
    assert judged_only_ranking(["x", "z", "y", "b", "z"], gains) == ["z", "b", "a", "c"]


def test_judged_only_quality_ignores_unjudged_products_between_judged_ones():
    # the live answer buries the judged products under unjudged ones: the full-list
    # NDCG suffers, the rerank-only NDCG sees the ideal order
    judgments = {"drill": {"a": 3.0, "b": 1.0}}
    rankings = {"drill": [*(f"x{i}" for i in range(20)), "a", "b"]}
    assert score_rankings(rankings, judgments).ndcg_at_10 == 0.0
    judged = judged_only_quality(rankings, judgments)
    assert judged.ndcg_at_10 == pytest.approx(1.0)
    assert judged.p_at_10 == pytest.approx(0.5)  # one relevant of two judged
    assert judged.retrieved_share == pytest.approx(1.0)


def test_judged_only_quality_reports_how_many_judged_products_were_retrieved():
    judged = judged_only_quality({"drill": ["b"]}, {"drill": {"a": 3.0, "b": 1.0}})
    assert judged.retrieved_share == pytest.approx(0.5)
    assert judged.ndcg_at_10 < 1.0


def test_pcts_uses_nearest_rank():
    values = list(range(1, 101))
    assert pcts(values) == {"p50": 50, "p95": 95, "p99": 99, "n": 100}
    assert pcts([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0, "n": 0}
