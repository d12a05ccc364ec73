"""Joining impressions with the feedback that followed, and the labels that come out."""

from __future__ import annotations

import pytest

from streamrec.recs.impression_click_join import ImpressionClickJoin

NAMES = ("a", "b")
T0 = 1_764_000_000_000


def impression(request_id, user="u1", skus=("s1", "s2", "s3"), ts=T0, names=NAMES,
               variant="default", surface="recommendations", features=True):
    return {"request_id": request_id, "user_id": user, "variant": variant, "surface": surface,
            "ts": ts, "feature_names": list(names) if features else [],
            "items": [{"sku": sku, "position": i, "score": 1.0 - i, "source": "x",
                       "features": [float(i), 1.0] if features else None}
                      for i, sku in enumerate(skus)]}


def event(kind, sku, user="u1", ts=T0 + 1_000, request_id=None):
    return {"event_id": f"{kind}-{sku}-{ts}", "user_id": user, "session_id": None,
            "type": kind, "sku": sku, "query": None, "ts": ts,
            "context": {"request_id": request_id} if request_id else {}}


def joined(impressions, events, window_ms=60_000, **kw):
    join = ImpressionClickJoin(NAMES, window_ms, **kw)
    for record in events:  # events first: the join must not depend on reading order
        join.add_event(record)
    for record in impressions:
        join.add_impression(record)
    out, stats = join.result()
    return {imp.request_id: imp.labels.tolist() for imp in out}, stats, out


def test_request_id_attributes_the_click_to_that_response_even_when_another_is_newer():
    labels, stats, _ = joined(
        [impression("r1"), impression("r2", ts=T0 + 500)],
        [event("CLICK", "s2", request_id="r1")])
    assert labels == {"r1": [0, 1, 0], "r2": [0, 0, 0]}
    assert stats.attributed == {"request_id": 1}


def test_without_request_id_the_latest_impression_within_the_window_gets_it():
    labels, stats, _ = joined(
        [impression("r1"), impression("r2", ts=T0 + 500), impression("r3", ts=T0 + 5_000)],
        [event("CLICK", "s3", ts=T0 + 1_000)])
    assert labels["r2"] == [0, 0, 1] and labels["r1"] == [0, 0, 0] and labels["r3"] == [0] * 3
    assert stats.attributed == {"window": 1}


def test_events_outside_the_window_or_before_any_impression_are_unattributed():
    labels, stats, _ = joined(
        [impression("r1")],
        [event("CLICK", "s1", ts=T0 + 61_000), event("CLICK", "s1", ts=T0 - 1),
         event("CLICK", "s1", user="u2"), event("CLICK", "nope")])
    assert labels["r1"] == [0, 0, 0]
    assert stats.attributed == {"unattributed": 4}


def test_a_request_id_that_did_not_show_the_sku_does_not_fall_back_to_the_window():
    labels, stats, _ = joined([impression("r1")],
                              [event("CLICK", "other", request_id="r1")])
    assert labels["r1"] == [0, 0, 0] and stats.attributed == {"unattributed": 1}


def test_an_unknown_request_id_falls_back_to_user_and_sku():
    labels, stats, _ = joined([impression("r1")],
                              [event("CLICK", "s1", request_id="not-read")])
    assert labels["r1"] == [1, 0, 0] and stats.attributed == {"window": 1}


def test_purchase_beats_cart_beats_click_and_views_are_not_feedback():
    labels, stats, out = joined(
        [impression("r1")],
        [event("CLICK", "s1", request_id="r1"), event("PURCHASE", "s1", request_id="r1"),
         event("ADD_TO_CART", "s1", request_id="r1"), event("ADD_TO_CART", "s2",
                                                           request_id="r1"),
         event("VIEW", "s3", request_id="r1")])
    assert labels["r1"] == [3, 2, 0]
    assert stats.feedback_events == 4
    assert stats.positives == {"PURCHASE": 1, "ADD_TO_CART": 1}
    assert out[0].has_positive
    assert out[0].features.tolist() == [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]


def test_impressions_without_the_same_feature_columns_are_left_out():
    labels, stats, _ = joined(
        [impression("ok"), impression("old", features=False),
         impression("other", names=("a", "c")), impression("b", variant="learned"),
         impression("s", surface="search"), impression("e", skus=())],
        [], variant="default")
    assert list(labels) == ["ok"]
    assert stats.skipped == {"no_features": 1, "other_features": 1, "other_variant": 1,
                             "other_surface": 1, "empty": 1}
    assert stats.impressions == 6 and stats.usable == 1


@pytest.mark.parametrize("order", ["shuffled", "sorted"])
def test_items_are_rows_in_position_order(order):
    record = impression("r1")
    if order == "shuffled":
        record["items"].reverse()
    _, _, out = joined([record], [event("CLICK", "s3", request_id="r1")])
    assert out[0].skus == ["s1", "s2", "s3"] and out[0].labels.tolist() == [0, 0, 1]
