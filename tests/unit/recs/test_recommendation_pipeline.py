import asyncio

import numpy as np
import pytest

from streamrec.recs.cached_candidate_source import CachedCandidateSource
from streamrec.recs.candidate import BlendedCandidate
from streamrec.recs.candidate_cache import CachedCandidates, CandidateMeta, UserSummary
from streamrec.recs.category_filter import CategoryFilter
from streamrec.recs.context_item_booster import ContextItemBooster
from streamrec.recs.feature_reranker import FeatureReranker
from streamrec.recs.filter_stage import FilterStage
from streamrec.recs.item_hydrator import ItemHydrator, parse_item_document
from streamrec.recs.mmr_diversifier import MmrConfig, MmrDiversifier, mmr_order
from streamrec.recs.purchased_items_filter import PurchasedItemsFilter
from streamrec.recs.reason_annotator import ReasonAnnotator
from streamrec.recs.recommendation_pipeline import RecommendationPipeline
from streamrec.recs.recommendation_state import (
    RecommendationRequest,
    RecommendationState,
    ScoredItem,
)
from streamrec.recs.trending_fallback_source import TrendingFallbackSource
from streamrec.recs.unavailable_items_filter import UnavailableItemsFilter
from tests.unit.recs.recs_fakes import DictHydrator, FakeCache, FakeTrending, small_index, unit

NOW = 1_700_000_000_000
APPAREL, HOME = ["Apparel", "Topwear"], ["Home", "Lighting"]
VECTORS = {
    "shirt": unit(1, 0, 0, 0), "tee": unit(0.9, 0.1, 0, 0), "polo": unit(0.8, 0.3, 0, 0),
    "lamp": unit(0, 0, 1, 0), "desk": unit(0, 0, 0.9, 0.2), "sofa": unit(0, 0.2, 0.5, 0.8),
    "off": unit(0, 1, 0, 0), "bought": unit(0.7, 0.7, 0, 0),
}
PATHS = {s: (HOME if s in ("lamp", "desk", "sofa") else APPAREL) for s in VECTORS}
DOCS = {s: {"title": s.title(), "category_path": PATHS[s], "available": s != "off",
            "updated_at": NOW} for s in VECTORS}


def cached(*rows):
    return CachedCandidates(
        [BlendedCandidate(sku, score, sources, via_sku, via_category)
         for sku, score, sources, via_sku, via_category in rows],
        CandidateMeta(NOW - 5_000, ("item-based/co-visitation",), "h", 7))


WARM = cached(
    ("tee", 2.0, ("item-based/co-visitation",), "shirt", None),
    ("polo", 1.5, ("embedding/interest-ann", "popular/trending"), "shirt", None),
    ("lamp", 1.0, ("popular/trending",), None, "Home"),
    ("gone", 0.9, ("embedding/interest-ann",), "shirt", None),
    ("off", 0.8, ("embedding/interest-ann",), "shirt", None),
    ("bought", 0.7, ("item-based/co-visitation",), "shirt", None),
)
SUMMARY = UserSummary({"Apparel": 0.8, "Home": 0.2}, frozenset({"bought"}))
TRENDING = FakeTrending({
    "Apparel": [("polo", 9.0), ("tee", 3.0), ("bought", 2.0)],
    "Home": [("desk", 4.0), ("sofa", 2.0)],
    None: [("lamp", 50.0), ("sofa", 10.0)],
})


def pipeline(cache=None, trending=TRENDING, index=None, diversity=None, docs=DOCS):
    index = index if index is not None else small_index(VECTORS, PATHS)
    return RecommendationPipeline([
        CachedCandidateSource(cache or FakeCache({"warm": WARM}, {"warm": SUMMARY})),
        TrendingFallbackSource(trending),
        ContextItemBooster(index),
        FilterStage(PurchasedItemsFilter()),
        DictHydrator(docs, {"lamp": 100.0, "tee": 3.0}),
        FilterStage(UnavailableItemsFilter()),
        FilterStage(CategoryFilter()),
        FeatureReranker(),
        MmrDiversifier(index, diversity or MmrConfig(relevance_weight=1.0)),
        ReasonAnnotator(),
    ])


def recommend(p, user="warm", **kw):
    return asyncio.run(p.recommend(RecommendationRequest(user, **kw)))


def test_warm_user_served_from_cache_filtered_and_explained():
    result = recommend(pipeline(), k=10)
    assert result.served_from == "cache" and not result.refresh_requested
    assert result.generated_at_ms == NOW - 5_000
    skus = [item.sku for item in result.items]
    assert set(skus) == {"tee", "polo", "lamp"}  # gone, off and bought filtered out
    reasons = {item.sku: item.reason for item in result.items}
    assert reasons["tee"] == "because you viewed Shirt"
    assert reasons["polo"] == "because you viewed Shirt"
    assert reasons["lamp"] == "trending in Home"
    by_sku = {item.sku: item for item in result.items}
    assert by_sku["polo"].source == "embedding/interest-ann"
    assert by_sku["polo"].sources == ("embedding/interest-ann", "popular/trending")
    assert by_sku["tee"].title == "Tee"
    assert result.counts["filter:purchased"] == {"kept": 5, "removed": 1, "items": 5}
    assert result.counts["filter:unavailable"]["removed"] == 2


def test_a_recently_viewed_item_says_so():
    cache = FakeCache({"warm": cached(
        ("shirt", 2.0, ("history/recently-viewed", "item-based/co-visitation"), "shirt", None),
        ("tee", 1.0, ("item-based/co-visitation",), "shirt", None))}, {"warm": SUMMARY})
    reasons = {item.sku: item.reason for item in recommend(pipeline(cache), k=10).items}
    assert reasons == {"shirt": "you viewed this recently", "tee": "because you viewed Shirt"}


def test_every_stage_is_timed_in_order():
    p = pipeline()
    result = recommend(p, k=2)
    assert list(result.timings_ms) == [stage.name for stage in p.stages] + ["total"]
    assert all(t >= 0 for t in result.timings_ms.values())
    assert len(result.items) == 2


def test_cold_user_gets_trending_fallback_and_a_refresh_flag():
    cache = FakeCache({}, {"cold": UserSummary({"Home": 1.0})})
    result = recommend(pipeline(cache), user="cold", k=10)
    assert result.served_from == "fallback" and result.refresh_requested
    assert result.generated_at_ms is None
    assert {item.source for item in result.items} == {"fallback"}
    reasons = {item.sku: item.reason for item in result.items}
    assert reasons["desk"] == "trending in Home"
    assert reasons["lamp"] == "trending now"  # only in the overall list


def test_missing_user_without_any_trending_gets_an_empty_page():
    result = recommend(pipeline(FakeCache(), FakeTrending({})), user="nobody", k=5)
    assert result.items == [] and result.served_from == "fallback" and result.refresh_requested


def test_empty_cached_list_falls_back_without_asking_for_a_refresh():
    cache = FakeCache({"done": cached()}, {})
    result = recommend(pipeline(cache), user="done", k=5)
    assert result.served_from == "fallback" and not result.refresh_requested
    assert [item.sku for item in result.items][:1] == ["lamp"]


def test_category_filter_keeps_the_category_and_tops_it_up():
    result = recommend(pipeline(), k=10, category="Home")
    assert {item.sku for item in result.items} == {"lamp", "desk", "sofa"}
    sources = {item.sku: item.source for item in result.items}
    assert sources["lamp"] == "popular/trending" and sources["desk"] == "fallback"
    assert result.served_from == "cache"
    nested = recommend(pipeline(), k=10, category="Apparel>Topwear")
    assert {item.sku for item in nested.items} == {"tee", "polo"}
    assert recommend(pipeline(), k=10, category="Toys").items == []


def test_context_item_boosts_similar_candidates_and_adds_neighbours():
    plain = recommend(pipeline(), k=3)
    assert plain.items[0].sku == "tee"
    result = recommend(pipeline(), k=4, context_sku="lamp")
    skus = [item.sku for item in result.items]
    assert "lamp" not in skus  # never the item on screen
    assert "desk" in skus and skus.index("desk") < skus.index("polo")
    desk = next(item for item in result.items if item.sku == "desk")
    assert desk.source == "context/similar" and desk.reason == "similar to Lamp"


def test_unknown_context_item_changes_nothing():
    result = recommend(pipeline(), k=10, context_sku="not-indexed")
    assert result.counts["context-boost"]["context_missing"] == 1
    assert {item.sku for item in result.items} == {"tee", "polo", "lamp"}


def test_mmr_pushes_near_duplicates_down():
    relevance = np.array([1.0, 0.95, 0.7])
    vectors = np.stack([unit(1, 0), unit(1, 0.01), unit(0, 1)])
    similarity = vectors @ vectors.T
    assert mmr_order(relevance, similarity, 2, relevance_weight=1.0) == [0, 1]
    assert mmr_order(relevance, similarity, 2, relevance_weight=0.5) == [0, 2]
    assert mmr_order(relevance, similarity, 5, relevance_weight=0.5) == [0, 2, 1]
    assert mmr_order(np.array([]), np.zeros((0, 0)), 3, 0.5) == []


def test_mmr_stage_diversifies_the_page():
    cache = FakeCache({"warm": cached(
        ("tee", 2.0, ("item-based/co-visitation",), "shirt", None),
        ("polo", 1.9, ("item-based/co-visitation",), "shirt", None),
        ("lamp", 1.0, ("item-based/co-visitation",), "shirt", None))}, {})
    relevant = recommend(pipeline(cache, diversity=MmrConfig(relevance_weight=1.0)), k=2)
    assert [item.sku for item in relevant.items] == ["tee", "polo"]
    diverse = recommend(pipeline(cache, diversity=MmrConfig(relevance_weight=0.3)), k=2)
    assert [item.sku for item in diverse.items] == ["tee", "lamp"]
    capped = recommend(pipeline(cache, diversity=MmrConfig(relevance_weight=1.0,
                                                           max_per_category=1)), k=3)
    assert [item.sku for item in capped.items] == ["tee", "lamp", "polo"]


def test_miswired_pipeline_fails_when_built():
    with pytest.raises(ValueError, match="needs"):
        RecommendationPipeline([FeatureReranker(), CachedCandidateSource(FakeCache())])
    with pytest.raises(ValueError, match="unique"):
        RecommendationPipeline([ReasonAnnotator(), ReasonAnnotator()])


def test_k_is_clamped():
    assert len(recommend(pipeline(), k=0).items) == 1


def test_parse_item_document():
    doc = parse_item_document([b"Lamp", b'["Home", "Lighting"]', b"", b"12.5", b"0",
                               b"1700000000000", None])
    assert doc == {"title": "Lamp", "category_path": ["Home", "Lighting"], "brand": None,
                   "price": 12.5, "available": False, "updated_at": 1_700_000_000_000,
                   "image": None}
    assert parse_item_document([None] * 7) is None


def test_reranker_uses_category_affinity_and_popularity():
    state = RecommendationState(RecommendationRequest("u"), now_ms=NOW)
    state.summary = UserSummary({"Home": 1.0, "Home > Lighting": 1.0})
    state.popularity = {"lamp": 100.0}
    state.items = [ScoredItem("tee", 1.0, ("embedding/interest-ann",), doc=DOCS["tee"]),
                   ScoredItem("lamp", 0.8, ("embedding/interest-ann",), doc=DOCS["lamp"])]
    asyncio.run(FeatureReranker().run(state))
    assert [item.sku for item in state.items] == ["lamp", "tee"]
    assert state.items[0].features["category_affinity"] == 1.0
    assert state.items[0].features["popularity"] == pytest.approx(1.0)
    assert state.items[1].features["candidate_score"] == 1.0


def test_the_real_hydrator_declares_the_same_contract():
    assert ItemHydrator.provides == DictHydrator.provides
    assert ItemHydrator.requires == DictHydrator.requires


def test_items_carry_the_rerank_features_that_impressions_log():
    from streamrec.recs.feature_reranker import FEATURE_NAMES

    result = recommend(pipeline(), k=10)
    assert result.feature_names == FEATURE_NAMES
    for item in result.items:
        assert item.features is not None and len(item.features) == len(FEATURE_NAMES)
    polo = next(item for item in result.items if item.sku == "polo")
    row = dict(zip(FEATURE_NAMES, polo.features, strict=True))
    assert row["from_embedding"] == 1.0 and row["from_popular"] == 1.0
    assert row["source_count"] == 2.0
