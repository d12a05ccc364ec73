import orjson
import pytest

from streamrec.recs.co_visitation_store import (
    KEEP_INCREMENTS,
    REFRESH_TTL,
    TRIM,
    CoVisit,
    CoVisitationConfig,
    CoVisitationStore,
)
from streamrec.redis_keys import RedisKeys


def store(**config):
    return CoVisitationStore(None, RedisKeys("t:"), CoVisitationConfig(**config))


def test_pairs_both_ways_with_distance_decay():
    increments = store(distance_decay=0.5).increments([CoVisit(["c", "b", "a"], "d")])
    assert increments["d"] == pytest.approx({"c": 1.0, "b": 0.5, "a": 0.25})
    assert increments["c"] == {"d": 1.0}
    assert increments["a"] == {"d": 0.25}


def test_window_self_pairs_and_repeats():
    increments = store(window=2, distance_decay=0.5).increments(
        [CoVisit(["d", "c", "c", "b", "a"], "d", weight=2.0)])
    assert increments["d"] == pytest.approx({"c": 2.0, "b": 1.0})  # a is outside the window
    assert "a" not in increments


def test_backward_weight_favours_what_came_next():
    increments = store(distance_decay=0.5, backward_weight=0.25).increments(
        [CoVisit(["c", "b"], "d")])
    assert increments["c"] == {"d": 1.0}  # forward: d came after c, in full
    assert increments["b"] == {"d": 0.5}
    assert increments["d"] == pytest.approx({"c": 0.25, "b": 0.125})  # backward, scaled
    only_forward = store(backward_weight=0.0).increments([CoVisit(["c"], "d")])
    assert only_forward == {"c": {"d": 1.0}}  # no empty row for d
    with pytest.raises(ValueError, match="backward_weight"):
        CoVisitationConfig(backward_weight=1.5)


def test_increments_add_up_across_visits():
    increments = store().increments([CoVisit(["a"], "b"), CoVisit(["b"], "a")])
    assert increments == {"a": {"b": 2.0}, "b": {"a": 2.0}}


def actions(calls):
    """item key -> the action each call asks for after its increments."""
    out = {}
    for keys, args in calls:
        for key, (action, _) in zip(keys, orjson.loads(args[2]), strict=True):
            out[key] = action
    return out


def test_sets_are_trimmed_periodically_not_on_every_write():
    s = store(trim_every=3, max_neighbours=10, ttl_s=60)
    seen = [actions(s.script_calls([CoVisit(["a"], "b")])) for _ in range(7)]
    # each write touches the sets of a and b: every third trims (and refreshes the TTL),
    # the first one ever and the first after a trim refresh the TTL, the others only add
    assert [row["t:covis:{a}"] for row in seen] == [
        REFRESH_TTL, KEEP_INCREMENTS, TRIM, REFRESH_TTL, KEEP_INCREMENTS, TRIM, REFRESH_TTL]
    assert seen[2]["t:covis:{b}"] == TRIM


def test_script_calls_carry_the_increments_in_slices_of_items():
    s = store(items_per_call=2, max_neighbours=7, ttl_s=60, distance_decay=0.5)
    visit = CoVisit(["c", "b", "a"], "d")
    calls = s.script_calls([visit])
    assert [len(keys) for keys, _ in calls] == [2, 2]
    assert all(args[:2] == [7, 60] for _, args in calls)
    rows = {key: row for keys, args in calls
            for key, (_, row) in zip(keys, orjson.loads(args[2]), strict=True)}
    expected = store(distance_decay=0.5).increments([visit])
    assert rows == {f"t:covis:{{{item}}}": row for item, row in expected.items()}


def test_nothing_to_write():
    assert store().script_calls([CoVisit([], "a"), CoVisit(["a"], "a")]) == []


def test_items_per_call_cannot_be_negative():
    with pytest.raises(ValueError):
        CoVisitationConfig(items_per_call=-1)
