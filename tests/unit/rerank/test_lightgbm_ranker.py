"""Training on a tiny synthetic judgment set; model files refuse other feature lists."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from streamrec.rerank.feature_schema import FEATURE_NAMES, FEATURE_SET
from streamrec.rerank.lightgbm_ranker import LightGbmRanker
from streamrec.rerank.lightgbm_ranker_trainer import train_lightgbm
from streamrec.rerank.offline_hybrid_retrieval import RetrievedLists
from streamrec.rerank.pair_feature_extractor import PairFeatureExtractor
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.rerank_quality import group_rankings, mean_quality
from streamrec.rerank.reranker_model_file import (
    RerankerModelFile,
    RerankModelError,
    RerankModelMismatchError,
)
from streamrec.rerank.reranker_training_set import QueryGroup, relevance_label

COLOURS = ["red", "blue", "green", "black", "white", "grey", "yellow", "brown"]
NOUNS = ["drill", "hammer", "ladder", "faucet", "hinge", "shovel", "bucket", "saw"]
PARAMS = {"min_data_in_leaf": 5, "num_threads": 1, "learning_rate": 0.2}


def _group(query: str, colour: str, noun: str, split: str, rng: random.Random,
           extractor: PairFeatureExtractor) -> QueryGroup:
    other_c = rng.choice([c for c in COLOURS if c != colour])
    other_n = rng.choice([n for n in NOUNS if n != noun])
    titles = {f"{query}-rel": f"Acme {colour.title()} {noun.title()} Pro",
              f"{query}-c": f"Acme {colour.title()} {other_n.title()}",
              f"{query}-n": f"Acme {other_c.title()} {noun.title()}",
              f"{query}-x": f"Acme {other_c.title()} {other_n.title()}"}
    skus = list(titles)
    rng.shuffle(skus)  # retrieval puts the relevant one anywhere
    fused = [(sku, 1.0 - 0.1 * i) for i, sku in enumerate(skus)]
    candidates = [RerankCandidate(sku, titles[sku], score, i)
                  for i, (sku, score) in enumerate(fused)]
    labels = np.array([relevance_label(3.0 if sku.endswith("-rel") else None) for sku in skus])
    return QueryGroup(query, split, RetrievedLists(fused, [], fused), candidates,  # type: ignore[arg-type]
                      extractor.extract(RerankQuery(query), candidates), labels)


@pytest.fixture(scope="module")
def trained() -> tuple[object, list[QueryGroup]]:
    rng = random.Random(5)
    extractor = PairFeatureExtractor()
    groups = []
    for i, (colour, noun) in enumerate((c, n) for c in COLOURS for n in NOUNS):
        split = "test" if i % 5 == 0 else "validation" if i % 5 == 1 else "train"
        groups.append(_group(f"{colour} {noun}", colour, noun, split, rng, extractor))
    train = [g for g in groups if g.split == "train"]
    validation = [g for g in groups if g.split == "validation"]
    booster = train_lightgbm(train, validation, PARAMS, max_rounds=60, early_stopping=20)
    return booster, [g for g in groups if g.split == "test"]


def test_trained_model_puts_the_relevant_item_first(trained) -> None:
    booster, test = trained
    ranker = LightGbmRanker(booster)
    for group in test:
        scores = ranker.score(RerankQuery(group.query), group.candidates)
        assert group.candidates[int(np.argmax(scores))].sku.endswith("-rel"), group.query
    judgments = {g.query: {f"{g.query}-rel": 3.0} for g in test}
    assert mean_quality(group_rankings(test, lambda g: booster.predict(g.features)),
                        judgments)["ndcg_at_10"] == 1.0
    assert mean_quality(group_rankings(test), judgments)["ndcg_at_10"] < 0.9


def _model_file(booster, **changes) -> RerankerModelFile:
    fields = {"kind": "lightgbm", "feature_set": FEATURE_SET, "features": list(FEATURE_NAMES),
              "trained_at": "2026-11-27T00:00:00+00:00", "data_hash": "x",
              "payload": booster.model_to_string(), "metrics": {"hybrid": {"ndcg_at_10": 0.4}}}
    return RerankerModelFile(**{**fields, **changes})


def test_save_and_load_round_trip(trained, tmp_path: Path) -> None:
    booster, test = trained
    path = _model_file(booster).save(tmp_path / "m.json")
    loaded = LightGbmRanker.load(path)
    group = test[0]
    query = RerankQuery(group.query)
    assert np.allclose(loaded.score(query, group.candidates), booster.predict(group.features))
    assert loaded.describe()["metrics"] == {"hybrid": {"ndcg_at_10": 0.4}}
    assert "payload" not in loaded.describe()


def test_load_refuses_other_features(trained, tmp_path: Path) -> None:
    booster, _ = trained
    reordered = list(FEATURE_NAMES)
    reordered[0], reordered[1] = reordered[1], reordered[0]
    path = _model_file(booster, features=reordered).save(tmp_path / "order.json")
    with pytest.raises(RerankModelMismatchError, match="different order"):
        LightGbmRanker.load(path)
    path = _model_file(booster, features=[*FEATURE_NAMES, "freshness"]).save(tmp_path / "x.json")
    with pytest.raises(RerankModelMismatchError, match="freshness"):
        LightGbmRanker.load(path)
    path = _model_file(booster, feature_set="streamrec.rerank.features/0").save(tmp_path / "v.json")
    with pytest.raises(RerankModelMismatchError, match="feature set"):
        LightGbmRanker.load(path)


def test_load_refuses_unreadable_or_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(RerankModelError):
        LightGbmRanker.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something/9"}))
    with pytest.raises(RerankModelError, match="format"):
        LightGbmRanker.load(tmp_path / "other.json")


def test_labels_follow_the_linear_gain() -> None:
    assert relevance_label(None) == 0
    assert relevance_label(3.0) == 9 and relevance_label(2.67) == 8 and relevance_label(1.0) == 3
