"""``/v1/search`` with the query-rewrite stage on, end to end: worker and API processes
on the real Kafka and Redis, the small-LLM tier pointed at a LOCAL STAND-IN for an
OpenAI-compatible server (``StandInLlmServer``, not a model: the paid and hosted APIs
cannot be reached from here), and ``streamrec rewrite`` against the API."""

from __future__ import annotations

import httpx
import pytest

from streamrec.rewrite.standin_server import StandInLlmServer
from streamrec.settings import Settings
from tests.integration.kafka_helpers import wait_for
from tests.integration.test_catalog_search import PRODUCTS, Platform, change, metric, publish

pytest.importorskip("openai")
pytestmark = pytest.mark.integration

SMALL = "standin-small"


def test_search_says_whether_and_by_which_tier_a_query_was_rewritten(
        settings: Settings, topics: dict, start_process, run_cli) -> None:
    with StandInLlmServer() as standin:
        standin.model(SMALL).answers["screwgun cordless"] = "cordless hammer drill"
        platform = Platform(start_process, settings)
        platform.env.update({
            "STREAMREC_REWRITE_ENABLED": "true",
            "STREAMREC_REWRITE_SMALL_BASE_URL": standin.openai_base_url,
            "STREAMREC_REWRITE_SMALL_MODEL": SMALL,
            "STREAMREC_REWRITE_SMALL_API_KEY": standin.api_key,
            "STREAMREC_REWRITE_SMALL_TIMEOUT_S": "2"})
        platform.start()
        publish(settings, [change(*p) for p in PRODUCTS])
        wait_for(lambda: platform.index_stats()["searchable"] == len(PRODUCTS), 90,
                 what="all products indexed")

        # the lexical index lags the vectors by up to one refresh: until it has the
        # products, every query looks weak to the router
        wait_for(lambda: platform.search("cordless hammer drill")["rewrite"]["route"]
                 == "not_needed", 10, what="lexical index caught up")
        standin.calls.clear()
        calls = f"{platform.url}/metrics", 'streamrec_rewrite_tier_calls_total{tier="small_llm"}'
        small_calls_before = metric(*calls)

        strong = platform.search("cordless hammer drill")
        assert strong["rewritten"] is False and strong["rewrite_tier"] is None
        assert strong["rewrite"]["route"] == "not_needed" and strong["rewrite"]["tried"] == []

        sentence = platform.search("i am looking for a good cordless hammer drill please")
        assert sentence["rewritten"] and sentence["rewrite_tier"] == "deterministic"
        assert sentence["executed_query"] == "cordless hammer drill"
        assert sentence["items"][0]["sku"] == "drill-1"
        assert "natural_language" in sentence["rewrite"]["route"]
        assert "rewrite" in sentence["timings_ms"]

        llm = platform.search("screwgun cordless")
        assert llm["rewrite_tier"] == "small_llm" and llm["rewrite"]["cached"] is False
        assert llm["executed_query"] == "cordless hammer drill"
        assert llm["items"][0]["sku"] == "drill-1"
        small = next(a for a in llm["rewrite"]["tried"] if a["tier"] == "small_llm")
        call = standin.calls_of(SMALL)[-1]
        assert (small["tokens_in"], small["tokens_out"]) == (call.input_tokens,
                                                            call.output_tokens)

        again = platform.search("screwgun cordless")
        assert again["rewrite_tier"] == "small_llm" and again["rewrite"]["cached"] is True
        assert len(standin.calls_of(SMALL)) == 1  # served from Redis, no second call

        typed = httpx.get(f"{platform.url}/v1/search",
                          params={"q": "screwgun cordless", "rewrite": "false"}, timeout=10)
        assert typed.json()["rewrite"] is None and typed.json()["rewritten"] is False

        assert metric(*calls) == small_calls_before + 1

        shown = run_cli("rewrite", "screwgun cordless", "--api-url", platform.url,
                        "--compare")
        assert shown.returncode == 0, shown.stderr
        assert "weak_results" in shown.stdout and "small_llm" in shown.stdout
        assert "from the cache" in shown.stdout and "as typed" in shown.stdout
