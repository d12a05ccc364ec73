"""The Redis-backed parts of the user path, against the suite's real Redis."""

import asyncio
import math
import time
import uuid

import numpy as np
import pytest

from streamrec.agents.catalog_document_writer import item_document
from streamrec.recs.candidate import BlendedCandidate
from streamrec.recs.candidate_cache import (
    CandidateCache,
    CandidateCacheConfig,
    CandidateMeta,
    UserSummary,
)
from streamrec.recs.candidate_generator import CandidateGenerator
from streamrec.recs.candidate_refresher import CandidateRefresher
from streamrec.recs.co_visitation_candidate_source import CoVisitationCandidateSource
from streamrec.recs.co_visitation_store import CoVisit, CoVisitationConfig, CoVisitationStore
from streamrec.recs.interest_ann_candidate_source import InterestAnnCandidateSource
from streamrec.recs.recommendation_pipeline import RecommendationPipeline
from streamrec.recs.recommendation_state import RecommendationRequest
from streamrec.recs.trending_candidate_source import TrendingCandidateSource
from streamrec.recs.trending_store import TrendingConfig, TrendingHit, TrendingStore
from streamrec.recs.user_event_applier import UserEventApplier
from streamrec.redis_keys import RedisKeys
from tests.integration.recs.redis_scenario import run
from tests.unit.recs.recs_fakes import small_index, unit

pytestmark = pytest.mark.integration

HOUR = 3_600_000
T0 = 1_700_000_000_000


@pytest.fixture
def prefix():
    return f"t{uuid.uuid4().hex[:10]}:"


# --- co-visitation ---------------------------------------------------------------------------

def test_co_visitation_window_weights_and_neighbours(redis_server, prefix):
    keys = RedisKeys(prefix)

    async def scenario(redis):
        store = CoVisitationStore(redis, keys, CoVisitationConfig(window=2, distance_decay=0.5))
        await store.record([CoVisit(["c", "b", "a"], "d"), CoVisit(["d"], "e")])
        d = await redis.zrange(keys.co_visitation("d"), 0, -1, withscores=True)
        assert dict(d) == {b"c": 1.0, b"b": 0.5, b"e": 1.0}  # a is outside the window
        assert await redis.zscore(keys.co_visitation("c"), "d") == 1.0
        assert await redis.exists(keys.co_visitation("a")) == 0
        assert 0 < await redis.ttl(keys.co_visitation("d")) <= store.config.ttl_s
        found = await store.neighbours(["d", "c"], 10, {"d": 1.0, "c": 0.5})
        scores = {n.sku: n.score for n in found}
        assert "d" not in scores and "c" not in scores  # anchors are never returned
        assert scores == pytest.approx({"e": 1.0, "b": 0.5})
        assert {n.sku: n.via for n in found} == {"e": "d", "b": "d"}
        assert await store.neighbours(["unknown"], 5) == []
        assert await store.neighbours([], 5) == []

    run(redis_server, scenario)


def test_co_visitation_sets_stay_bounded(redis_server, prefix):
    keys = RedisKeys(prefix)

    async def scenario(redis):
        store = CoVisitationStore(redis, keys, CoVisitationConfig(
            window=1, max_neighbours=3, trim_every=4))
        for i in range(8):  # hub gains a new neighbour on each write
            await store.record([CoVisit([f"n{i}"], "hub", weight=1.0 + i)])
        members = await redis.zrevrange(keys.co_visitation("hub"), 0, -1)
        assert members == [b"n7", b"n6", b"n5"]  # trimmed to the best 3 at the 8th write
        await store.record([CoVisit(["x"], "hub", weight=0.1)])
        assert await redis.zcard(keys.co_visitation("hub")) == 4  # not trimmed on every write
        await store.trim(["hub"])
        assert await redis.zcard(keys.co_visitation("hub")) == 3

    run(redis_server, scenario)


# --- trending --------------------------------------------------------------------------------

def test_trending_decays_older_popularity(redis_server, prefix):
    keys = RedisKeys(prefix)
    config = TrendingConfig(half_life_s=3600)

    async def scenario(redis):
        store = TrendingStore(redis, keys, config)
        path = ["Apparel", "Topwear", "Tshirts"]
        await store.record([TrendingHit("old", path, 6.0, T0)])
        await store.record([TrendingHit("new", path, 2.0, T0 + 3 * HOUR),
                            TrendingHit("lamp", ["Home"], 1.0, T0 + 3 * HOUR)])
        now = T0 + 3 * HOUR
        top = await store.top(path, 5, now_ms=now)
        assert [item.sku for item in top] == ["new", "old"]  # 6 / 2**3 = 0.75 < 2
        assert [i.score for i in top] == pytest.approx([2.0, 0.75], rel=1e-6)
        assert [i.sku for i in await store.top("Apparel", 5, now)] == ["new", "old"]
        assert [i.sku for i in await store.top("Apparel > Topwear", 5, now)] == ["new", "old"]
        overall, home, none = await store.top_many([None, ["Home"], "Toys"], 5, now)
        assert [i.sku for i in overall] == ["new", "lamp", "old"]
        assert [i.sku for i in home] == ["lamp"] and none == []
        later = await store.top(None, 5, now_ms=now + 2 * HOUR)
        assert later[0].score == pytest.approx(0.5, rel=1e-6)  # decayed two half-lives

    run(redis_server, scenario)


def test_trending_renormalises_and_survives_late_events(redis_server, prefix):
    keys = RedisKeys(prefix)
    config = TrendingConfig(half_life_s=3600, renormalise_above=2.0, max_items=4)
    tau = config.tau_ms

    async def scenario(redis):
        store = TrendingStore(redis, keys, config)
        expected: dict[str, float] = {}
        for step in range(12):  # 12 hours: the exponent passes 2.0 several times
            ts = T0 + step * HOUR
            await store.record([TrendingHit("steady", [], 1.0, ts)])
            age = T0 + 11 * HOUR - ts
            expected["steady"] = expected.get("steady", 0.0) + math.exp(-age / tau)
        await store.record([TrendingHit("late", [], 5.0, T0 + 2 * HOUR)])  # out of order
        expected["late"] = 5.0 * math.exp(-9 * HOUR / tau)
        epoch = int(await redis.get(keys.trending_epoch("_all")))
        assert epoch > T0  # renormalised at least once
        top = {i.sku: i.score for i in await store.top(None, 5, now_ms=T0 + 11 * HOUR)}
        assert top == pytest.approx(expected, rel=1e-6)
        for i in range(10):  # bounded: trimmed once 25% past max_items
            await store.record([TrendingHit(f"x{i}", [], 1.0, T0 + 11 * HOUR)])
        assert await redis.zcard(keys.trending("_all")) <= 5
        assert 0 < await redis.ttl(keys.trending("_all")) <= config.ttl_s

    run(redis_server, scenario)


def test_trending_reloads_its_scripts_after_a_flush(redis_server, prefix):
    keys = RedisKeys(prefix)

    async def scenario(redis):
        store = TrendingStore(redis, keys)
        await store.record([TrendingHit("a", [], 1.0, T0)])
        await redis.script_flush()
        await store.record([TrendingHit("b", [], 2.0, T0)])
        assert [i.sku for i in await store.top(None, 5, now_ms=T0)] == ["b", "a"]

    run(redis_server, scenario)


# --- candidate cache -------------------------------------------------------------------------

def meta(config_hash="h1", sources=("item-based/co-visitation",)):
    return CandidateMeta(T0, sources, config_hash, 12)


def test_cache_round_trip_replaces_the_whole_list(redis_server, prefix):
    keys = RedisKeys(prefix)

    async def scenario(redis):
        cache = CandidateCache(redis, keys, config_hash="h1")
        first = [BlendedCandidate("a", 2.0, ("item-based/co-visitation",), "seed", None),
                 BlendedCandidate("b", 1.0, ("popular/trending", "embedding/interest-ann"),
                                  None, "Home > Lighting")]
        summary = UserSummary({"Home": 0.7, "Home > Lighting": 1.0}, frozenset({"p1", "p2"}))
        await cache.write("u1", first, meta(), summary)
        entry = await cache.read("u1", 10)
        assert entry.candidates == first
        assert entry.meta == meta()
        assert [c.sku for c in (await cache.read("u1", 1)).candidates] == ["a"]
        lookup = await cache.lookup("u1", 10)
        assert lookup.status == "hit" and lookup.summary == summary
        await cache.write("u1", [BlendedCandidate("c", 0.5, ("popular/trending",))], meta())
        entry = await cache.read("u1", 10)
        assert [c.sku for c in entry.candidates] == ["c"]
        assert await redis.hkeys(keys.user_candidate_sources("u1")) == [b"c"]
        assert (await cache.lookup("u1", 10)).summary == summary  # untouched when not given
        assert await cache.read("nobody", 10) is None
        assert (await cache.lookup("nobody", 10)).summary == UserSummary()

    run(redis_server, scenario)


def test_cache_reports_the_users_without_a_list_across_chunks(redis_server, prefix):
    keys = RedisKeys(prefix)
    users = [f"u{n}" for n in range(2_500)]  # three MISSING calls of up to 1,000 keys

    async def scenario(redis):
        cache = CandidateCache(redis, keys)
        present = users[::7]
        for user in present:
            await cache.write(user, [BlendedCandidate("a", 1.0, ("popular/trending",))], meta())
        await redis.script_flush()  # the script loads itself again
        missing = await cache.missing(users)
        assert missing == [u for u in users if u not in set(present)]
        assert await cache.missing([]) == []

    run(redis_server, scenario)


def test_cache_ttl_and_expiry(redis_server, prefix):
    keys = RedisKeys(prefix)

    async def scenario(redis):
        cache = CandidateCache(redis, keys, CandidateCacheConfig(ttl_s=1, summary_ttl_s=60))
        await cache.write("u1", [BlendedCandidate("a", 1.0, ("popular/trending",))], meta(),
                          UserSummary({"Home": 1.0}, frozenset({"p"})))
        for key in (keys.user_candidates("u1"), keys.user_candidate_sources("u1"),
                    keys.user_candidate_meta("u1")):
            assert 0 < await redis.pttl(key) <= 1000
        assert 0 < await redis.ttl(keys.user_category_affinity("u1")) <= 60
        assert 0 < await redis.ttl(keys.user_purchased("u1")) <= 60
        await asyncio.sleep(1.1)
        lookup = await cache.lookup("u1", 10)
        assert lookup.entry is None and lookup.status == "missing"
        assert lookup.summary.purchased == frozenset({"p"})  # outlives the list

    run(redis_server, scenario)


def test_cache_config_hash_invalidates(redis_server, prefix):
    keys = RedisKeys(prefix)

    async def scenario(redis):
        writer = CandidateCache(redis, keys)
        await writer.write("u1", [BlendedCandidate("a", 1.0, ("popular/trending",))], meta("old"))
        assert (await CandidateCache(redis, keys, config_hash="old").read("u1", 5)) is not None
        lookup = await CandidateCache(redis, keys, config_hash="new").lookup("u1", 5)
        assert lookup.entry is None and lookup.status == "stale"
        assert await writer.read("u1", 5) is not None  # no expected hash: anything goes
        await writer.write("u2", [], meta("old"))  # an empty list is still an answer
        entry = await CandidateCache(redis, keys, config_hash="old").read("u2", 5)
        assert entry is not None and entry.candidates == []

    run(redis_server, scenario)


# --- the whole user path ---------------------------------------------------------------------

VECTORS = {
    "shirt": unit(1, 0, 0, 0), "tee": unit(0.95, 0.05, 0, 0), "polo": unit(0.8, 0.3, 0, 0),
    "jeans": unit(0.3, 1, 0, 0), "lamp": unit(0, 0, 1, 0), "desk": unit(0, 0, 0.9, 0.3),
}
PATHS = {s: (["Home", "Lighting"] if s in ("lamp", "desk") else ["Apparel", "Topwear"])
         for s in VECTORS}


def events(user, *rows):
    return [{"event_id": f"{user}-{i}", "user_id": user, "session_id": f"{user}-s", "type": kind,
             "sku": sku, "ts": T0 + i * 1000} for i, (sku, kind) in enumerate(rows)]


async def write_item_docs(redis, item_keys):
    for sku in VECTORS:
        doc = item_document({"sku": sku, "title": sku.title(), "category_path": PATHS[sku],
                             "available": True, "updated_at": T0})
        await redis.hset(item_keys.item(sku), mapping=doc)


def test_events_to_cached_candidates_to_recommendations(redis_server, prefix):
    keys, item_keys = RedisKeys(prefix), RedisKeys(prefix)
    index = small_index(VECTORS, PATHS, {s: {"available": True, "category_path": PATHS[s]}
                                         for s in VECTORS})

    async def scenario(redis):
        await write_item_docs(redis, item_keys)
        covis = CoVisitationStore(redis, keys)
        trending = TrendingStore(redis, keys)
        applier = UserEventApplier(index, covis, trending)
        profiles = {}
        # another shopper teaches co-visitation: shirt -> jeans -> lamp
        await applier.apply(events("other", ("shirt", "VIEW"), ("jeans", "VIEW"),
                                   ("lamp", "PURCHASE")), profiles)
        touched = await applier.apply(
            events("u1", ("shirt", "VIEW"), ("polo", "PURCHASE"), ("shirt", "CLICK")), profiles)
        assert touched == ["u1"]
        profile = profiles["u1"]
        assert profile.event_count == 3 and list(profile.purchased) == ["polo"]
        assert profile.top_categories(1, depth=1)[0][0] == "Apparel"
        assert await redis.zscore(keys.co_visitation("polo"), "shirt") > 0

        generator = CandidateGenerator(
            [CoVisitationCandidateSource(covis), InterestAnnCandidateSource(index),
             TrendingCandidateSource(trending)],
            item_lookup=index.metadata)
        refresher = CandidateRefresher(generator, CandidateCache(redis, keys))
        generated = await refresher.refresh(profile)
        skus = [c.sku for c in generated.candidates]
        assert "polo" not in skus  # purchased: never recommended
        assert {"tee", "jeans"} <= set(skus)
        assert generated.removed["purchased"] >= 1

        serving_cache = CandidateCache(redis, keys, config_hash=generator.config_hash())
        pipeline = RecommendationPipeline.standard(
            cache=serving_cache, trending=trending, redis=redis, item_keys=item_keys, index=index)
        result = await pipeline.recommend(RecommendationRequest("u1", k=4))
        assert result.served_from == "cache" and not result.refresh_requested
        assert "polo" not in [i.sku for i in result.items]
        assert all(i.reason for i in result.items)
        assert any(i.reason == "because you viewed Shirt" for i in result.items)
        assert result.timings_ms["total"] < 1_000

        cold = await pipeline.recommend(RecommendationRequest("new-user", k=3))
        assert cold.served_from == "fallback" and cold.refresh_requested
        assert cold.items and {i.source for i in cold.items} == {"fallback"}

        in_home = await pipeline.recommend(RecommendationRequest("u1", k=5, category="Home"))
        assert in_home.items and {i.sku for i in in_home.items} <= {"lamp", "desk"}

        with_context = await pipeline.recommend(
            RecommendationRequest("u1", k=10, context_sku="lamp"))
        reasons = {i.sku: i.reason for i in with_context.items}
        assert "lamp" not in reasons and reasons["desk"] == "similar to Lamp"

        stale = RecommendationPipeline.standard(
            cache=CandidateCache(redis, keys, config_hash="another-config"), trending=trending,
            redis=redis, item_keys=item_keys, index=index)
        result = await stale.recommend(RecommendationRequest("u1", k=3))
        assert result.served_from == "fallback" and result.refresh_requested
        assert "polo" not in [i.sku for i in result.items]  # the summary still knows

    run(redis_server, scenario)


def test_serving_latency_is_milliseconds(redis_server, prefix):
    keys, item_keys = RedisKeys(prefix), RedisKeys(prefix)
    rng = np.random.default_rng(7)
    vectors = {f"i{n}": unit(*rng.normal(size=16)) for n in range(400)}
    index = small_index(vectors)

    async def scenario(redis):
        for sku in vectors:
            await redis.hset(item_keys.item(sku), mapping=item_document(
                {"sku": sku, "title": sku, "category_path": ["C", sku[-1]], "updated_at": T0}))
        cache = CandidateCache(redis, keys)
        await cache.write("u1", [BlendedCandidate(s, 1.0 / (n + 1), ("embedding/interest-ann",))
                                 for n, s in enumerate(list(vectors)[:200])], meta())
        pipeline = RecommendationPipeline.standard(
            cache=cache, trending=TrendingStore(redis, keys), redis=redis, item_keys=item_keys,
            index=index)
        await pipeline.recommend(RecommendationRequest("u1", k=20))  # warm up
        started = time.perf_counter()
        for _ in range(20):
            result = await pipeline.recommend(RecommendationRequest("u1", k=20, context_sku="i0"))
        per_request_ms = (time.perf_counter() - started) * 1000 / 20
        assert len(result.items) == 20
        assert per_request_ms < 100, result.timings_ms  # a generous bound on a shared 2-core box
        return per_request_ms, result.timings_ms

    mean_ms, timings = run(redis_server, scenario)
    print(f"recommendation mean: {mean_ms:.1f} ms; last request by stage: {timings}")
