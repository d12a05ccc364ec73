import pytest

from streamrec.recs.co_visitation_store import CoVisit, CoVisitationConfig, CoVisitationStore
from streamrec.redis_keys import RedisKeys


class RecordingPipe:
    def __init__(self):
        self.commands = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.commands.append((name, *args))


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


def test_increments_add_up_across_visits():
    increments = store().increments([CoVisit(["a"], "b"), CoVisit(["b"], "a")])
    assert increments == {"a": {"b": 2.0}, "b": {"a": 2.0}}


def test_sets_are_trimmed_periodically_not_on_every_write():
    s = store(trim_every=3, max_neighbours=10, ttl_s=60)
    trims = []
    for _ in range(7):
        pipe = RecordingPipe()
        s.stage(pipe, [CoVisit(["a"], "b")])
        trims.append([c for c in pipe.commands if c[0] == "zremrangebyrank"])
    # each write touches the sets of a and b; every third write trims both to the top 10
    assert [len(t) for t in trims] == [0, 0, 2, 0, 0, 2, 0]
    assert ("zremrangebyrank", "t:covis:{a}", 0, -11) in trims[2]


def test_nothing_to_write():
    pipe = RecordingPipe()
    assert store().stage(pipe, [CoVisit([], "a"), CoVisit(["a"], "a")]) == 0
    assert pipe.commands == []
