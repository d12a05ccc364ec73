"""The cheap, pure parts of the cascade: intent terms, deterministic rewrite, router,
budget."""

from __future__ import annotations

import pytest

from streamrec.rewrite.cost_budget import CostBudget, ModelPrice
from streamrec.rewrite.deterministic_rewriter import DeterministicRewriter
from streamrec.rewrite.intent_term_rule import IntentTermRule
from streamrec.rewrite.query_wording import intent_terms, is_natural_language
from streamrec.rewrite.rewrite_prompt import parse_answer
from streamrec.rewrite.rewrite_router import RewriteRouter
from streamrec.rewrite.search_probe import SearchProbe

KNOWN = {"cordless", "drill", "driver", "pvc", "pipe", "hammer", "grill", "hose"}


def is_known(word: str) -> bool:
    return word in KNOWN or word.rstrip("s") in KNOWN


def test_intent_terms_are_product_words_and_measures():
    assert intent_terms('I am looking for a good 1/2" PVC pipe') == ["1/2", "pvc", "pipe"]
    assert intent_terms("cordless drill for brick") == ["cordless", "drill", "brick"]


@pytest.mark.parametrize(("original", "rewrite", "dropped"), [
    ("cordless drill", "cordless drill driver", []),  # adding words is fine
    ("cordless drills", "cordless drill", []),  # same stem
    ("cordless drill", "drill", ["cordless"]),  # a known word dropped
    ("cordless drill", "cordless grill", ["drill"]),  # a known word replaced by a near one
    ('1/2" pvc pipe', "3/4 in pvc pipe", ["1/2"]),  # measures stay exactly
    ("screwgun cordless", "cordless drill driver", []),  # unknown word: free to replace
])
def test_intent_term_rule_with_a_vocabulary(original, rewrite, dropped):
    assert IntentTermRule(is_known).dropped_terms(original, rewrite) == dropped


def test_intent_term_rule_without_vocabulary_allows_spelling_fixes_only():
    rule = IntentTermRule()
    assert rule.dropped_terms("cordles dril", "cordless drill") == []
    assert rule.dropped_terms("hotwater heater", "hot water heater") == []
    assert rule.dropped_terms("screwgun cordless", "cordless drill") == ["screwgun"]


def test_deterministic_rewrite_normalises_units_and_drops_filler_of_sentences():
    rewriter = DeterministicRewriter()
    assert rewriter.rewrite('1/2" PVC Pipe 10 feet') == "1/2 in pvc pipe 10 ft"
    assert rewriter.rewrite("i am looking for a good cordless drill for my garage") == \
        "cordless drill garage"
    assert rewriter.rewrite("I need some 3/4 in. copper pipe please") == "3/4 in copper pipe"
    # a keyword query keeps its little words; an already-normal query proposes nothing
    assert rewriter.rewrite("toilet seat closed front") is None


def test_deterministic_rewrite_uses_the_catalog_speller():
    fixes = {"cordles": "cordless", "dril": "drill"}
    rewriter = DeterministicRewriter(
        correct=lambda text: " ".join(fixes.get(t, t) for t in text.split()))
    assert rewriter.rewrite("Cordles dril") == "cordless drill"


def test_natural_language_detection():
    assert is_natural_language("do you have outdoor string lights", 6)
    assert is_natural_language("what is the best paint for a bathroom with no window", 6)
    assert not is_natural_language("5/8 in. x 5-1/2 in. x 4 ft. pressure-treated pine", 6)


def probe(rung: str = "hybrid", hits: int = 10, strict: int = 10) -> SearchProbe:
    return SearchProbe(rung, hits, strict, 1.0)


def test_router_leaves_strong_queries_alone_and_sends_hard_ones_higher():
    router = RewriteRouter(("cache", "deterministic", "small_llm", "large_llm"))
    assert not router.route("cordless drill", probe()).selected
    weak = router.route("cordless screwgun", probe(strict=0))
    assert weak.reasons == ("weak_results",)
    assert weak.tiers == ("cache", "deterministic", "small_llm")  # Claude only for the hardest
    none = router.route("zzyzx", probe("popular", 10, 0))
    assert none.reasons == ("no_results",) and none.tiers[-1] == "large_llm"
    sentence = router.route("i am looking for a drill that can go through brick", probe())
    assert sentence.reasons == ("natural_language",) and "large_llm" in sentence.tiers
    assert router.route("drill", probe("lexical_relaxed")).reasons == ("weak_results",)
    # the ladder's own spelling fix counts as a match, not as a weak result
    assert not router.route("dril", probe("spelling")).selected


def test_router_uses_only_configured_tiers():
    router = RewriteRouter(("deterministic",))
    assert router.route("zzyzx", probe("popular", 10, 0)).tiers == ("deterministic",)


def test_probe_strength_orders_results():
    assert probe("hybrid", 10, 3).strength() > probe("hybrid", 10, 0).strength()
    assert probe("lexical_relaxed", 10, 0).strength() > probe("popular", 10, 0).strength()
    assert probe("spelling", 10, 3).strength() == probe("hybrid", 10, 3).strength()


def test_budget_windows_reserve_settle_and_expire():
    now = [0.0]
    budget = CostBudget(tokens_per_minute=100, usd_per_hour=1.0, clock=lambda: now[0])
    first = budget.try_reserve(80, 0.1)
    assert first is not None
    assert budget.try_reserve(30, 0.1) is None  # 110 tokens in the minute
    budget.settle(first, 50, 0.05)  # the server reported fewer
    assert budget.try_reserve(30, 0.1) is not None
    now[0] = 61.0
    assert budget.spent() == (0, pytest.approx(0.15))  # tokens expire, money stays the hour
    assert budget.try_reserve(10, 0.9) is None
    now[0] = 3601.0
    assert budget.try_reserve(10, 0.9) is not None


def test_model_price_is_per_million_tokens():
    assert ModelPrice(1.0, 5.0).cost(1_000, 200) == pytest.approx(0.002)


def test_parse_answer_takes_the_first_clean_line():
    assert parse_answer('Rewritten query: "cordless drill"\nbecause...') == "cordless drill"
    assert parse_answer("  \n`pvc pipe`.") == "pvc pipe"
    assert parse_answer("") is None
