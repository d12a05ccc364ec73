from dataclasses import dataclass

import pytest

from streamrec.indexer.lexical_index import LexicalIndex, LexicalIndexConfig
from streamrec.indexer.spelling_corrector import SpellingCorrector
from streamrec.serving.fallback_ladder import (
    RUNGS,
    FallbackLadder,
    FallbackLadderConfig,
    infer_category,
)


@dataclass(frozen=True)
class Hit:
    sku: str
    score: float
    category_path: tuple[str, ...]


POPULAR = {
    None: [("pop-1", 100.0), ("pop-2", 90.0)],
    "Tools > Power Tools": [("tool-pop", 50.0)],
    "Tools": [("tools-pop", 40.0)],
}


def popular(k, category):
    return POPULAR.get(category, [])[:k]


def nothing(*_args):
    return []


def test_hybrid_serves_when_it_finds_items():
    ladder = FallbackLadder(lambda q, k, c: [("a", 1.0), ("b", 0.5)], nothing, popular)
    result = ladder.search("drill", k=1)
    assert result.rung == "hybrid" and result.items == [("a", 1.0)]
    assert result.tried == ("hybrid",) and result.query == "drill"


def test_spelling_serves_the_corrected_query():
    seen = []

    def hybrid(q, k, c):
        seen.append(q)
        return [("a", 1.0)] if q == "cordless drill" else []

    ladder = FallbackLadder(hybrid, nothing, popular, correct=lambda q: "cordless drill")
    result = ladder.search("cordles dril")
    assert result.rung == "spelling"
    assert result.query == result.corrected_query == "cordless drill"
    assert seen == ["cordles dril", "cordless drill"]
    assert result.tried == ("hybrid", "spelling")


def test_unchanged_correction_skips_straight_to_relaxed():
    relaxed = [Hit("r", 2.0, ("Tools",))]
    ladder = FallbackLadder(nothing, lambda q, k, c: relaxed, popular, correct=lambda q: q)
    result = ladder.search("drill")
    assert result.rung == "lexical_relaxed" and result.items == [("r", 2.0)]
    assert result.corrected_query is None
    assert result.tried == ("hybrid", "spelling", "lexical_relaxed")


def test_relaxed_runs_on_the_corrected_query():
    queries = []

    def relaxed(q, k, c):
        queries.append(q)
        return [Hit("r", 1.0, ())]

    ladder = FallbackLadder(nothing, relaxed, popular, correct=lambda q: "fixed")
    result = ladder.search("fixd")
    assert result.rung == "lexical_relaxed" and queries == ["fixed"]
    assert result.corrected_query == "fixed"


def test_popular_in_inferred_category_when_relaxed_hits_are_too_weak():
    hits = [
        Hit("a", 0.3, ("Tools", "Power Tools", "Drills")),
        Hit("b", 0.3, ("Tools", "Power Tools", "Saws")),
        Hit("c", 0.2, ("Garden",)),
    ]
    config = FallbackLadderConfig(min_relaxed_score=1.0)
    ladder = FallbackLadder(nothing, lambda q, k, c: hits, popular, config=config)
    result = ladder.search("weak query")
    assert result.rung == "popular_in_category"
    assert result.category == "Tools > Power Tools" and result.category_inferred
    assert result.items == [("tool-pop", 50.0)]


def test_popular_in_requested_category():
    ladder = FallbackLadder(nothing, nothing, popular)
    result = ladder.search("zzz", category="Tools")
    assert result.rung == "popular_in_category"
    assert result.category == "Tools" and not result.category_inferred
    assert result.items == [("tools-pop", 40.0)]


def test_popular_overall_is_the_last_rung():
    ladder = FallbackLadder(nothing, nothing, popular)
    result = ladder.search("zzz")
    assert result.rung == "popular" and result.items == POPULAR[None]
    assert result.category is None
    # a category with no popular items also ends here
    assert ladder.search("zzz", category="Nowhere").rung == "popular"


def test_blank_query_goes_straight_to_popular():
    calls = []

    def hybrid(q, k, c):
        calls.append(q)
        return [("x", 1.0)]

    result = FallbackLadder(hybrid, nothing, popular).search("   ")
    assert result.rung == "popular" and calls == []


def test_empty_catalog_returns_an_empty_popular_page():
    ladder = FallbackLadder(nothing, nothing, lambda k, c: [], correct=lambda q: None)
    result = ladder.search("drill", k=10)
    assert result.rung == "popular" and result.items == []
    assert result.tried == ("hybrid", "spelling", "lexical_relaxed", "popular")


def test_a_failing_rung_is_skipped_and_recorded():
    def broken(q, k, c):
        raise TimeoutError("ann shard down")

    ladder = FallbackLadder(broken, lambda q, k, c: [Hit("r", 1.0, ())], popular)
    result = ladder.search("drill")
    assert result.rung == "lexical_relaxed"
    assert "hybrid" in result.errors and "TimeoutError" in result.errors["hybrid"]


def test_min_results_threshold():
    ladder = FallbackLadder(
        lambda q, k, c: [("only-one", 1.0)],
        nothing,
        popular,
        config=FallbackLadderConfig(min_results=2),
    )
    assert ladder.search("drill").rung == "popular"


def test_infer_category():
    hits = [Hit("a", 3.0, ("A", "B")), Hit("b", 1.0, ("A", "C")), Hit("c", 1.0, ("D",))]
    assert infer_category(hits) == ("A", "B")  # deepest prefix with half the score
    assert infer_category(hits, min_share=0.7) == ("A",)
    assert infer_category(hits, min_share=0.9) is None
    assert infer_category(hits[:1]) == ("A", "B")
    assert infer_category([]) is None
    assert infer_category([Hit("a", 1.0, ())]) is None


@pytest.fixture
def catalog(tmp_path):
    config = LexicalIndexConfig(commit_every_docs=1_000_000, commit_interval_ms=3_600_000)
    index = LexicalIndex(tmp_path / "ix", config)
    corrector = SpellingCorrector()
    products = [
        ("d1", "DEWALT Cordless Drill", ["Tools", "Power Tools"], "DEWALT"),
        ("d2", "Ryobi Hammer Drill", ["Tools", "Power Tools"], "Ryobi"),
        ("h1", "Garden Hose 50 ft.", ["Garden", "Watering"], "Gilmour"),
    ]
    for product in products:
        index.upsert(*product)
        corrector.upsert(*product)
    index.refresh()
    yield index, corrector
    index.close()


def test_every_rung_is_reachable_with_the_real_lexical_index(catalog):
    index, corrector = catalog

    def hybrid(q, k, c):  # stand-in for ANN + lexical fusion: strict lexical only
        return index.search(q, k, category=c)

    def relaxed(q, k, c):
        return index.search_hits(q, k, category=c, mode="any")

    def correct(q):
        fix = corrector.correct(q)
        return fix.corrected if fix.changed else None

    def popular_items(k, c):
        if c is None:
            return [("h1", 1.0)]
        return [(sku, 1.0) for sku, _ in index.search("drill", k, category=c)]

    ladder = FallbackLadder(hybrid, relaxed, popular_items, correct=correct)
    expected = {
        "cordless drill": "hybrid",
        "cordles dril": "spelling",
        "purple drill unicorn sparkles": "lexical_relaxed",
        ("qqqq", "Tools"): "popular_in_category",
        "qqqq": "popular",
    }
    for query, rung in expected.items():
        q, category = query if isinstance(query, tuple) else (query, None)
        assert ladder.search(q, category=category).rung == rung, query
    assert set(expected.values()) == set(RUNGS)
    assert ladder.search("cordles dril").corrected_query == "cordless drill"
