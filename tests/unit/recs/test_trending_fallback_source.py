import asyncio

from streamrec.recs.recommendation_state import RecommendationRequest, RecommendationState
from streamrec.recs.trending_fallback_source import TrendingFallbackSource


class NothingTrends:
    async def top_many(self, scopes, k):
        return [[] for _ in scopes]


def test_with_no_traffic_at_all_the_newest_items_fill_the_page():
    asked = []

    def newest(k, scope):
        asked.append((k, scope))
        return ["n1", "n2", "n3"]

    state = RecommendationState(RecommendationRequest("cold-user", k=3, category="Shoes"))
    asyncio.run(TrendingFallbackSource(NothingTrends(), newest=newest).run(state))
    assert [item.sku for item in state.items] == ["n1", "n2", "n3"]
    assert {item.source for item in state.items} == {"fallback/newest"}
    assert state.served_from == "fallback"
    assert asked and asked[0][1] == "Shoes"


def test_without_a_newest_source_the_page_stays_empty_rather_than_failing():
    state = RecommendationState(RecommendationRequest("cold-user", k=3))
    asyncio.run(TrendingFallbackSource(NothingTrends()).run(state))
    assert state.items == [] and state.served_from == "fallback"
