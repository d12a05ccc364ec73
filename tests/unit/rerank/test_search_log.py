"""The search log as reranker features: counts, leave-one-out, the model file, learning."""

import random
from pathlib import Path

import numpy as np
import pytest

from streamrec.rerank.feature_schema import FEATURE_NAMES, FEATURE_SET
from streamrec.rerank.lightgbm_ranker import LightGbmRanker
from streamrec.rerank.lightgbm_ranker_trainer import train_lightgbm
from streamrec.rerank.offline_hybrid_retrieval import RetrievedLists
from streamrec.rerank.pair_feature_extractor import C, PairFeatureExtractor
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.reranker_model_file import RerankerModelFile, load_model_file
from streamrec.rerank.reranker_training_set import QueryGroup
from streamrec.rerank.search_log import SearchLog, search_log_from_judgments

LOG_PAIRS = [("Cordless Drill", "d1"), ("cordless  drill", "d1"), ("drill bits", "d1"),
             ("hammer", "h1"), ("claw hammer", "h1"), ("wood glue", "g1")]


def _candidates(*skus: str) -> list[RerankCandidate]:
    return [RerankCandidate(sku, f"Acme tool {sku}", 1.0 - i / 10, i)
            for i, sku in enumerate(skus)]


def test_pairs_are_normalised_and_counted_once() -> None:
    log = SearchLog.from_pairs(LOG_PAIRS)
    assert log.queries_of["d1"] == ("cordless drill", "drill bits")
    assert log.pairs == 5
    assert SearchLog(log.to_json()).queries_of == log.queries_of


def test_counts_shared_words_and_leave_the_query_out() -> None:
    extractor = PairFeatureExtractor(search_log=SearchLog.from_pairs(LOG_PAIRS))
    cands = _candidates("d1", "h1", "unknown")
    f = extractor.extract(RerankQuery("Cordless DRILL"), cands)
    # d1: two logged queries, both share "drill"; h1: one... two, none shares a word
    assert np.allclose(f[:, C["search_log_queries"]], np.log1p([2, 2, 0]))
    assert np.allclose(f[:, C["search_log_shared_term_queries"]], np.log1p([2, 0, 0]))

    training = PairFeatureExtractor(search_log=SearchLog.from_pairs(LOG_PAIRS),
                                    leave_query_out=True)
    f = training.extract(RerankQuery("cordless drill"), cands)
    assert np.allclose(f[:, C["search_log_queries"]], np.log1p([1, 2, 0]))
    assert np.allclose(f[:, C["search_log_shared_term_queries"]], np.log1p([1, 0, 0]))


def test_without_a_log_the_columns_are_zero() -> None:
    f = PairFeatureExtractor().extract(RerankQuery("cordless drill"), _candidates("d1"))
    assert f[0, C["search_log_queries"]] == 0 and f[0, C["search_log_shared_term_queries"]] == 0


def test_log_from_judgments_holds_only_the_queries_given() -> None:
    judgments = {"drill": {"d1": 3.0, "d2": 1.0}, "hammer": {"h1": 2.0}}
    log = search_log_from_judgments(judgments, ["drill"])
    assert log.queries_of == {"d1": ("drill",), "d2": ("drill",)}


def _groups(extractor: PairFeatureExtractor, rng: random.Random) -> list[QueryGroup]:
    """Two candidates per query with the same title; only the one that other searches
    led to (``-logged``) is relevant: the title cannot tell them apart, the log can."""
    groups = []
    for i in range(60):
        query = f"query {i}"
        skus = [f"{i}-logged", f"{i}-other", f"{i}-x"]
        rng.shuffle(skus)
        cands = [RerankCandidate(sku, "Acme Widget" if not sku.endswith("-x") else "Misc",
                                 1.0 - j / 10, j) for j, sku in enumerate(skus)]
        fused = [(c.sku, c.fused_score) for c in cands]
        labels = np.array([9 if s.endswith("-logged") else 0 for s in skus])
        groups.append(QueryGroup(query, "train" if i % 4 else "validation",
                                 RetrievedLists(fused, [], fused), cands,
                                 extractor.extract(RerankQuery(query), cands), labels))
    return groups


def test_a_model_learns_the_log_and_serves_it_from_its_file(tmp_path: Path) -> None:
    # each relevant product was also reached by two other (logged) searches
    log = SearchLog.from_pairs([(f"query {i}", f"{i}-logged") for i in range(60)]
                               + [(f"other {i} {k}", f"{i}-logged")
                                  for i in range(60) for k in range(2)])
    groups = _groups(PairFeatureExtractor(search_log=log, leave_query_out=True),
                     random.Random(2))
    booster = train_lightgbm([g for g in groups if g.split == "train"],
                             [g for g in groups if g.split == "validation"],
                             {"min_data_in_leaf": 5, "num_threads": 1}, max_rounds=30)
    path = RerankerModelFile(kind="lightgbm", feature_set=FEATURE_SET,
                             features=list(FEATURE_NAMES), trained_at="test", data_hash="t",
                             payload=booster.model_to_string(),
                             search_log=log.to_json()).save(tmp_path / "m.json")
    assert load_model_file(path).search_log == log.to_json()

    served = LightGbmRanker.load(path)
    assert served.extractor.search_log is not None
    assert not served.extractor.leave_query_out  # serving counts every logged search
    assert served.describe()["search_log_pairs"] == log.pairs
    assert "search_log" not in served.describe()
    new_query = RerankQuery("a query nobody logged")
    for i in range(3):
        cands = _candidates(f"{i}-other", f"{i}-logged")
        scores = served.score(new_query, cands)
        assert scores[1] > scores[0]

    # the same booster without its log cannot tell the two apart
    bare = LightGbmRanker.load(RerankerModelFile(
        kind="lightgbm", feature_set=FEATURE_SET, features=list(FEATURE_NAMES),
        trained_at="test", data_hash="t",
        payload=booster.model_to_string()).save(tmp_path / "bare.json"))
    assert bare.extractor.search_log is None
    scores = bare.score(new_query, [RerankCandidate("0-other", "Acme Widget", 0.9, 0),
                                    RerankCandidate("0-logged", "Acme Widget", 0.9, 0)])
    assert scores[0] == scores[1]


def test_evaluation_refuses_to_score_the_logged_queries(tmp_path: Path) -> None:
    from streamrec.evaluation.search_evaluation import (
        SearchEvaluationConfig,
        refuse_scoring_logged_queries,
    )
    from streamrec.rerank.reranker_model_file import search_log_pairs

    fields = {"kind": "lightgbm", "feature_set": FEATURE_SET, "features": list(FEATURE_NAMES),
              "trained_at": "t", "data_hash": "t", "payload": ""}
    logged = RerankerModelFile(**fields, search_log={"d1": ["drill", "drills"]}).save(
        tmp_path / "logged.json")
    bare = RerankerModelFile(**fields).save(tmp_path / "bare.json")
    cascade = RerankerModelFile(kind="cascade", feature_set="c", features=[], trained_at="t",
                                data_hash="t", payload="",
                                params={"first": "logged.json", "second": "bare.json"}
                                ).save(tmp_path / "cascade.json")
    assert search_log_pairs(logged) == 2 and search_log_pairs(bare) == 0
    assert search_log_pairs(cascade) == 2

    def config(model: Path, split: str) -> SearchEvaluationConfig:
        return SearchEvaluationConfig(data_dir=tmp_path, split=split,  # type: ignore[arg-type]
                                      env={"STREAMREC_RERANK_MODEL_PATH": str(model)})

    for model in (logged, cascade):
        with pytest.raises(ValueError, match="split 'test'"):
            refuse_scoring_logged_queries(config(model, "all"))
        refuse_scoring_logged_queries(config(model, "test"))
    refuse_scoring_logged_queries(config(bare, "all"))


def test_add_grows_the_counts_once_per_pair() -> None:
    log = SearchLog.from_pairs([("drill", "d1")])
    extractor = PairFeatureExtractor(search_log=log)
    assert log.add("Cordless  Drill", "d1") and not log.add("cordless drill", "d1")
    assert not log.add("  ", "d1") and not log.add("drill", "")
    assert log.add("hammer", "h1")
    f = extractor.extract(RerankQuery("drill press"), _candidates("d1", "h1"))
    assert np.allclose(f[:, C["search_log_queries"]], np.log1p([2, 1]))
    assert np.allclose(f[:, C["search_log_shared_term_queries"]], np.log1p([2, 0]))


def test_a_products_queries_are_bounded_newest_kept() -> None:
    log = SearchLog({"d1": ["a"]}, max_queries_per_sku=3)
    assert log.add("b", "d1") and log.queries_of["d1"] == ("a", "b")
    for query in ("c", "d", "e"):
        assert log.add(query, "d1")
    assert log.queries_of["d1"] == ("c", "d", "e")
    assert SearchLog({"d1": ["x1", "x2", "x3", "x4"]}, max_queries_per_sku=2).queries_of == {
        "d1": ("x3", "x4")}


def test_the_logs_own_setting_leaves_queries_out_for_tuning() -> None:
    log = SearchLog.from_pairs(LOG_PAIRS)
    extractor = PairFeatureExtractor(search_log=log)
    query = RerankQuery("hammer")
    assert extractor.extract(query, _candidates("h1"))[0, C["search_log_queries"]] == \
        np.float32(np.log1p(2))
    log.leave_query_out = True  # what `streamrec train cascade` sets on validation queries
    assert extractor.extract(query, _candidates("h1"))[0, C["search_log_queries"]] == \
        np.float32(np.log1p(1))
