"""The users worker's batched Redis writes (script calls instead of one command per pair,
hit, event or profile) against the suite's real Redis: same results as the per-command
writes they replaced, sets bounded, TTLs set."""

import random
import uuid

import orjson
import pytest

from streamrec.agents.user_event_recorder import (
    EVENTS_PER_CALL,
    POPULARITY_WEIGHTS,
    RECENT_FIELDS,
    UserEventRecorder,
)
from streamrec.recs.co_visitation_store import CoVisit, CoVisitationConfig, CoVisitationStore
from streamrec.recs.user_profile import UserProfile
from streamrec.recs.user_profile_store import PROFILES_PER_CALL, UserProfileStore
from streamrec.redis_keys import RedisKeys
from tests.integration.recs.redis_scenario import run

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000


def new_keys() -> RedisKeys:
    return RedisKeys(f"t{uuid.uuid4().hex[:10]}:")


def random_visits(rng: random.Random, n: int, items: int = 40) -> list[CoVisit]:
    skus = [f"i{k}" for k in range(items)]
    return [CoVisit([rng.choice(skus) for _ in range(rng.randint(0, 7))], rng.choice(skus),
                    rng.choice([1.0, 2.0, 3.0])) for _ in range(n)]


async def per_pair_record(redis, store: CoVisitationStore, visits: list[CoVisit]) -> None:
    """The writes ``record`` replaced: one ZINCRBY per (item, neighbour)."""
    pipe = redis.pipeline(transaction=False)
    for item, row in store.increments(visits).items():
        for neighbour, weight in row.items():
            pipe.zincrby(store.keys.co_visitation(item), weight, neighbour)
    await pipe.execute()


async def all_rows(redis, keys: RedisKeys, items: int = 40) -> dict[str, dict[bytes, float]]:
    return {f"i{k}": dict(await redis.zrange(keys.co_visitation(f"i{k}"), 0, -1,
                                             withscores=True)) for k in range(items)}


@pytest.mark.parametrize("items_per_call", [0, 1, 7, 64])
def test_co_visitation_script_adds_exactly_what_per_pair_writes_added(redis_server,
                                                                     items_per_call):
    rng = random.Random(items_per_call)
    batches = [random_visits(rng, 60) for _ in range(5)]
    # no trims, so both sides keep every neighbour
    config = CoVisitationConfig(distance_decay=0.7, trim_every=1000, max_neighbours=1000,
                                items_per_call=items_per_call)

    async def scenario(redis):
        script_keys, pair_keys = new_keys(), new_keys()
        scripted = CoVisitationStore(redis, script_keys, config)
        per_pair = CoVisitationStore(redis, pair_keys, config)
        for visits in batches:
            await scripted.record(visits)
            await per_pair_record(redis, per_pair, visits)
        got, expected = await all_rows(redis, script_keys), await all_rows(redis, pair_keys)
        assert any(got.values())
        assert got == expected  # bit for bit: the doubles round-trip through JSON

    run(redis_server, scenario)


def test_co_visitation_trims_and_refreshes_the_ttl_in_the_script(redis_server):
    keys = new_keys()

    async def scenario(redis):
        store = CoVisitationStore(redis, keys, CoVisitationConfig(
            window=1, max_neighbours=3, trim_every=4, ttl_s=600, items_per_call=1))
        hub = keys.co_visitation("hub")
        for i in range(3):
            await store.record([CoVisit([f"n{i}"], "hub", weight=1.0 + i)])
        assert 590 < await redis.ttl(hub) <= 600  # set at the first write
        await redis.expire(hub, 30)
        await store.record([CoVisit(["n3"], "hub", weight=4.0)])  # the 4th write: trim
        assert await redis.zrevrange(hub, 0, -1) == [b"n3", b"n2", b"n1"]
        assert 590 < await redis.ttl(hub) <= 600  # refreshed with the trim
        for i in range(4, 40):  # stays bounded: at most M + trim_every - 1 between trims
            await store.record([CoVisit([f"n{i}"], "hub", weight=float(i))])
            assert await redis.zcard(hub) <= 3 + 4 - 1
        assert await redis.ttl(keys.co_visitation("n0")) > 0  # the other direction too

    run(redis_server, scenario)


def test_co_visitation_reloads_its_script_after_a_flush(redis_server):
    keys = new_keys()

    async def scenario(redis):
        store = CoVisitationStore(redis, keys)
        await store.record([CoVisit(["a"], "b")])
        await redis.script_flush()
        await store.record([CoVisit(["a"], "b")])
        assert await redis.zscore(keys.co_visitation("b"), "a") == 2.0

    run(redis_server, scenario)


def recorded_event(n: int, user: str, sku: str | None, kind: str = "VIEW") -> dict:
    return {"event_id": f"{user}-{n}", "user_id": user, "session_id": "s", "type": kind,
            "sku": sku, "query": None if sku else "lamp", "ts": T0 + n}


def test_recorder_deduplicates_in_order_across_calls_and_batches(redis_server):
    keys = new_keys()
    kinds = ["VIEW", "CLICK", "ADD_TO_CART", "PURCHASE", "SEARCH"]
    events = [recorded_event(n, f"u{n % 7}", None if n % 11 == 0 else f"s{n % 5}",
                             kinds[n % len(kinds)]) for n in range(2 * EVENTS_PER_CALL + 9)]
    events.insert(100, dict(events[3]))  # a redelivery inside the batch, in another call

    async def scenario(redis):
        recorder = UserEventRecorder(redis, keys, max_recent=5, dedup_ttl_s=60)
        applied = await recorder.record(events)
        assert applied == [i != 100 for i in range(len(events))]
        late = recorded_event(999, "u1", "s1")
        assert await recorder.record([*events[:3], late]) == [False, False, False, True]
        fresh = [*(e for i, e in enumerate(events) if i != 100), late]
        for user in {e["user_id"] for e in fresh}:
            mine = [e for e in fresh if e["user_id"] == user]
            assert int(await redis.get(keys.user_event_count(user))) == len(mine)
            summaries = [orjson.dumps({k: e.get(k) for k in RECENT_FIELDS})
                         for e in reversed(mine)]
            assert await redis.lrange(keys.user_recent(user), 0, -1) == summaries[:5]
            assert 0 < await redis.ttl(keys.event_seen(user, mine[0]["event_id"])) <= 60
        popularity: dict[str, float] = {}
        for e in fresh:
            weight = POPULARITY_WEIGHTS.get(e["type"], 0.0)
            if e["sku"] and weight:
                popularity[e["sku"]] = popularity.get(e["sku"], 0.0) + weight
        stored = await redis.zrange(keys.popular(), 0, -1, withscores=True)
        assert {m.decode(): s for m, s in stored} == popularity
        assert await recorder.record([]) == []

    run(redis_server, scenario)


def test_profiles_round_trip_in_batched_commands(redis_server):
    keys = new_keys()
    users = [f"u{n}" for n in range(2 * PROFILES_PER_CALL + 5)]

    async def scenario(redis):
        store = UserProfileStore(redis, keys, ttl_s=120)
        profiles = []
        for n, user in enumerate(users):
            profile = UserProfile(user)
            profile.apply({"type": "VIEW", "sku": f"s{n}", "ts": T0 + n}, None, ["A", f"B{n}"])
            profiles.append(profile)
        await store.save_many(profiles)
        await store.save_many([])
        loaded = await store.load_many([*reversed(users), "nobody", users[0]])
        assert list(loaded) == list(reversed(users))  # users without a profile left out
        assert {u: p.to_bytes() for u, p in loaded.items()} == {
            p.user_id: p.to_bytes() for p in profiles}
        assert 110 < await redis.ttl(keys.user_profile(users[-1])) <= 120
        assert await store.load_many([]) == {}

    run(redis_server, scenario)
