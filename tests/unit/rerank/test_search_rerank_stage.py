from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY

from streamrec.rerank.candidate_reorder import reorder_head
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.rerank_depth_budget import RerankBudgetConfig, RerankDepthBudget
from streamrec.rerank.rerank_stage_loader import load_rerank_stage
from streamrec.rerank.reranker_model_file import RerankerModelFile, RerankModelError
from streamrec.rerank.search_rerank_stage import SearchRerankStage

FUSED = [(f"s{i}", 1.0 - i / 100) for i in range(30)]


class TitleLengthReranker:
    """Prefers longer titles: easy to predict, no model file needed."""

    name = "title-length"
    default_candidate_ms = 0.01

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[int] = []

    def score(self, query: RerankQuery, candidates: Sequence[RerankCandidate]) -> np.ndarray:
        if self.fail:
            raise RuntimeError("model exploded")
        self.seen.append(len(candidates))
        return np.array([len(c.title) for c in candidates], dtype=float)

    def prepare_titles(self, titles: Iterable[str | None]) -> int:
        self.prepared = [t for t in titles if t]
        return len(self.prepared)

    def search_logs(self) -> list:
        return []

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


def _build(depth: int) -> list[RerankCandidate]:
    return [RerankCandidate(sku, "x" * int(sku[1:]), score, i)
            for i, (sku, score) in enumerate(FUSED[:depth])]


def _stage(reranker, budget_ms: float = 5.0, min_depth: int = 5, max_depth: int = 10):
    config = RerankBudgetConfig(budget_ms=budget_ms, min_depth=min_depth, max_depth=max_depth)
    return SearchRerankStage(reranker, RerankDepthBudget(config, reranker.default_candidate_ms))


def test_reorders_the_head_and_keeps_the_tail() -> None:
    reranker = TitleLengthReranker()
    items, report = _stage(reranker).rerank(RerankQuery("q"), FUSED, _build)
    assert report.applied and report.depth == 10 and report.reranker == "title-length"
    assert [s for s, _ in items[:10]] == [f"s{i}" for i in range(9, -1, -1)]
    assert items[10:] == FUSED[10:]
    assert dict(items) == dict(FUSED)  # scores travel with their items
    assert reranker.seen == [10]


def test_without_a_model_the_fused_order_serves_and_says_why() -> None:
    stage = SearchRerankStage(None, None, "no reranker model configured")
    items, report = stage.rerank(RerankQuery("q"), FUSED, _build)
    assert items == FUSED and not report.applied
    assert report.as_dict() == {"applied": False, "reranker": None, "depth": 0,
                                "reason": "no reranker model configured"}


def test_a_failing_model_never_breaks_the_page() -> None:
    items, report = _stage(TitleLengthReranker(fail=True)).rerank(RerankQuery("q"), FUSED,
                                                                  _build)
    assert items == FUSED and not report.applied and report.reason == "error: RuntimeError"


def test_one_candidate_is_not_reranked() -> None:
    items, report = _stage(TitleLengthReranker()).rerank(RerankQuery("q"), FUSED[:1], _build)
    assert items == FUSED[:1] and not report.applied


def test_reorder_head_is_stable() -> None:
    assert reorder_head([("a", 3), ("b", 2), ("c", 1)], np.array([0.0, 0.0])) == \
        [("a", 3), ("b", 2), ("c", 1)]


def test_loader_skips_when_absent_and_fails_on_a_bad_file(tmp_path: Path) -> None:
    budget = RerankBudgetConfig()
    assert not load_rerank_stage(None, budget).enabled
    stage = load_rerank_stage(tmp_path / "missing.json", budget)
    assert not stage.enabled and "not found" in stage.skipped().reason
    path = RerankerModelFile(kind="mystery", feature_set="f", features=[], trained_at="t",
                             data_hash="h", payload="").save(tmp_path / "m.json")
    with pytest.raises(RerankModelError, match="unknown reranker kind"):
        load_rerank_stage(path, budget)


def test_titles_are_prepared_by_the_reranker_and_counted() -> None:
    reranker = TitleLengthReranker()
    before = REGISTRY.get_sample_value("streamrec_search_rerank_titles_prepared_total") or 0.0
    assert _stage(reranker).prepare_titles(["drill", None, "saw"]) == 2
    assert reranker.prepared == ["drill", "saw"]
    assert REGISTRY.get_sample_value("streamrec_search_rerank_titles_prepared_total") == \
        before + 2
    assert SearchRerankStage(None, None).prepare_titles(["drill"]) == 0
