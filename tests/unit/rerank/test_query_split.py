from collections import Counter

import pytest

from streamrec.rerank.query_split import query_split


def test_deterministic_and_normalised() -> None:
    assert query_split("angle bracket") == query_split("angle bracket")
    assert query_split("Angle  Bracket ") == query_split("angle bracket")


def test_shares_are_roughly_kept() -> None:
    parts = Counter(query_split(f"query {i}") for i in range(5000))
    assert 0.17 < parts["test"] / 5000 < 0.23
    assert 0.08 < parts["validation"] / 5000 < 0.12
    assert parts["train"] + parts["validation"] + parts["test"] == 5000


def test_salt_changes_the_assignment_and_bad_shares_fail() -> None:
    queries = [f"q{i}" for i in range(200)]
    assert [query_split(q) for q in queries] != [query_split(q, salt="other") for q in queries]
    with pytest.raises(ValueError):
        query_split("q", validation_share=0.5, test_share=0.5)
