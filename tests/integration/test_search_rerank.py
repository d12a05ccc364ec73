"""/v1/search with the rerank stage, through the real API (Kafka, Redis, worker, API).

One worker and two API processes on the same deployment: one with a LightGBM model
(trained here on a tiny synthetic judgment set), one with none.
"""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import numpy as np
import pytest

from streamrec.platform.processes import free_port
from streamrec.rerank.feature_schema import FEATURE_NAMES, FEATURE_SET
from streamrec.rerank.lightgbm_ranker_trainer import train_lightgbm
from streamrec.rerank.offline_hybrid_retrieval import RetrievedLists
from streamrec.rerank.pair_feature_extractor import PairFeatureExtractor
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.reranker_model_file import RerankerModelFile
from streamrec.rerank.reranker_training_set import QueryGroup
from streamrec.rerank.search_log import SearchLog
from streamrec.settings import Settings
from tests.integration.kafka_helpers import wait_for
from tests.integration.test_catalog_search import PRODUCTS, change, metric, publish

pytestmark = pytest.mark.integration


def synthetic_model(path: Path) -> Path:
    """A model that learned 'the title holding every query word wins' from 48 queries."""
    rng = random.Random(3)
    extractor = PairFeatureExtractor()
    words = ["red", "blue", "green", "black", "drill", "hammer", "ladder", "kettle"]
    groups = []
    for i in range(48):
        a, b = rng.sample(words, 2)
        titles = [f"{a} {b} deluxe", f"{a} tool", f"{b} part", "misc item"]
        rng.shuffle(titles)
        cands = [RerankCandidate(str(j), t, 1 - j / 10, j) for j, t in enumerate(titles)]
        groups.append(_group(i, f"{a} {b}", cands, [t.endswith("deluxe") for t in titles],
                             extractor))
    return _trained_model_file(groups, path)


def _group(i: int, query: str, cands: list[RerankCandidate], relevant: list[bool],
           extractor: PairFeatureExtractor) -> QueryGroup:
    fused = [(c.sku, c.fused_score) for c in cands]
    return QueryGroup(query, "train" if i % 4 else "validation",
                      RetrievedLists(fused, [], fused), cands,
                      extractor.extract(RerankQuery(query), cands),
                      np.array([9 if r else 0 for r in relevant]))


def _trained_model_file(groups: list[QueryGroup], path: Path,
                        search_log: SearchLog | None = None) -> Path:
    booster = train_lightgbm([g for g in groups if g.split == "train"],
                             [g for g in groups if g.split == "validation"],
                             {"min_data_in_leaf": 5, "num_threads": 1}, max_rounds=30)
    return RerankerModelFile(kind="lightgbm", feature_set=FEATURE_SET,
                             features=list(FEATURE_NAMES), trained_at="test", data_hash="test",
                             payload=booster.model_to_string(),
                             search_log=search_log.to_json() if search_log else {}).save(path)


def indexed(url: str) -> bool:
    """The API serves every product from both indexes."""
    try:
        ready = httpx.get(f"{url}/readyz", timeout=2)
    except httpx.HTTPError:
        return False
    index = ready.json()["index"] if ready.status_code == 200 else {}
    # both sides: the lexical index becomes searchable up to a refresh after the vectors
    return index.get("products") == index.get("lexical_docs") == len(PRODUCTS)


def test_search_is_reranked_when_a_model_is_configured(settings: Settings, topics: dict,
                                                       start_process, tmp_path: Path) -> None:
    model = synthetic_model(tmp_path / "reranker.json")
    start_process("worker", "--metrics-port", str(free_port()), name="worker")
    urls = {}
    for name, env in (("reranked", {"STREAMREC_RERANK_MODEL_PATH": str(model),
                                    "STREAMREC_RERANK_MIN_DEPTH": "5"}),
                      ("plain", {})):
        port = free_port()
        start_process("api", "--port", str(port), name=f"api-{name}", env=env)
        urls[name] = f"http://127.0.0.1:{port}"
    publish(settings, [change(*p) for p in PRODUCTS])

    for url in urls.values():
        wait_for(lambda url=url: indexed(url), 90, what="API indexed every product")

    # every title was analysed for the features as it was indexed, not on a request
    prepared = "streamrec_search_rerank_titles_prepared_total"
    wait_for(lambda: metric(f"{urls['reranked']}/metrics", prepared) == len(PRODUCTS), 10,
             what="every title prepared for the reranker")
    assert metric(f"{urls['plain']}/metrics", prepared) == 0

    params = {"q": "cordless hammer drill", "k": 15}
    reranked = httpx.get(f"{urls['reranked']}/v1/search", params=params, timeout=10).json()
    plain = httpx.get(f"{urls['plain']}/v1/search", params=params, timeout=10).json()
    assert reranked["rung"] == plain["rung"] == "hybrid"
    assert reranked["reranked"] is True, reranked["rerank"]
    assert reranked["rerank"]["reranker"] == "lightgbm" and reranked["rerank"]["applied"]
    assert reranked["rerank"]["depth"] == len(reranked["items"]) >= 2
    assert "rerank" in reranked["timings_ms"]
    # reranking reorders, never adds or drops
    assert sorted(i["sku"] for i in reranked["items"]) == sorted(i["sku"] for i in plain["items"])
    assert reranked["items"][0]["sku"] == "drill-1"

    assert plain["reranked"] is False and "rerank" not in plain["timings_ms"]
    assert plain["rerank"] == {"applied": False, "reranker": None, "depth": 0,
                               "reason": "no reranker model configured "
                                         "(STREAMREC_RERANK_MODEL_PATH)"}
    fallback = httpx.get(f"{urls['reranked']}/v1/search", params={"q": "qwxzv"}, timeout=10)
    assert fallback.json()["reranked"] is False
    assert "not reranked" in fallback.json()["rerank"]["reason"]


def search_log_model(path: Path) -> Path:
    """A model that learned only 'the product more searches led to wins': every candidate
    of a training query has the same title and retrieval scores, and the relevant one is
    the one other logged searches reached."""
    rng = random.Random(4)
    seed_log = SearchLog.from_pairs([(f"other {i} {n}", f"{i}-logged")
                                     for i in range(60) for n in range(1 + i % 3)])
    extractor = PairFeatureExtractor(search_log=seed_log, leave_query_out=True)
    groups = []
    for i in range(60):
        skus = [f"{i}-logged", f"{i}-a", f"{i}-b"]
        rng.shuffle(skus)
        cands = [RerankCandidate(sku, "Acme Widget", 0.5, 0, 1.0, 0, 0.5, 0) for sku in skus]
        groups.append(_group(i, f"query {i}", cands, [s.endswith("-logged") for s in skus],
                             extractor))
    return _trained_model_file(groups, path, seed_log)


def test_search_clicks_reach_the_ranking_within_seconds(settings: Settings, topics: dict,
                                                        start_process, tmp_path: Path) -> None:
    """User events with a query (POST /v1/events) -> Kafka -> users worker -> Redis stream
    -> the API's search log -> the reranker's features: the clicked tent moves up."""
    model = search_log_model(tmp_path / "logged.json")
    start_process("worker", "--metrics-port", str(free_port()), name="worker")
    port = free_port()
    start_process("api", "--port", str(port), name="api-logged",
                  env={"STREAMREC_RERANK_MODEL_PATH": str(model),
                       "STREAMREC_RERANK_MIN_DEPTH": "5"})
    url = f"http://127.0.0.1:{port}"
    publish(settings, [change(*p) for p in PRODUCTS])

    wait_for(lambda: indexed(url), 90, what="API indexed every product")

    def tents() -> list[str]:
        body = httpx.get(f"{url}/v1/search", params={"q": "tent", "k": 5}, timeout=10).json()
        assert body["reranked"] is True, body["rerank"]
        return [i["sku"] for i in body["items"] if i["sku"].startswith("tent-")]

    before = tents()
    assert sorted(before) == ["tent-1", "tent-2"]
    clicked = before[-1]  # the one ranked lower without the log
    events = [{"event_id": f"click-{n}", "user_id": f"shopper-{n}", "type": kind,
               "sku": clicked, "query": query, "ts": 1764150000000 + n}
              for n, (kind, query) in enumerate([("CLICK", "camping shelter"),
                                                 ("ADD_TO_CART", "tent for the family"),
                                                 ("PURCHASE", "screened porch tent")])]
    events.append({**events[0]})  # a redelivery is logged once
    events.append({"event_id": "view-1", "user_id": "x", "type": "VIEW", "sku": before[0],
                   "query": "tent", "ts": 1764150000000})  # a view is not a search click
    response = httpx.post(f"{url}/v1/events", json={"events": events}, timeout=10)
    assert response.status_code == 200 and response.json()["accepted"] == len(events)

    added = 'streamrec_search_log_pairs_followed_total{outcome="added"}'
    wait_for(lambda: metric(f"{url}/metrics", added) == 3, 30,
             what="the three search clicks followed into the API's search log")
    assert tents()[0] == clicked
