import asyncio

import pytest

from streamrec.indexer.hnsw_shard import SearchHit
from streamrec.recs.co_visitation_candidate_source import CoVisitationCandidateSource
from streamrec.recs.co_visitation_store import Neighbour
from streamrec.recs.interest_ann_candidate_source import InterestAnnCandidateSource
from streamrec.recs.recently_viewed_candidate_source import (
    RecentlyViewedCandidateSource,
    RecentlyViewedSourceConfig,
)
from streamrec.recs.trending_candidate_source import TrendingCandidateSource
from streamrec.recs.user_profile import UserProfile
from tests.unit.recs.recs_fakes import FakeTrending, small_index, unit

T0 = 1_700_000_000_000
VECTORS = {
    "shirt": unit(1, 0, 0, 0), "tee": unit(0.9, 0.1, 0, 0), "polo": unit(0.8, 0.2, 0, 0),
    "lamp": unit(0, 0, 1, 0), "desk": unit(0, 0, 0.9, 0.1),
}


def profile_of(*events):
    profile = UserProfile("u1")
    for i, (sku, kind) in enumerate(events):
        profile.apply({"sku": sku, "type": kind, "ts": T0 + i}, VECTORS.get(sku),
                      ["Home"] if sku in ("lamp", "desk") else ["Apparel", "Topwear"])
    return profile


def test_interest_ann_finds_neighbours_and_explains_them():
    source = InterestAnnCandidateSource(small_index(VECTORS))
    found = asyncio.run(source.fetch(profile_of(("shirt", "PURCHASE"), ("lamp", "VIEW")), 3))
    assert [c.sku for c in found] == ["shirt", "tee", "polo"]
    assert all(c.source == "embedding/interest-ann" for c in found)
    assert found[1].via_sku == "shirt"


def test_interest_ann_asks_for_more_than_the_index_holds():
    # FAISS pads with -1 when fewer than k qualify; none of that reaches the caller
    found = asyncio.run(InterestAnnCandidateSource(small_index(VECTORS)).fetch(
        profile_of(("shirt", "VIEW")), 50))
    assert sorted(c.sku for c in found) == sorted(VECTORS)


class PaddedIndex:
    """An index wrapper that lets FAISS's -1 padding through."""

    def search(self, query, k=10, category=None):
        return [SearchHit("tee", 0.9, "s"), SearchHit("-1", -3.4e38, "s"),
                SearchHit(None, float("nan"), "s"), SearchHit("tee", 0.9, "s")]

    def vector(self, sku):
        return VECTORS.get(sku)

    def vectors(self, skus):
        return [VECTORS.get(sku) for sku in skus]

    def metadata(self, sku):
        return None


def test_interest_ann_drops_padding_and_duplicates():
    found = asyncio.run(InterestAnnCandidateSource(PaddedIndex()).fetch(
        profile_of(("shirt", "VIEW")), 10))
    assert [(c.sku, c.via_sku) for c in found] == [("tee", "shirt")]


def test_interest_ann_without_interest_vector():
    profile = UserProfile("cold")
    assert asyncio.run(InterestAnnCandidateSource(PaddedIndex()).fetch(profile, 10)) == []


class FakeCoVisitation:
    def __init__(self):
        self.asked = None

    async def neighbours(self, skus, k, weights=None):
        self.asked = (list(skus), k, dict(weights))
        return [Neighbour("tee", 1.5, "shirt"), Neighbour("desk", 0.4, "lamp")][:k]


def test_co_visitation_anchors_weighted_by_event_type_and_recency():
    store = FakeCoVisitation()
    source = CoVisitationCandidateSource(store)
    profile = profile_of(("shirt", "PURCHASE"), ("lamp", "VIEW"), ("shirt", "VIEW"))
    found = asyncio.run(source.fetch(profile, 5))
    skus, k, weights = store.asked
    assert skus == ["shirt", "lamp"] and k == 5
    assert weights == pytest.approx({"shirt": 3.0, "lamp": 0.8})  # strongest type, then recency
    assert [(c.sku, c.via_sku, c.source) for c in found] == [
        ("tee", "shirt", "item-based/co-visitation"), ("desk", "lamp", "item-based/co-visitation")]
    assert asyncio.run(source.fetch(UserProfile("cold"), 5)) == []


def test_recently_viewed_returns_the_users_own_items_newest_first():
    source = RecentlyViewedCandidateSource(RecentlyViewedSourceConfig(items=2))
    profile = profile_of(("desk", "VIEW"), ("shirt", "PURCHASE"), ("lamp", "VIEW"),
                         ("shirt", "VIEW"))
    found = asyncio.run(source.fetch(profile, 10))
    # shirt (newest, strongest event PURCHASE) then lamp; desk is beyond the 2 items
    assert [(c.sku, c.via_sku, c.source) for c in found] == [
        ("shirt", "shirt", "history/recently-viewed"), ("lamp", "lamp", "history/recently-viewed")]
    assert [c.score for c in found] == pytest.approx([3.0, 0.8])
    assert [c.sku for c in asyncio.run(source.fetch(profile, 1))] == ["shirt"]
    assert asyncio.run(source.fetch_many([profile, UserProfile("cold")], 10)) == [
        found, []]


def test_trending_in_top_categories_then_overall():
    trending = FakeTrending({
        "Apparel": [("tee", 10.0), ("polo", 5.0)],
        "Apparel > Topwear": [("polo", 2.0)],
        None: [("lamp", 100.0), ("tee", 1.0)],
    })
    profile = profile_of(("shirt", "VIEW"))
    found = asyncio.run(TrendingCandidateSource(trending).fetch(profile, 10))
    by_sku = {c.sku: c for c in found}
    assert by_sku["polo"].score == pytest.approx(1.0)  # 1.0 share x best of its scope
    assert by_sku["polo"].via_category in ("Apparel", "Apparel > Topwear")
    assert by_sku["tee"].score == pytest.approx(1.0) and by_sku["tee"].via_category == "Apparel"
    assert by_sku["lamp"].score == pytest.approx(0.5) and by_sku["lamp"].via_category is None
    cold = asyncio.run(TrendingCandidateSource(trending).fetch(UserProfile("cold"), 10))
    assert [c.sku for c in cold] == ["lamp", "tee"]


@pytest.mark.parametrize(("filter_seen", "weight", "expected"), [
    (True, 0.5, None), (False, 0.0, None), (False, 0.7, 0.7)])
def test_recently_viewed_joins_the_blend_only_where_seen_items_stay(filter_seen, weight,
                                                                    expected):
    from streamrec.recs.co_visitation_store import CoVisitationStore
    from streamrec.recs.recs_components import candidate_sources
    from streamrec.redis_keys import RedisKeys
    from streamrec.settings import Settings

    settings = Settings(recs_filter_seen=filter_seen, recs_recently_viewed_weight=weight,
                        recs_covisitation_backward_weight=0.5)
    sources, specs = candidate_sources(settings, CoVisitationStore(None, RedisKeys("t:")),
                                       small_index(VECTORS), FakeTrending({}))
    assert [s.name for s in sources] == [spec.name for spec in specs]
    weights = {spec.name: spec.weight for spec in specs}
    assert weights.get("history/recently-viewed") == expected
