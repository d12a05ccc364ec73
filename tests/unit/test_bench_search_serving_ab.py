"""The serving A/B bench's variant syntax and run order (the bench itself is a long live
run, not a test)."""

import argparse

import pytest

from bench.bench_search_serving_ab import parse_variant, run_order


def test_a_variant_names_streamrec_settings_or_another_checkout() -> None:
    assert parse_variant("fast:rerank_max_depth=50, STREAMREC_API_SEARCH_THREADS=3") == (
        "fast", {"STREAMREC_RERANK_MAX_DEPTH": "50", "STREAMREC_API_SEARCH_THREADS": "3"})
    assert parse_variant("before:PYTHONPATH=/tmp/before") == (
        "before", {"PYTHONPATH": "/tmp/before"})
    for bad in ("no-colon", "name:", ":KEY=1", "name:KEY"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_variant(bad)


def test_rounds_alternate_the_order_so_drift_favours_no_variant() -> None:
    names = ["base", "a", "b"]
    assert [run_order(names, r) for r in range(3)] == [
        ["base", "a", "b"], ["b", "a", "base"], ["base", "a", "b"]]
