"""The LightGBM -> cross-encoder cascade: blend, order, model file and grid search, with
stand-in scorers (the real models' own tests cover them)."""

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest

from streamrec.rerank.candidate_reorder import reorder_head
from streamrec.rerank.cascade_ranker import (
    CascadeRanker,
    cascade_order,
    scores_for_order,
    standardised,
)
from streamrec.rerank.cascade_training import (
    CascadeTuneConfig,
    ScoredQuery,
    best_row,
    grid_quality,
    score_queries,
    write_cascade,
)
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.reranker_model_file import RerankModelError, load_model_file


class TableScorer:
    """Scores each candidate by a fixed table; records how many it was asked for."""

    default_candidate_ms = 1.0

    def __init__(self, name: str, table: dict[str, float]) -> None:
        self.name, self.table, self.calls = name, table, []

    def score(self, query: RerankQuery, candidates: Sequence[RerankCandidate]) -> np.ndarray:
        self.calls.append([c.sku for c in candidates])
        return np.array([self.table[c.sku] for c in candidates])

    def prepare_titles(self, titles: Iterable[str | None]) -> int:
        self.prepared = list(titles)
        return len(self.prepared)

    def search_logs(self) -> list:
        return []

    def describe(self) -> dict:
        return {"name": self.name}


def _candidates(skus: str) -> list[RerankCandidate]:
    return [RerankCandidate(sku=s, title=s, fused_score=1.0 - i / 10, fused_rank=i)
            for i, s in enumerate(skus)]


FIRST = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0, "e": 1.0}
SECOND = {"a": -3.0, "b": 0.0, "c": 9.0, "d": 100.0, "e": 100.0}


def test_standardised_ignores_scale_and_keeps_constants_at_zero() -> None:
    np.testing.assert_allclose(standardised(np.array([1.0, 2.0, 3.0])),
                               standardised(np.array([10.0, 20.0, 30.0])))
    assert standardised(np.array([4.0, 4.0])).tolist() == [0.0, 0.0]


def test_second_model_reorders_only_the_first_models_top() -> None:
    first = np.array([FIRST[s] for s in "abcde"])
    second = np.array([SECOND[s] for s in "abc"])  # the top 3 by first score
    # weight 0: the first model's order
    assert cascade_order(first, second, 0.0).tolist() == [0, 1, 2, 3, 4]
    # a dominant second model: c, b, a on top; d and e (unread) stay below in first order
    assert cascade_order(first, second, 1000.0).tolist() == [2, 1, 0, 3, 4]
    order = np.array([3, 0, 4, 1, 2])
    assert np.argsort(-scores_for_order(order), kind="stable").tolist() == order.tolist()


def test_cascade_ranker_asks_the_expensive_model_for_its_depth_only() -> None:
    first, second = TableScorer("lightgbm", FIRST), TableScorer("cross-encoder", SECOND)
    ranker = CascadeRanker(first, second, second_depth=3, weight=1000.0)
    candidates = _candidates("edcba")  # fused order differs from either model's
    scores = ranker.score(RerankQuery("q"), candidates)
    assert sorted(second.calls[0]) == ["a", "b", "c"]  # d and e: never read by the second
    reordered = reorder_head([(c.sku, c.fused_score) for c in candidates], scores)
    assert [sku for sku, _ in reordered] == ["c", "b", "a", "d", "e"]
    # too few candidates for a blend: the first model's scores as they are
    assert ranker.score(RerankQuery("q"), _candidates("a")).tolist() == [5.0]
    # both stages see every title the index hands over, from one pass over a generator
    assert ranker.prepare_titles(t for t in ["drill", "saw"]) == 4
    assert first.prepared == second.prepared == ["drill", "saw"]
    assert len(second.calls) == 1
    assert ranker.describe()["second_depth"] == 3


def test_model_file_names_its_parts_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    rows = [{"second_depth": 10, "weight": 0.0, "ndcg_at_10": 0.40, "p_at_10": 0.1},
            {"second_depth": 10, "weight": 1.0, "ndcg_at_10": 0.45, "p_at_10": 0.2}]
    path = write_cascade(tmp_path / "models" / "cascade.json", tmp_path / "models" / "lgb.json",
                         tmp_path / "ce.json", rows[1], rows, CascadeTuneConfig(), "hash", 7)
    opened: list[Path] = []

    def load_part(part: Path) -> TableScorer:
        opened.append(part.resolve())
        return TableScorer(part.name, FIRST)

    ranker = CascadeRanker.load(path, load_part)
    assert opened == [(tmp_path / "models" / "lgb.json").resolve(),
                      (tmp_path / "ce.json").resolve()]
    assert (ranker.second_depth, ranker.weight) == (10, 1.0)
    assert ranker.model.metrics["first_alone"]["ndcg_at_10"] == 0.40
    assert load_model_file(path).payload == ""  # nothing of its own to serve
    with pytest.raises(RerankModelError, match="expected 'lightgbm'"):
        load_model_file(path, kind="lightgbm")


def test_grid_search_finds_the_blend_that_helps_and_prefers_cheap_ties() -> None:
    # relevant: "c" (3) and "d" (2); LightGBM puts them 3rd and 4th, the CE sees it
    judgments = {"q": {"c": 3.0, "d": 2.0}}
    first, second = TableScorer("lightgbm", FIRST), TableScorer("cross-encoder", SECOND)
    candidates = _candidates("abcde")
    cfg = CascadeTuneConfig(first_depth=5, second_depths=(2, 4), weights=(0.0, 1.0, 1000.0))
    scored = score_queries([("q", [(c.sku, c.fused_score) for c in candidates],
                             lambda d: candidates[:d])], first, second, cfg)
    assert isinstance(scored[0], ScoredQuery) and len(scored[0].second) == 4
    rows = grid_quality(scored, judgments, cfg)
    by = {(r["second_depth"], r["weight"]): r["ndcg_at_10"] for r in rows}
    assert by[(2, 0.0)] == by[(4, 0.0)]  # weight 0 is LightGBM alone at any depth
    assert by[(4, 1000.0)] > by[(4, 0.0)]  # the CE lifts d and c over a and b
    assert by[(2, 1000.0)] == by[(2, 0.0)]  # the top 2 (a, b) hold nothing relevant
    assert best_row(rows)["ndcg_at_10"] == max(by.values())


def test_best_row_prefers_the_shallower_then_the_lighter_on_ties() -> None:
    rows = [{"second_depth": d, "weight": w, "ndcg_at_10": n}
            for d, w, n in ((20, 1.0, 0.5), (10, 2.0, 0.5), (10, 1.0, 0.5), (5, 0.0, 0.4))]
    assert (best_row(rows)["second_depth"], best_row(rows)["weight"]) == (10, 1.0)


def test_a_cascade_naming_a_missing_part_refuses_to_load(tmp_path: Path) -> None:
    from streamrec.rerank.rerank_stage_loader import load_reranker

    row = {"second_depth": 10, "weight": 0.5, "ndcg_at_10": 0.4, "p_at_10": 0.1}
    path = write_cascade(tmp_path / "cascade.json", tmp_path / "absent-lgb.json",
                         tmp_path / "absent-ce.json", row, [row], CascadeTuneConfig(), "h", 1)
    with pytest.raises(RerankModelError, match=r"absent-lgb\.json"):
        load_reranker(path)
