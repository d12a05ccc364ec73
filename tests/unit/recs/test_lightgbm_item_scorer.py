"""Training the recs rerank model from labelled impressions; loading it as an ItemScorer."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import numpy as np
import pytest

from streamrec.recs.feature_reranker import FEATURE_NAMES, FeatureReranker
from streamrec.recs.impression_click_join import LabelledImpression
from streamrec.recs.impression_ranker_trainer import (
    impressions_hash,
    ndcg_at_10,
    train_impression_ranker,
)
from streamrec.recs.lightgbm_item_scorer import LightGbmItemScorer
from streamrec.recs.recommendation_state import (
    RecommendationRequest,
    RecommendationState,
    ScoredItem,
)
from streamrec.recs.recs_components import load_item_scorer
from streamrec.rerank.reranker_model_file import RerankModelError, RerankModelMismatchError

POPULARITY = FEATURE_NAMES.index("popularity")


def synthetic(n: int, seed: int = 3) -> list[LabelledImpression]:
    """Logged in candidate_score order, but users click the most popular item."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        features = rng.random((12, len(FEATURE_NAMES))).astype(np.float32)
        features = features[np.argsort(-features[:, 0])]
        labels = np.zeros(12, dtype=np.int32)
        labels[int(np.argmax(features[:, POPULARITY]))] = random.Random(i).choice([1, 1, 3])
        out.append(LabelledImpression(f"r{i}", f"u{i}", "default", i,
                                      [f"s{j}" for j in range(12)], features, labels))
    return out


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    impressions = synthetic(300)
    empty = LabelledImpression("none", "u", "default", 0, ["a", "b"],
                               np.zeros((2, len(FEATURE_NAMES)), np.float32), np.zeros(2, int))
    result = train_impression_ranker([*impressions, empty], max_rounds=80,
                                     params={"num_threads": 1})
    assert result.metrics["groups"] == 300 and result.metrics["positives"] == 300
    assert result.metrics["impressions_without_positive"] == 1
    assert result.metrics["train_groups"] + result.metrics["validation_groups"] == 300
    # the logged order ignores popularity; the model learns it
    assert result.metrics["validation_ndcg_at_10_model"] > 0.9
    assert result.metrics["validation_ndcg_at_10_logged"] < 0.6
    assert result.metrics["validation_ndcg_at_10_linear"] < 0.9
    return result.save(tmp_path_factory.mktemp("model") / "recs.json",
                       impressions_hash(impressions))


def test_the_model_file_names_its_features_and_figures(model_path: Path):
    raw = json.loads(model_path.read_text())
    assert raw["kind"] == "lightgbm-recs" and raw["features"] == list(FEATURE_NAMES)
    assert raw["feature_set"] == "streamrec.recs.features/1"
    assert {"rows", "groups", "positives", "validation_ndcg_at_10_model",
            "validation_ndcg_at_10_logged"} <= set(raw["metrics"])


def test_the_loaded_scorer_ranks_inside_the_rerank_stage(model_path: Path):
    scorer = load_item_scorer(model_path)
    assert isinstance(scorer, LightGbmItemScorer)
    state = RecommendationState(RecommendationRequest("u"), now_ms=1)
    state.popularity = {"hit": 100.0, "miss": 1.0}
    state.items = [ScoredItem("miss", 1.0, ("embedding/interest-ann",)),
                   ScoredItem("hit", 0.5, ("embedding/interest-ann",))]
    asyncio.run(FeatureReranker(scorer).run(state))
    assert [item.sku for item in state.items] == ["hit", "miss"]
    assert scorer.score(np.zeros((0, len(FEATURE_NAMES)), np.float32)).shape == (0,)
    assert load_item_scorer(None) is None


def test_a_model_trained_on_other_features_is_refused_by_name(model_path: Path,
                                                              tmp_path: Path):
    raw = json.loads(model_path.read_text())
    raw["features"] = [*raw["features"][:-1], "dwell_time"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(raw))
    with pytest.raises(RerankModelMismatchError, match=r"dwell_time.*context_similarity|"
                                                       r"context_similarity.*dwell_time"):
        LightGbmItemScorer.load(other)
    raw = json.loads(model_path.read_text())
    raw["feature_set"] = "streamrec.recs.features/0"
    other.write_text(json.dumps(raw))
    with pytest.raises(RerankModelMismatchError, match="retrain"):
        LightGbmItemScorer.load(other)


def test_wrong_kind_and_missing_file_fail_clearly(model_path: Path, tmp_path: Path):
    raw = json.loads(model_path.read_text())
    raw["kind"] = "lightgbm"
    search = tmp_path / "search.json"
    search.write_text(json.dumps(raw))
    with pytest.raises(RerankModelError, match="expected 'lightgbm-recs'"):
        LightGbmItemScorer.load(search)
    with pytest.raises(RerankModelError, match="STREAMREC_RECS_RERANK_MODEL_PATH"):
        LightGbmItemScorer.load(tmp_path / "absent.json")


def test_no_positive_impression_is_an_error():
    impressions = synthetic(3)
    for imp in impressions:
        imp.labels[:] = 0
    with pytest.raises(ValueError, match="nothing to learn from"):
        train_impression_ranker(impressions)


def test_ndcg_at_10():
    labels = np.array([0, 1, 0])
    assert ndcg_at_10(labels, np.array([1, 0, 2])) == 1.0
    assert ndcg_at_10(labels, np.array([0, 1, 2])) == pytest.approx(1 / np.log2(3))
    assert ndcg_at_10(np.zeros(3, int), np.arange(3)) == 0.0
