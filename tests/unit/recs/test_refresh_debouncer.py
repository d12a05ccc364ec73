import pytest

from streamrec.recs.refresh_debouncer import RefreshDebounceConfig, RefreshDebouncer


def debouncer(**kw):
    return RefreshDebouncer(RefreshDebounceConfig(**{"delay_s": 0.1, "min_interval_s": 0.5,
                                                     "max_delay_s": 1.0, **kw}))


def test_a_burst_coalesces_into_one_refresh():
    d = debouncer()
    for t in (0.0, 0.02, 0.05, 0.09):
        d.mark("u", t)
    assert d.due(0.09) == []
    assert d.next_due_in(0.09) == pytest.approx(0.01)
    assert d.due(0.1) == ["u"]
    assert d.due(0.2) == [] and d.next_due_in(0.2) is None


def test_rate_limited_but_never_later_than_max_delay():
    d = debouncer(min_interval_s=5.0)
    d.mark("u", 0.0)
    assert d.due(0.1) == ["u"]
    d.mark("u", 0.2)  # min interval would say 5.1; max delay caps at 1.2
    assert d.due(1.1) == []
    assert d.due(1.2) == ["u"]


def test_users_are_independent_and_ordered_by_due_time():
    d = debouncer()
    d.mark("b", 0.05)
    d.mark("a", 0.0)
    assert len(d) == 2
    assert d.due(1.0) == ["a", "b"]


def test_invalid_config():
    with pytest.raises(ValueError):
        RefreshDebounceConfig(delay_s=2.0, max_delay_s=1.0)


def test_a_limit_leaves_the_rest_due_and_urgent_skips_the_interval():
    d = debouncer(min_interval_s=5.0, max_delay_s=5.0)
    for n, user in enumerate(["a", "b", "c"]):
        d.mark(user, n * 0.01)
    assert d.due(1.0, limit=2) == ["a", "b"]
    assert d.due(1.0, limit=2) == ["c"]
    d.mark("a", 1.1)  # refreshed at 1.0: waits for the interval
    assert d.next_due_in(1.1) == pytest.approx(4.9)
    d.mark("a", 1.2, urgent=True)  # e.g. its list went missing
    assert d.due(1.3) == ["a"] and d.next_due_in(1.3) is None


def test_membership_says_whether_a_refresh_is_pending():
    d = debouncer()
    d.mark("u1", 0.0)
    assert "u1" in d and "u2" not in d
    assert d.due(1.0) == ["u1"]
    assert "u1" not in d
