"""The two-speed refresh's fast path (``IncrementalCandidateUpdater``) on real Redis."""

import uuid

import pytest

from streamrec.recs.candidate import BlendedCandidate
from streamrec.recs.candidate_cache import (
    CandidateCache,
    CandidateCacheConfig,
    CandidateMeta,
    UserSummary,
)
from streamrec.recs.candidate_generator import (
    CandidateGenerator,
    CandidateGeneratorConfig,
    SourceSpec,
)
from streamrec.recs.candidate_refresher import CandidateRefresher
from streamrec.recs.co_visitation_candidate_source import CoVisitationCandidateSource
from streamrec.recs.co_visitation_store import CoVisitationStore
from streamrec.recs.incremental_candidate_updater import (
    IncrementalCandidateUpdater,
    IncrementalUpdateConfig,
)
from streamrec.recs.trending_store import TrendingStore
from streamrec.recs.user_event_applier import UserEventApplier
from streamrec.recs.user_profile import UserProfile
from streamrec.redis_keys import RedisKeys
from tests.integration.recs.redis_scenario import run
from tests.unit.recs.recs_fakes import StaticSource

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000
COVIS = "item-based/co-visitation"
NOW_S = 1_700_000_100.25


@pytest.fixture
def keys():
    return RedisKeys(f"t{uuid.uuid4().hex[:10]}:")


def parts(redis, keys, top_n=4, ttl_s=3600):
    covis = CoVisitationStore(redis, keys)
    generator = CandidateGenerator(
        [CoVisitationCandidateSource(covis), StaticSource("popular/trending", [])],
        config=CandidateGeneratorConfig(
            sources=(SourceSpec(COVIS, 1.0, 60), SourceSpec("popular/trending", 0.3, 30)),
            top_n=top_n))
    cache = CandidateCache(redis, keys, CandidateCacheConfig(ttl_s=ttl_s),
                           config_hash=generator.config_hash())
    return covis, generator, cache, IncrementalCandidateUpdater(generator, cache,
                                                                clock=lambda: NOW_S)


def event(n, sku, kind="VIEW", user="u1"):
    return {"event_id": f"e{n}", "user_id": user, "session_id": "s", "type": kind,
            "sku": sku, "ts": T0 + n * 1000}


def test_the_update_decays_adds_removes_trims_and_keeps_meta_and_ttl(redis_server, keys):
    async def scenario(redis):
        _, generator, cache, updater = parts(redis, keys)
        await redis.zadd(keys.co_visitation("n1"), {"x": 4.0, "p": 3.0, "y": 2.0, "a": 1.0,
                                                    "b": 5.0})
        await cache.write("u1", [
            BlendedCandidate("a", 1.0, ("popular/trending",), None, "Home"),
            BlendedCandidate("b", 0.9, ("embedding/interest-ann",), "q", None),
            BlendedCandidate("c", 0.5, ("popular/trending",), None, "Home"),
            BlendedCandidate("d", 0.2, ("popular/trending",), None, "Garden"),
        ], CandidateMeta(T0, ("popular/trending",), generator.config_hash(), 1),
            UserSummary({"Home": 1.0}, frozenset({"p"})))
        await redis.expire(keys.user_candidates("u1"), 100)  # renewed by the update
        profile = UserProfile("u1")
        profile.apply(event(0, "old"), None, None)
        new = [event(1, "n1"), event(2, "b", "PURCHASE")]
        for e in new:
            profile.apply(e, None, None)

        assert await updater.update_many([(profile, new)]) == {"u1": "updated"}

        entry = await cache.read("u1", 10)
        got = {c.sku: c for c in entry.candidates}
        # anchors: b (PURCHASE 3.0, newest) has no row; n1 (VIEW 1.0 * 0.8) -> row / 4
        # x 0.8, p (purchased before) skipped, y 0.4, a 0.2; b purchased now: removed;
        # normalised by the best (x), times the source weight 1.0, added to 0.8 * old
        assert [c.sku for c in entry.candidates] == ["a", "x", "y", "c"]  # d trimmed
        assert got["a"].score == pytest.approx(0.8 * 1.0 + 0.25)
        assert got["x"].score == pytest.approx(1.0)
        assert got["y"].score == pytest.approx(0.5)
        assert got["c"].score == pytest.approx(0.4)
        assert got["x"].sources == (COVIS,) and got["x"].via_sku == "n1"
        assert got["a"].sources == ("popular/trending", COVIS)  # old contribution larger
        assert got["a"].via_sku == "n1" and got["a"].via_category == "Home"
        assert got["c"].sources == ("popular/trending",) and got["c"].via_category == "Home"
        assert not await redis.hexists(keys.user_candidate_sources("u1"), "d")
        assert not await redis.hexists(keys.user_candidate_sources("u1"), "b")
        assert await redis.smembers(keys.user_purchased("u1")) == {b"p", b"b"}
        # decayed by its scale, not rewritten: the stored scores are the old ones
        assert entry.meta == CandidateMeta(int(NOW_S * 1000), ("popular/trending", COVIS),
                                           generator.config_hash(), 3, "incremental", 0.8)
        for key in (keys.user_candidates("u1"), keys.user_candidate_sources("u1"),
                    keys.user_candidate_meta("u1")):
            assert 3500 < await redis.ttl(key) <= 3600
        assert await redis.ttl(keys.user_purchased("u1")) > 0

        # a second update: the new item dominates an existing one -> listed first
        await redis.zadd(keys.co_visitation("n2"), {"c": 1.0})
        profile.apply(event(3, "n2"), None, None)
        await updater.update_many([(profile, [event(3, "n2")])])
        entry = await cache.read("u1", 10)
        c = {x.sku: x for x in entry.candidates}["c"]
        assert c.score == pytest.approx(0.4 * 0.8 + 1.0)
        assert c.sources == (COVIS, "popular/trending") and c.via_sku == "n2"
        assert entry.meta.event_count == 4
        assert entry.meta.scale == pytest.approx(0.64)
        assert {x.sku: x.score for x in entry.candidates}["a"] == pytest.approx(
            (0.8 * 1.0 + 0.25) * 0.8)  # the earlier update's score, decayed once more

    run(redis_server, scenario)


def test_a_missing_or_stale_list_is_started_afresh(redis_server, keys):
    async def scenario(redis):
        _, generator, cache, updater = parts(redis, keys)
        await redis.zadd(keys.co_visitation("n1"), {"x": 2.0, "y": 1.0})
        await cache.write("u2", [BlendedCandidate("old", 9.0, ("popular/trending",))],
                          CandidateMeta(T0, ("popular/trending",), "another-config", 7))
        profile = UserProfile("u1")
        new = [event(1, "n1")]
        profile.apply(new[0], None, None)
        other = UserProfile("u2")
        other.apply(event(1, "n1", user="u2"), None, None)
        statuses = await updater.update_many([(profile, new), (other, [event(1, "n1", "VIEW",
                                                                             "u2")])])
        assert statuses == {"u1": "created", "u2": "created"}
        for user in ("u1", "u2"):
            entry = await cache.read(user, 10)
            assert [(c.sku, c.via_sku) for c in entry.candidates] == [("x", "n1"),
                                                                       ("y", "n1")]
            assert entry.meta.mode == "incremental" and entry.meta.sources == (COVIS,)
            assert entry.meta.config_hash == generator.config_hash()
            assert entry.meta.event_count == 1  # the profile's, not the stale list's
        assert await updater.update_many([]) == {}

    run(redis_server, scenario)


def test_a_purchase_and_a_new_co_visited_item_show_at_once(redis_server, keys):
    """Through the worker's own steps: applier, full refresh, then the fast path."""
    async def scenario(redis):
        covis = CoVisitationStore(redis, keys)
        applier = UserEventApplier(None, covis, TrendingStore(redis, keys))
        generator = CandidateGenerator([CoVisitationCandidateSource(covis)],
                                       config=CandidateGeneratorConfig(
                                           sources=(SourceSpec(COVIS, 1.0, 60),)))
        cache = CandidateCache(redis, keys, config_hash=generator.config_hash())
        updater = IncrementalCandidateUpdater(generator, cache)
        profiles: dict[str, UserProfile] = {}
        background = [event(n, sku, user=f"bg{n // 3}") for n, sku in enumerate(
            ["a", "b", "c", "a", "b", "d"])]
        await applier.apply(background, profiles)
        mine = [event(10, "a"), event(11, "b")]
        await applier.apply(mine, profiles)
        await CandidateRefresher(generator, cache).refresh(profiles["u1"])
        before = await cache.read("u1", 10)
        assert {"c", "d"} <= {c.sku for c in before.candidates}
        assert before.meta.mode == "full"

        # someone pairs "e" with "f"; our user views "e" and buys "c"
        await applier.apply([event(20, "e", user="bg9"), event(21, "f", user="bg9")],
                            profiles)
        new = [event(22, "e"), event(23, "c", "PURCHASE")]
        await applier.apply(new, profiles)
        assert await updater.update_many([(profiles["u1"], new)]) == {"u1": "updated"}
        after = await cache.read("u1", 10)
        skus = [c.sku for c in after.candidates]
        assert "c" not in skus
        assert skus[0] == "f" and after.candidates[0].via_sku == "e"
        assert after.meta.event_count == profiles["u1"].event_count == 4
        lookup = await cache.lookup("u1", 10)
        assert "c" in lookup.summary.purchased

    run(redis_server, scenario)


def test_the_scale_is_multiplied_out_before_it_underflows(redis_server, keys):
    async def scenario(redis):
        _, generator, cache, _ = parts(redis, keys, top_n=10)
        updater = IncrementalCandidateUpdater(generator, cache,
                                              IncrementalUpdateConfig(decay=1e-31),
                                              clock=lambda: NOW_S)
        await redis.zadd(keys.co_visitation("n1"), {"x": 2.0})
        await redis.zadd(keys.co_visitation("n2"), {"y": 1.0})
        profile = UserProfile("u1")
        for n, sku in ((1, "n1"), (2, "n2")):
            profile.apply(event(n, sku), None, None)
            await updater.update_many([(profile, [event(n, sku)])])
        entry = await cache.read("u1", 10)
        # 1e-31 twice passes 1e-60: the stored scores were multiplied out, the scale reset
        assert entry.meta.scale == 1.0
        got = {c.sku: c.score for c in entry.candidates}
        assert got["y"] == pytest.approx(1.0)
        assert got["x"] == pytest.approx(1e-31, rel=1e-9)  # x's 1.0, decayed once
        stored = dict(await redis.zrange(keys.user_candidates("u1"), 0, -1, withscores=True))
        assert stored[b"y"] == pytest.approx(1.0)  # stored == true after the reset

    run(redis_server, scenario)


def test_only_the_best_neighbours_of_a_row_are_scored(redis_server, keys):
    async def scenario(redis):
        _, generator, cache, _ = parts(redis, keys, top_n=10)
        updater = IncrementalCandidateUpdater(
            generator, cache, IncrementalUpdateConfig(neighbours=3), clock=lambda: NOW_S)
        await redis.zadd(keys.co_visitation("n1"), {f"x{n}": 10.0 - n for n in range(6)})
        profile = UserProfile("u1")
        new = [event(1, "n1")]
        profile.apply(new[0], None, None)
        assert await updater.update_many([(profile, new)]) == {"u1": "created"}
        entry = await cache.read("u1", 10)
        # the row's best 3 of 6, normalised by the best: 1.0, 0.9, 0.8
        assert [(c.sku, round(c.score, 6)) for c in entry.candidates] == [
            ("x0", 1.0), ("x1", 0.9), ("x2", 0.8)]
        assert all(c.via_sku == "n1" for c in entry.candidates)

    run(redis_server, scenario)


def test_neighbours_must_be_positive():
    with pytest.raises(ValueError, match="neighbours"):
        IncrementalUpdateConfig(neighbours=0)


def test_round_trips_of_a_few_users_give_every_user_their_own_result(redis_server, keys):
    async def scenario(redis):
        _, generator, cache, _ = parts(redis, keys, top_n=10)
        updater = IncrementalCandidateUpdater(
            generator, cache, IncrementalUpdateConfig(users_per_round_trip=2),
            clock=lambda: NOW_S)
        await redis.zadd(keys.co_visitation("n1"), {"x": 2.0, "y": 1.0})
        # u2 and u4 have a current list (updated), the others none (created): 5 users in
        # 3 round trips, statuses matched to their users
        for user in ("u2", "u4"):
            await cache.write(user, [BlendedCandidate("old", 1.0, ("popular/trending",))],
                              CandidateMeta(T0, ("popular/trending",),
                                            generator.config_hash(), 1))
        updates = []
        for n in range(1, 6):
            user = f"u{n}"
            profile = UserProfile(user)
            new = [event(n, "n1", user=user)]
            profile.apply(new[0], None, None)
            updates.append((profile, new))
        statuses = await updater.update_many(updates)
        assert statuses == {"u1": "created", "u2": "updated", "u3": "created",
                            "u4": "updated", "u5": "created"}
        for n in range(1, 6):
            skus = [c.sku for c in (await cache.read(f"u{n}", 10)).candidates]
            # x 1.0 and y 0.5 from n1; a kept list's "old" decayed to 0.8
            assert skus == (["x", "old", "y"] if n in (2, 4) else ["x", "y"])

    run(redis_server, scenario)


def test_round_trip_size_must_be_positive():
    with pytest.raises(ValueError, match="users_per_round_trip"):
        IncrementalUpdateConfig(users_per_round_trip=0)


def test_the_newest_items_themselves_enter_where_seen_items_stay(redis_server, keys):
    """With ``history/recently-viewed`` configured (seen items not filtered), the fast path
    adds the items just viewed, scored as that source's blend would score them."""
    from streamrec.recs.recently_viewed_candidate_source import RecentlyViewedCandidateSource

    history = "history/recently-viewed"

    async def scenario(redis):
        covis = CoVisitationStore(redis, keys)
        generator = CandidateGenerator(
            [CoVisitationCandidateSource(covis), RecentlyViewedCandidateSource()],
            config=CandidateGeneratorConfig(
                sources=(SourceSpec(COVIS, 1.0, 60), SourceSpec(history, 0.5, 20)),
                top_n=10))
        cache = CandidateCache(redis, keys, CandidateCacheConfig(ttl_s=3600),
                               config_hash=generator.config_hash())
        updater = IncrementalCandidateUpdater(generator, cache, clock=lambda: NOW_S)
        await redis.zadd(keys.co_visitation("n1"), {"x": 2.0, "old": 1.0})
        await cache.write("u1", [BlendedCandidate("old", 0.4, (history,), "old", None)],
                          CandidateMeta(T0, (history,), generator.config_hash(), 1),
                          UserSummary({}, frozenset()))
        profile = UserProfile("u1")
        profile.apply(event(0, "old"), None, None)
        new = [event(1, "n1", "CLICK"), event(2, "gift", "PURCHASE")]
        for e in new:
            profile.apply(e, None, None)

        assert await updater.update_many([(profile, new)]) == {"u1": "updated"}

        entry = await cache.read("u1", 10)
        got = {c.sku: c for c in entry.candidates}
        # recent weights: gift 3.0 (newest; bought: never added), n1 2.0 * 0.8, old 0.8^2;
        # max-normalised by gift's 3.0, times 0.5
        assert got["n1"].score == pytest.approx(0.5 * 1.6 / 3.0)
        assert got["n1"].sources == (history,) and got["n1"].via_sku == "n1"
        assert "gift" not in got
        assert got["x"].sources == (COVIS,)  # co-visitation never returns its anchors ...
        assert got["old"].score == pytest.approx(0.4 * 0.8)  # ... so "old" only decays
        assert set(entry.meta.sources) == {history, COVIS}

    run(redis_server, scenario)
