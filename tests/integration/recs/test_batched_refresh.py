"""Batched candidate refresh (``generate_many``, ``write_many``, ``refresh_many``) gives
exactly what the per-user path gives, against the suite's real Redis."""

import asyncio
import uuid

import numpy as np
import pytest

from streamrec.recs.candidate import BlendedCandidate, Candidate
from streamrec.recs.candidate_cache import CandidateCache, CandidateMeta, UserSummary
from streamrec.recs.candidate_generator import (
    CandidateGenerator,
    CandidateGeneratorConfig,
    SourceSpec,
)
from streamrec.recs.candidate_refresher import CandidateRefresher
from streamrec.recs.co_visitation_candidate_source import CoVisitationCandidateSource
from streamrec.recs.co_visitation_store import CoVisitationStore
from streamrec.recs.interest_ann_candidate_source import InterestAnnCandidateSource
from streamrec.recs.trending_candidate_source import TrendingCandidateSource
from streamrec.recs.trending_store import TrendingStore
from streamrec.recs.user_event_applier import UserEventApplier
from streamrec.recs.user_profile import UserProfile
from streamrec.redis_keys import RedisKeys
from tests.integration.recs.redis_scenario import run
from tests.unit.recs.recs_fakes import FailingSource, StaticSource, small_index

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000
CATEGORIES = [["Apparel", "Tops"], ["Apparel", "Shoes"], ["Home", "Lighting"],
              ["Home", "Desks"], ["Garden"]]


@pytest.fixture
def keys():
    return RedisKeys(f"t{uuid.uuid4().hex[:10]}:")


def catalog(n=300, seed=3):
    """Clustered unit vectors (one cluster per category), so ANN and co-visitation agree."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CATEGORIES), 32))
    vectors, paths, metadata = {}, {}, {}
    for i in range(n):
        cluster = i % len(CATEGORIES)
        v = (centres[cluster] + 0.4 * rng.normal(size=32)).astype(np.float32)
        sku = f"i{i}"
        vectors[sku] = v / np.linalg.norm(v)
        paths[sku] = CATEGORIES[cluster]
        metadata[sku] = {"available": i % 17 != 0, "category_path": CATEGORIES[cluster]}
    return vectors, paths, metadata


def history(users=60, per_user=8, seed=5):
    """Events of ``users`` shoppers, each mostly in one category, some purchases."""
    rng = np.random.default_rng(seed)
    out = []
    for u in range(users):
        home = int(rng.integers(len(CATEGORIES)))
        for j in range(int(rng.integers(1, per_user + 1))):
            cluster = home if rng.random() < 0.8 else int(rng.integers(len(CATEGORIES)))
            sku = f"i{cluster + len(CATEGORIES) * int(rng.integers(60))}"
            kind = ["VIEW", "VIEW", "CLICK", "ADD_TO_CART", "PURCHASE"][int(rng.integers(5))]
            out.append({"event_id": f"u{u}-{j}", "user_id": f"u{u}", "session_id": f"s{u}",
                        "type": kind, "sku": sku, "ts": T0 + (u * 100 + j) * 1000})
    return out


async def populated(redis, keys):
    """Real stores filled through the real applier; the generator the worker builds."""
    vectors, paths, metadata = catalog()
    index = small_index(vectors, paths, metadata)
    covis, trending = CoVisitationStore(redis, keys), TrendingStore(redis, keys)
    profiles: dict[str, UserProfile] = {}
    await UserEventApplier(index, covis, trending).apply(history(), profiles)
    profiles["cold"] = UserProfile("cold")  # no events: nothing but trending overall
    # trending lists cached long enough that both paths read the same ones
    generator = CandidateGenerator(
        [CoVisitationCandidateSource(covis), InterestAnnCandidateSource(index),
         TrendingCandidateSource(trending, cache_s=600.0)],
        item_lookup=index.metadata)
    return generator, profiles


def assert_same(one, many):
    # the batch's ANN scores come from a matrix product, one user's from the graph walk:
    # equal up to float rounding; skus, order, sources and vias exactly
    def shape(generated):
        return [(c.sku, c.sources, c.via_sku, c.via_category) for c in generated.candidates]

    assert shape(many) == shape(one)
    assert [c.score for c in many.candidates] == pytest.approx(
        [c.score for c in one.candidates], rel=1e-6)
    assert many.sources_used == one.sources_used
    assert many.fetched == one.fetched
    assert many.removed == one.removed
    assert many.errors == one.errors


def test_generate_many_equals_generate_per_user(redis_server, keys):
    async def scenario(redis):
        generator, profiles = await populated(redis, keys)
        users = list(profiles)
        many = await generator.generate_many([profiles[u] for u in users])
        assert len(many) == len(users)
        explained = 0
        for user, batched in zip(users, many, strict=True):
            single = await generator.generate(profiles[user])
            assert_same(single, batched)
            explained += sum(1 for c in batched.candidates if c.via_sku)
        assert explained > 0  # the ANN and co-visitation explanations were compared too
        assert any(g.fetched.get("item-based/co-visitation") for g in many)
        assert any(g.fetched.get("embedding/interest-ann") for g in many)
        assert many[users.index("cold")].fetched["embedding/interest-ann"] == 0
        # batches of other sizes and orders give the same lists
        again = await generator.generate_many([profiles[u] for u in reversed(users[:7])])
        for user, batched in zip(reversed(users[:7]), again, strict=True):
            assert_same(many[users.index(user)], batched)

    run(redis_server, scenario)


def test_generate_many_of_nothing_and_sources_without_fetch_many():
    static = StaticSource("popular/trending", [("a", 2.0), ("b", 1.0)])
    generator = CandidateGenerator([static], CandidateGeneratorConfig(
        sources=(SourceSpec("popular/trending"),)))
    assert asyncio.run(generator.generate_many([])) == []
    profiles = [UserProfile("u1"), UserProfile("u2")]
    many = asyncio.run(generator.generate_many(profiles))
    assert static.calls == 2  # the fallback gathers fetch per user
    assert [[c.sku for c in g.candidates] for g in many] == [["a", "b"], ["a", "b"]]


class FailingBatchSource:
    name = "broken/batched"
    config = None

    async def fetch(self, profile, k):
        raise ConnectionError("redis down")

    async def fetch_many(self, profiles, k):
        raise ConnectionError("redis down")


class ShortBatchSource:
    """A fetch_many that answers for fewer users than asked: an error, not a shift."""

    name = "broken/short"
    config = None

    async def fetch(self, profile, k):
        return [Candidate("z", 1.0, self.name)]

    async def fetch_many(self, profiles, k):
        return [[Candidate("z", 1.0, self.name)]]


def test_a_failing_source_in_a_batch_leaves_the_others(redis_server, keys):
    async def scenario(redis):
        generator, profiles = await populated(redis, keys)
        sources = [*generator.sources, FailingSource(), FailingBatchSource(), ShortBatchSource()]
        specs = (*generator.config.sources, SourceSpec("broken/source"),
                 SourceSpec("broken/batched"), SourceSpec("broken/short"))
        broken = CandidateGenerator(sources, CandidateGeneratorConfig(sources=specs),
                                    item_lookup=generator.item_lookup)
        users = ["u1", "u2", "u3", "cold"]
        many = await broken.generate_many([profiles[u] for u in users])
        for user, batched in zip(users, many, strict=True):
            healthy = await generator.generate(profiles[user])
            assert set(batched.errors) == {"broken/source", "broken/batched", "broken/short"}
            assert batched.candidates == healthy.candidates
            assert batched.sources_used == healthy.sources_used
            single = await broken.generate(profiles[user])
            assert "broken/short" in single.sources_used  # alone, its fetch answers
        # a short answer from fetch_many is refused as a whole, not misassigned
        assert "RuntimeError" in many[0].errors["broken/short"]

    run(redis_server, scenario)


def meta(hash_="h1", count=3):
    return CandidateMeta(1_700_000_000_123, ("popular/trending", "embedding/interest-ann"),
                         hash_, count)


async def stored(redis, keys, user):
    """Everything ``write`` leaves for a user: values and TTLs of all five keys."""
    out = {}
    for name, key in {"z": keys.user_candidates(user), "s": keys.user_candidate_sources(user),
                      "m": keys.user_candidate_meta(user),
                      "a": keys.user_category_affinity(user),
                      "p": keys.user_purchased(user)}.items():
        kind = (await redis.type(key)).decode()
        if kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "set":
            value = sorted(await redis.smembers(key))
        else:
            value = None
        ttl = await redis.ttl(key)
        out[name] = (kind, value, ttl if ttl < 0 else round(ttl, -2))
    return out


def test_write_many_writes_what_write_writes(redis_server, keys):
    other = RedisKeys(keys.prefix + "many:")
    candidates = [
        BlendedCandidate("a", 1.2345678901234567, ("item-based/co-visitation",), "x", None),
        BlendedCandidate("b", 0.1 + 0.2, ("popular/trending", "embedding/interest-ann"),
                         None, "Home>Lighting"),
        BlendedCandidate("a", 0.5, ("popular/trending",)),  # a duplicate sku: first wins
        BlendedCandidate("c", 1e-9, ()),
        BlendedCandidate('Caf\u00e9 "n\u00b01"/\\x', 2 / 3, ("popular/trending",), None,
                         "Maison > \u00c9t\u00e9"),  # JSON must carry anything
    ]
    summary = UserSummary({"Home": 0.75, "Home>Lighting": 1 / 3, "\u00c9t\u00e9 \"x\"": 0.25},
                          frozenset({"p1", "p2", "\u00fc \\ \""}))
    entries = [
        ("u1", candidates, meta(), summary),
        ("u2", [], meta("h2", 0), UserSummary()),  # empty list and empty summary
        ("u3", candidates[:1], meta(), None),  # no summary: the old one stays
    ]

    async def scenario(redis):
        one, many = CandidateCache(redis, keys), CandidateCache(redis, other)
        for cache in (one, many):  # stale leftovers both writes must replace
            await cache.write("u1", [BlendedCandidate("old", 9.0, ())], meta("old"),
                              UserSummary({"Old": 1.0}, frozenset({"old"})))
            await cache.write("u3", [BlendedCandidate("old", 9.0, ())], meta("old"),
                              UserSummary({"Old": 1.0}, frozenset({"old"})))
        for entry in entries:
            await one.write(*entry)
        await many.write_many(entries)
        for user, *_ in entries:
            assert await stored(redis, other, user) == await stored(redis, keys, user)
        assert (await many.read("u1", 10)).candidates == (await one.read("u1", 10)).candidates
        assert (await stored(redis, other, "u3"))["p"][1] == [b"old"]
        await many.write_many([])  # nothing to write: no round trip, no error

    run(redis_server, scenario)


def test_refresh_many_writes_what_refresh_writes(redis_server, keys):
    async def scenario(redis):
        generator, profiles = await populated(redis, keys)
        clock = lambda: 1_700_000_000.5  # noqa: E731
        one = CandidateRefresher(generator, CandidateCache(redis, keys), clock)
        other = RedisKeys(keys.prefix + "many:")
        many = CandidateRefresher(generator, CandidateCache(redis, other), clock)
        users = ["u1", "u4", "u9", "cold"]
        assert await many.refresh_many([]) == {}
        assert await redis.keys(f"{other.prefix}*") == []  # an empty batch writes nothing
        generated = await many.refresh_many([profiles[u] for u in users])
        assert list(generated) == users
        for user in users:
            single = await one.refresh(profiles[user])
            assert_same(single, generated[user])
            assert await stored(redis, other, user) == await stored(redis, keys, user)

    run(redis_server, scenario)
