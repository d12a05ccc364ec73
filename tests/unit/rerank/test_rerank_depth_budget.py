import pytest

from streamrec.rerank.rerank_depth_budget import RerankBudgetConfig, RerankDepthBudget


def _budget(budget_ms: float = 5.0, candidate_ms: float = 0.05, **kw) -> RerankDepthBudget:
    config = RerankBudgetConfig(budget_ms=budget_ms, overhead_ms=0.5, **kw)
    return RerankDepthBudget(config, candidate_ms)


def test_depth_is_what_the_budget_affords_within_bounds() -> None:
    # (5.0 - 0.5) / 0.05 = 90 candidates
    assert _budget().depth(200) == 90
    assert _budget().depth(40) == 40  # never more than there are
    assert _budget(budget_ms=50).depth(500) == 100  # max_depth
    assert _budget(budget_ms=0.6).depth(500) == 20  # min_depth floor
    assert _budget(budget_ms=0.6).depth(7) == 7
    assert _budget().depth(0) == 0


def test_measurements_move_the_depth() -> None:
    budget = _budget(smoothing=0.5)
    budget.observe(90, 0.5 + 90 * 0.15)  # three times slower than assumed
    assert budget.candidate_ms == pytest.approx(0.1)
    assert budget.depth(200) == 45
    for _ in range(20):
        budget.observe(45, 0.5 + 45 * 0.01)  # the machine got quiet again
    assert budget.depth(200) == 100


def test_bad_configs_and_measurements() -> None:
    with pytest.raises(ValueError):
        RerankDepthBudget(RerankBudgetConfig(min_depth=50, max_depth=10), 0.1)
    with pytest.raises(ValueError):
        RerankDepthBudget(RerankBudgetConfig(), 0.0)
    budget = _budget()
    budget.observe(0, 3.0)
    budget.observe(10, float("nan"))
    budget.observe(10, 0.0)  # faster than the overhead: clamped, not zero or negative
    assert budget.candidate_ms > 0
