import asyncio

import pytest

from streamrec.recs.co_visitation_store import CoVisitationConfig
from streamrec.recs.trending_store import TrendingConfig
from streamrec.recs.user_event_applier import UserEventApplier
from streamrec.recs.user_profile import UserProfile
from tests.unit.recs.recs_fakes import small_index, unit

T0 = 1_700_000_000_000


class RecordingCoVisitation:
    config = CoVisitationConfig(window=3)

    def __init__(self):
        self.visits = []

    async def record(self, visits):
        self.visits.extend(visits)


class RecordingTrending:
    config = TrendingConfig()

    def __init__(self):
        self.hits = []

    def weight_of(self, kind):
        return self.config.event_weights.get(kind, 0.0)

    async def record(self, hits):
        self.hits.extend(hits)


def test_a_batch_updates_profiles_co_visitation_and_trending():
    index = small_index({"a": unit(1, 0), "b": unit(0, 1)}, metadata={
        "a": {"category_path": ["A", "A1"]}, "b": {"category_path": ["B"]}})
    covis, trending = RecordingCoVisitation(), RecordingTrending()
    applier = UserEventApplier(index, covis, trending)
    profiles = {"u2": UserProfile("u2")}
    batch = [
        {"user_id": "u1", "session_id": "s", "type": "VIEW", "sku": "a", "ts": T0},
        {"user_id": "u2", "session_id": "t", "type": "SEARCH", "query": "x", "ts": T0},
        {"user_id": "u1", "session_id": "s", "type": "PURCHASE", "sku": "b", "ts": T0 + 1},
        {"user_id": "u1", "session_id": "s", "type": "VIEW", "sku": "unknown", "ts": T0 + 2},
    ]
    touched = asyncio.run(applier.apply(batch, profiles))
    assert touched == ["u1", "u2"]
    u1 = profiles["u1"]
    assert u1.event_count == 3 and list(u1.purchased) == ["b"]
    assert u1.interest_vector is not None
    # VIEW a (1), PURCHASE b (3; a scaled by 0.8), VIEW unknown (both scaled by 0.8 again)
    assert dict(u1.top_categories(5, depth=1)) == pytest.approx(
        {"B": 2.4 / 3.04, "A": 0.64 / 3.04})
    assert [(v.window, v.sku, v.weight) for v in covis.visits] == [
        (["a"], "b", 3.0), (["b", "a"], "unknown", 1.0)]
    assert [(h.sku, list(h.category_path), h.weight) for h in trending.hits] == [
        ("a", ["A", "A1"], 1.0), ("b", ["B"], 6.0), ("unknown", [], 1.0)]
    assert profiles["u2"].event_count == 1
