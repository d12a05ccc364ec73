import numpy as np
import pytest

from streamrec.recs.user_profile import RecentItem, UserProfile, UserProfileConfig

H = 3_600_000  # one hour in ms
T0 = 1_700_000_000_000
E1 = np.array([1, 0, 0, 0], dtype=np.float32)
E2 = np.array([0, 1, 0, 0], dtype=np.float32)


def event(sku, kind="VIEW", ts=T0, session="s1", **extra):
    return {"event_id": f"{sku}-{ts}", "user_id": "u1", "sku": sku, "type": kind, "ts": ts,
            "session_id": session, **extra}


def hourly_profile(**overrides):
    overrides.setdefault("per_event_decay", 1.0)  # time decay alone, unless a test sets it
    return UserProfile("u1", UserProfileConfig(half_life_s=3600, **overrides))


def test_event_types_weight_the_interest_vector():
    profile = hourly_profile()
    profile.apply(event("a", "VIEW"), E1, ["A"])
    profile.apply(event("b", "PURCHASE"), E2, ["B"])
    expected = np.array([1, 3, 0, 0]) / np.hypot(1, 3)
    np.testing.assert_allclose(profile.interest_vector, expected, atol=1e-6)
    assert profile.interest_vector.dtype == np.float32
    assert np.linalg.norm(profile.interest_vector) == pytest.approx(1.0, abs=1e-6)


def test_each_new_event_scales_the_earlier_interest():
    profile = hourly_profile(per_event_decay=0.5)
    for sku in ("a1", "a2", "a3"):
        profile.apply(event(sku, "VIEW"), E1, ["A"])
    for sku in ("b1", "b2"):
        profile.apply(event(sku, "VIEW"), E2, ["B"])
    # A: (1 + 0.5 + 0.25) x 0.25 = 0.4375 < B: 1 + 0.5 = 1.5: the latest interest leads
    assert profile.category_weights == pytest.approx({"A": 0.4375, "B": 1.5})
    assert profile.interest_vector[1] > profile.interest_vector[0]


def test_older_events_decay_by_half_life():
    profile = hourly_profile()
    profile.apply(event("a", ts=T0), E1, ["A"])
    profile.apply(event("b", ts=T0 + H), E2, ["B"])  # a is one half-life old now
    np.testing.assert_allclose(profile.interest_vector, np.array([0.5, 1, 0, 0]) / np.hypot(0.5, 1),
                               atol=1e-6)
    assert profile.category_weights == pytest.approx({"A": 0.5, "B": 1.0})


def test_out_of_order_events_never_decay_backwards():
    in_order, late = hourly_profile(), hourly_profile()
    in_order.apply(event("a", ts=T0), E1, ["A"])
    in_order.apply(event("b", ts=T0 + H), E2, ["B"])
    late.apply(event("b", ts=T0 + H), E2, ["B"])
    late.apply(event("a", ts=T0), E1, ["A"])  # arrives an hour late
    np.testing.assert_allclose(late.interest_vector, in_order.interest_vector, atol=1e-6)
    assert late.category_weights == pytest.approx(in_order.category_weights)
    assert late.decay_ts == T0 + H and late.last_event_ts == T0 + H
    assert [item.sku for item in late.recent] == ["a", "b"]  # kept in time order
    assert late.vector_weight == pytest.approx(1.5)  # the sum shrank for nobody


def test_unknown_item_vector_and_search_events_still_count():
    profile = hourly_profile()
    profile.apply(event("a"), None, [])
    profile.apply({"event_id": "q", "user_id": "u1", "type": "SEARCH", "query": "shoes",
                   "ts": T0 + 1}, None, [])
    assert profile.interest_vector is None
    assert profile.event_count == 2
    assert profile.recent_skus() == ["a"]
    assert profile.last_event_ts == T0 + 1


def test_bounds_on_recent_seen_purchased_and_categories():
    profile = hourly_profile(max_recent=3, max_seen=4, max_purchased=2, max_categories=3)
    for i in range(6):
        profile.apply(event(f"s{i}", "PURCHASE", ts=T0 + i), E1, [f"C{i}"])
    assert [item.sku for item in profile.recent] == ["s3", "s4", "s5"]
    assert list(profile.seen) == ["s2", "s3", "s4", "s5"]
    assert list(profile.purchased) == ["s4", "s5"]
    assert len(profile.category_weights) == 3
    assert set(profile.category_weights) == {"C3", "C4", "C5"}  # the strongest (newest) kept


def test_category_affinity_covers_top_level_and_full_path():
    profile = hourly_profile()
    profile.apply(event("a", "VIEW"), E1, ["Apparel", "Topwear", "Tshirts"])
    profile.apply(event("b", "CLICK"), E1, ["Apparel", "Bottomwear"])
    profile.apply(event("c", "VIEW"), E1, ["Home"])
    assert profile.top_categories(1, depth=1) == [("Apparel", pytest.approx(0.75))]
    top = dict(profile.top_categories(10))
    assert top["Apparel > Topwear > Tshirts"] == pytest.approx(1.0)  # alone at depth 3
    assert top["Apparel > Bottomwear"] == pytest.approx(2 / 3)
    assert profile.top_categories(0) == []


def test_session_items_follow_the_session():
    profile = hourly_profile(session_gap_s=600)
    profile.apply(event("a", ts=T0, session="s1"), E1, [])
    profile.apply(event("x", ts=T0 + 1, session="s2"), E1, [])
    profile.apply(event("b", ts=T0 + 2, session="s1"), E1, [])
    profile.apply(event("a", ts=T0 + 3, session="s1"), E1, [])
    assert profile.session_items("s1", T0 + 10, limit=5) == ["a", "b"]
    assert profile.session_items("s2", T0 + 10, limit=5) == ["x"]
    assert profile.session_items("s1", T0 + 10, limit=1) == ["a"]
    anonymous = hourly_profile(session_gap_s=600)
    for sku, ts in (("old", T0), ("m", T0 + 3_600_000), ("n", T0 + 3_700_000)):
        anonymous.apply(event(sku, ts=ts, session=None), E1, [])
    assert anonymous.session_items(None, T0 + 3_800_000, limit=5) == ["n", "m"]


def test_bytes_round_trip():
    profile = hourly_profile()
    profile.apply(event("a", "VIEW", ts=T0), E1, ["A", "B"])
    profile.apply(event("b", "PURCHASE", ts=T0 + H), E2, ["C"])
    data = profile.to_bytes()
    assert isinstance(data, bytes) and len(data) < 1_000
    back = UserProfile.from_bytes(data, profile.config)
    np.testing.assert_allclose(back.interest_vector, profile.interest_vector, atol=1e-6)
    assert back.recent == [RecentItem("a", "VIEW", T0, "s1"),
                           RecentItem("b", "PURCHASE", T0 + H, "s1")]
    assert back.category_weights == pytest.approx(profile.category_weights)
    assert back.purchased == profile.purchased and back.seen == profile.seen
    assert (back.decay_ts, back.last_event_ts, back.event_count) == (T0 + H, T0 + H, 2)
    back.apply(event("c", ts=T0 + 2 * H), E1, ["A"])  # still updatable
    assert back.event_count == 3


def test_empty_profile_round_trip_and_bad_version():
    empty = UserProfile("u2")
    back = UserProfile.from_bytes(empty.to_bytes())
    assert back.interest_vector is None and back.event_count == 0
    with pytest.raises(ValueError):
        UserProfile.from_bytes(b'{"v": 99}')


def test_smaller_bounds_apply_on_load():
    profile = hourly_profile()
    for i in range(5):
        profile.apply(event(f"s{i}", "PURCHASE", ts=T0 + i), E1, [f"C{i}"])
    small = UserProfileConfig(max_recent=2, max_purchased=1, max_seen=3, max_categories=2)
    back = UserProfile.from_bytes(profile.to_bytes(), small)
    assert [i.sku for i in back.recent] == ["s3", "s4"]
    assert list(back.purchased) == ["s4"] and list(back.seen) == ["s2", "s3", "s4"]
    assert len(back.category_weights) == 2
