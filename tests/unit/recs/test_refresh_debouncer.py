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
