"""The query-rewrite cascade against a LOCAL STAND-IN for the LLM APIs.

The paid APIs cannot be reached from here, so ``StandInLlmServer`` (a stand-in, not a
model) speaks the real OpenAI chat-completions and Anthropic Messages protocols on a
loopback port, and the real ``openai`` and ``anthropic`` SDKs talk to it. Everything
else is real: Redis (the session's server from conftest), the tantivy lexical index,
the catalog speller and the no-empty-page ladder over a small catalog.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from streamrec.indexer.lexical_index import LexicalIndex, LexicalIndexConfig
from streamrec.indexer.spelling_corrector import SpellingCorrector
from streamrec.platform.redis_server import RedisServer
from streamrec.rewrite.cascade_factory import build_llm_tiers, build_rewrite_cascade
from streamrec.rewrite.query_rewrite_cascade import QueryRewriteCascade, RewriteOutcome
from streamrec.rewrite.search_probe import SearchProbe
from streamrec.rewrite.standin_server import StandInLlmServer
from streamrec.serving.fallback_ladder import FallbackLadder
from streamrec.settings import RewriteModelPrice, Settings

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytestmark = pytest.mark.integration

SMALL, LARGE = "standin-small", "standin-claude"
PRICES = {SMALL: RewriteModelPrice(input_usd_per_mtok=0.1, output_usd_per_mtok=0.2),
          LARGE: RewriteModelPrice(input_usd_per_mtok=3.0, output_usd_per_mtok=15.0)}
CATALOG = [
    ("drill-1", "Cordless Drill Driver 20V Lithium-Ion", "Tools > Power Tools", "Boltx"),
    ("drill-2", "Cordless Hammer Drill 18V with Battery", "Tools > Power Tools", "Boltx"),
    ("saw-1", "Circular Saw 7-1/4 in. Corded", "Tools > Power Tools", "Sawly"),
    ("hammer-1", "Fiberglass Claw Hammer 16 oz", "Tools > Hand Tools", "Grip"),
    ("pipe-1", "1/2 in. x 10 ft. PVC Pipe", "Plumbing > Pipe", "Flowa"),
    ("pipe-2", "3/4 in. Copper Pipe Elbow", "Plumbing > Fittings", "Flowa"),
    ("hose-1", "Garden Hose 50 ft. Heavy Duty", "Outdoor > Watering", "Greeny"),
    ("bulb-1", "LED Light Bulb 60W Equivalent Soft White", "Lighting > Bulbs", "Lumo"),
    ("deck-1", "Composite Decking Board 12 ft. Gray", "Lumber > Decking", "Trexo"),
]


class CatalogSearchForTests:
    """The ladder over a real lexical index and speller: the search the cascade validates
    with (what ``SearchRewriteStage`` does in the API, without Kafka and vectors)."""

    def __init__(self) -> None:
        self.lexical = LexicalIndex(config=LexicalIndexConfig(commit_every_docs=1 << 30))
        self.speller = SpellingCorrector()
        for sku, title, path, brand in CATALOG:
            self.lexical.upsert(sku, title, path, brand)
            self.speller.upsert(sku, title, path, brand)
        self.lexical.refresh()
        self.searches = 0

    def correct(self, text: str) -> str | None:
        fix = self.speller.correct(text)
        return fix.corrected if fix.changed else None

    def probe(self, query: str, k: int = 10) -> SearchProbe:
        self.searches += 1
        ladder = FallbackLadder(
            hybrid=lambda q, k, c: self.lexical.search(q, k, c, "tiered"),
            relaxed=lambda q, k, c: self.lexical.search_hits(q, k, c, "any"),
            popular=lambda k, c: [("hose-1", 1.0)][:k], correct=self.correct)
        result = ladder.search(query, k)
        strict = len(self.lexical.search(result.query, k, None, "strict"))
        return SearchProbe(result.rung, len(result.items), strict,
                           result.items[0][1] if result.items else 0.0, result)

    async def asearch(self, query: str) -> SearchProbe:
        return await asyncio.to_thread(self.probe, query)


@pytest.fixture(scope="module")
def catalog() -> Iterator[CatalogSearchForTests]:
    search = CatalogSearchForTests()
    yield search
    search.lexical.close()


@pytest.fixture
def standin() -> Iterator[StandInLlmServer]:
    with StandInLlmServer() as server:
        yield server


def rewrite_settings(redis_server: RedisServer, standin: StandInLlmServer, **overrides: object
                     ) -> Settings:
    values: dict[str, object] = {
        "redis_url": redis_server.url, "redis_key_prefix": f"t{uuid.uuid4().hex[:10]}:",
        "rewrite_enabled": True,
        "rewrite_small_base_url": standin.openai_base_url, "rewrite_small_model": SMALL,
        "rewrite_small_api_key": standin.api_key, "rewrite_small_timeout_s": 0.5,
        "rewrite_large_base_url": standin.url, "rewrite_large_model": LARGE,
        "rewrite_large_api_key": standin.api_key, "rewrite_large_timeout_s": 0.5,
        "rewrite_model_prices": PRICES, "rewrite_stage_timeout_s": 3.0,
    }
    values.update(overrides)
    return Settings(**values)


def run_queries(settings: Settings, catalog: CatalogSearchForTests, *queries: str
                ) -> list[RewriteOutcome]:
    """Each query through a cascade built from the settings, as the API builds it."""

    async def go() -> list[RewriteOutcome]:
        redis = aioredis.Redis.from_url(settings.redis_url)
        cascade: QueryRewriteCascade = build_rewrite_cascade(
            settings, redis, catalog.correct, catalog.speller.is_known)
        try:
            outcomes = []
            for query in queries:
                original = await catalog.asearch(query)
                outcomes.append(await cascade.rewrite(query, None, original, catalog.asearch))
            return outcomes
        finally:
            await cascade.aclose()
            await redis.aclose()

    return asyncio.run(go())


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_good_llm_rewrite_is_accepted_cached_and_then_served_without_a_call(
        redis_server, standin, catalog):
    # "screwgun" is no catalog word and has no close spelling: only a model can help
    standin.model(SMALL).answers["screwgun cordless"] = "cordless drill driver"
    settings = rewrite_settings(redis_server, standin)
    first, second = run_queries(settings, catalog, "screwgun cordless", "screwgun cordless")

    assert first.route.reasons == ("weak_results",)
    assert [(a.tier, a.outcome) for a in first.attempts] == [
        ("cache", "miss"), ("deterministic", "no_rewrite"), ("small_llm", "improved")]
    assert first.rewrite == "cordless drill driver" and first.tier == "small_llm"
    assert first.probe is not None and first.probe.payload.items[0][0] == "drill-1"

    assert second.cached and second.rewrite == "cordless drill driver"
    assert second.tier == "small_llm"  # the tier that made it, served from the cache
    assert [(a.tier, a.outcome) for a in second.attempts] == [("cache", "improved")]
    assert len(standin.calls) == 1  # the second search paid no model call


def test_rewrite_dropping_an_intent_term_is_discarded_and_counted(
        redis_server, standin, catalog):
    standin.model(SMALL).answers["screwgun cordless"] = "drill driver"  # drops cordless
    standin.model(LARGE).status = 500
    before = metric("streamrec_rewrite_discards_total", tier="small_llm",
                    reason="dropped_intent_terms")
    settings = rewrite_settings(redis_server, standin, rewrite_hard_query_words=2)
    (outcome,) = run_queries(settings, catalog, "screwgun cordless")

    small = next(a for a in outcome.attempts if a.tier == "small_llm")
    assert small.outcome == "discarded" and small.rewrite == "drill driver"
    assert small.reason == "dropped_intent_terms: cordless"
    assert metric("streamrec_rewrite_discards_total", tier="small_llm",
                  reason="dropped_intent_terms") == before + 1
    assert outcome.rewrite is None and outcome.probe is None  # served as typed
    large = next(a for a in outcome.attempts if a.tier == "large_llm")
    assert large.outcome == "error" and "500" in large.reason


def test_a_strong_query_is_not_rewritten_and_costs_nothing(redis_server, standin, catalog):
    (outcome,) = run_queries(rewrite_settings(redis_server, standin), catalog,
                             "cordless drill")
    assert not outcome.route.selected and outcome.attempts == []
    assert standin.calls == []


def test_timeout_and_server_error_fall_through_to_the_next_tier(
        redis_server, standin, catalog):
    standin.model(SMALL).delay_s = 2.0  # the small model hangs
    standin.model(LARGE).answers["zqxv cordless"] = "cordless drill"
    standin.model(LARGE).answers["zqxw cordless"] = "cordless hammer drill"
    settings = rewrite_settings(redis_server, standin, rewrite_small_timeout_s=0.2,
                                rewrite_hard_query_words=2)
    (slow,) = run_queries(settings, catalog, "zqxv cordless")
    small = next(a for a in slow.attempts if a.tier == "small_llm")
    assert small.outcome == "timeout" and small.latency_ms < 1_000
    assert slow.tier == "large_llm" and slow.rewrite == "cordless drill"

    standin.model(SMALL).delay_s, standin.model(SMALL).status = 0.0, 500
    (failing,) = run_queries(settings, catalog, "zqxw cordless")
    small = next(a for a in failing.attempts if a.tier == "small_llm")
    assert small.outcome == "error" and "InternalServerError" in small.reason
    assert failing.tier == "large_llm" and failing.rewrite == "cordless hammer drill"


def test_budget_exhaustion_stops_paid_calls(redis_server, standin, catalog):
    # one small call (~150 tokens of prompt, 32 out reserved) fits, a second does not
    settings = rewrite_settings(redis_server, standin, rewrite_budget_tokens_per_minute=300,
                                rewrite_large_api_key=None, rewrite_cache_enabled=False)
    before = metric("streamrec_rewrite_outcomes_total", tier="small_llm",
                    outcome="over_budget")
    outcomes = run_queries(settings, catalog, "screwgun cordless", "zqxz cordless")
    assert [a.outcome for a in outcomes[0].attempts if a.tier == "small_llm"] != ["over_budget"]
    assert [a.outcome for a in outcomes[1].attempts if a.tier == "small_llm"] == ["over_budget"]
    assert len(standin.calls) == 1  # the over-budget query was never sent
    assert metric("streamrec_rewrite_outcomes_total", tier="small_llm",
                  outcome="over_budget") == before + 1


def test_money_budget_stops_the_expensive_tier(redis_server, standin, catalog):
    settings = rewrite_settings(redis_server, standin, rewrite_budget_usd_per_hour=0.0001,
                                rewrite_small_base_url=None)
    (outcome,) = run_queries(settings, catalog, "zqxq")  # no results: may go to Claude
    assert [(a.tier, a.outcome) for a in outcome.attempts if a.tier == "large_llm"] == [
        ("large_llm", "over_budget")]
    assert standin.calls == []


def test_cost_accounting_matches_the_usage_the_server_reported(
        redis_server, standin, catalog):
    standin.model(SMALL).answers["zqxy cordless"] = "zqxy"  # drops cordless: discarded
    standin.model(LARGE).answers["zqxy cordless"] = "cordless drill driver"
    cost_before = metric("streamrec_rewrite_tier_cost_usd_total", tier="large_llm")
    tokens_before = metric("streamrec_rewrite_tier_tokens_total", tier="large_llm",
                           direction="in")
    settings = rewrite_settings(redis_server, standin, rewrite_hard_query_words=2)
    (outcome,) = run_queries(settings, catalog, "zqxy cordless")

    calls = {c.protocol: c for c in standin.calls}
    assert set(calls) == {"openai", "anthropic"}
    for attempt, call in ((next(a for a in outcome.attempts if a.tier == t), calls[p])
                          for t, p in (("small_llm", "openai"), ("large_llm", "anthropic"))):
        price = PRICES[call.model]
        assert (attempt.tokens_in, attempt.tokens_out) == (call.input_tokens, call.output_tokens)
        assert attempt.cost_usd == pytest.approx(
            (call.input_tokens * price.input_usd_per_mtok
             + call.output_tokens * price.output_usd_per_mtok) / 1e6)
    large = calls["anthropic"]
    assert metric("streamrec_rewrite_tier_tokens_total", tier="large_llm",
                  direction="in") == tokens_before + large.input_tokens
    assert metric("streamrec_rewrite_tier_cost_usd_total", tier="large_llm") == pytest.approx(
        cost_before + (large.input_tokens * 3.0 + large.output_tokens * 15.0) / 1e6)
    assert outcome.tier == "large_llm" and outcome.cost_usd > 0


def test_deterministic_tier_serves_sentences_without_any_model(redis_server, standin, catalog):
    (outcome,) = run_queries(rewrite_settings(redis_server, standin), catalog,
                             "i am looking for a good cordless hammer drill please")
    assert "natural_language" in outcome.route.reasons
    assert outcome.tier == "deterministic" and outcome.rewrite == "cordless hammer drill"
    assert standin.calls == []


def test_llm_tiers_are_off_without_their_sdk(redis_server, standin, monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # as if the llm extra were missing
    monkeypatch.setitem(sys.modules, "anthropic", None)
    for name in [m for m in sys.modules if m.startswith("streamrec.rewrite.") and
                 m.endswith("_rewriter") and "deterministic" not in m]:
        monkeypatch.delitem(sys.modules, name)
    assert build_llm_tiers(rewrite_settings(redis_server, standin)) == []
    cascade = build_rewrite_cascade(rewrite_settings(redis_server, standin), None)
    assert [t.name for t in cascade.tiers] == ["deterministic"]


def test_stand_in_answers_both_sdks_with_usage(standin):
    import anthropic
    import openai

    standin.model("m").answers["q"] = "an answer"

    async def go() -> tuple[object, object]:
        oa = openai.AsyncOpenAI(base_url=standin.openai_base_url, api_key=standin.api_key)
        an = anthropic.AsyncAnthropic(base_url=standin.url, api_key=standin.api_key)
        chat = await oa.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "q"}], max_tokens=8)
        message = await an.messages.create(
            model="m", max_tokens=8, messages=[{"role": "user", "content": "q"}])
        await oa.close()
        await an.close()
        return chat, message

    chat, message = asyncio.run(go())
    assert chat.choices[0].message.content == "an answer"
    assert (chat.usage.prompt_tokens, chat.usage.completion_tokens) == (1, 2)
    assert message.content[0].text == "an answer"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (1, 2)

    async def wrong_key() -> None:
        client = anthropic.AsyncAnthropic(base_url=standin.url, api_key="wrong",
                                          max_retries=0)
        await client.messages.create(model="m", max_tokens=8,
                                     messages=[{"role": "user", "content": "q"}])

    with pytest.raises(anthropic.AuthenticationError):
        asyncio.run(wrong_key())


def stage_run(settings: Settings, catalog: CatalogSearchForTests, query: str,
              break_router: bool = False) -> tuple[object, dict | None, float]:
    """``SearchRewriteStage`` (the API's adapter) over the test catalog's ladder."""
    import time

    from streamrec.serving.search.search_rewrite_stage import SearchRewriteStage

    def ladder(q: str, k: int, c: str | None, _timings: dict) -> object:
        return catalog.probe(q, k).payload

    async def go() -> tuple[object, dict | None, float]:
        redis = aioredis.Redis.from_url(settings.redis_url)
        cascade = build_rewrite_cascade(settings, redis, catalog.correct,
                                        catalog.speller.is_known)
        if break_router:
            def broken(*_args: object) -> None:
                raise RuntimeError("router bug")
            cascade.router.route = broken  # type: ignore[method-assign]
        stage = SearchRewriteStage(cascade, lambda: catalog.lexical)
        first = ladder(query, 10, None, {})
        started = time.perf_counter()
        try:
            served, info = await stage.run(query, 10, None, first, ladder)
        finally:
            await cascade.aclose()
            await redis.aclose()
        return (served is first), info, time.perf_counter() - started

    return asyncio.run(go())


def test_a_slow_model_never_holds_search_past_the_stage_deadline(
        redis_server, standin, catalog):
    standin.model(SMALL).delay_s = 3.0
    settings = rewrite_settings(redis_server, standin, rewrite_small_timeout_s=5.0,
                                rewrite_stage_timeout_s=0.3, rewrite_large_api_key=None)
    first_served, info, seconds = stage_run(settings, catalog, "zqxr cordless")
    assert first_served and seconds < 1.5
    assert info is not None and info["rewritten"] is False
    assert [(a["tier"], a["outcome"]) for a in info["tried"]][-1] == ("small_llm", "timeout")


def test_a_failing_cascade_serves_the_query_as_typed(redis_server, standin, catalog):
    first_served, info, _ = stage_run(rewrite_settings(redis_server, standin), catalog,
                                      "screwgun cordless", break_router=True)
    assert first_served and info is None
