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
        fused = [(c.sku, c.fused_score) for c in cands]
        labels = np.array([9 if t.endswith("deluxe") else 0 for t in titles])
        groups.append(QueryGroup(f"{a} {b}", "train" if i % 4 else "validation",
                                 RetrievedLists(fused, [], fused), cands,
                                 extractor.extract(RerankQuery(f"{a} {b}"), cands), labels))
    booster = train_lightgbm([g for g in groups if g.split == "train"],
                             [g for g in groups if g.split == "validation"],
                             {"min_data_in_leaf": 5, "num_threads": 1}, max_rounds=30)
    return RerankerModelFile(kind="lightgbm", feature_set=FEATURE_SET,
                             features=list(FEATURE_NAMES), trained_at="test", data_hash="test",
                             payload=booster.model_to_string()).save(path)


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

    def indexed(url: str) -> bool:
        try:
            ready = httpx.get(f"{url}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        index = ready.json()["index"] if ready.status_code == 200 else {}
        # both sides: the lexical index becomes searchable up to a refresh after the vectors
        return index.get("products") == index.get("lexical_docs") == len(PRODUCTS)

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
