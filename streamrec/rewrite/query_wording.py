"""What the words of a query are: intent terms, filler, natural-language phrasing.

One normaliser for the whole cascade (the lexical index's own, so a ``1/2"`` in a query
is the ``1/2 in`` the catalog was indexed with). The word lists are small and English;
they only decide what may be *removed*, never what is searched for.
"""

from __future__ import annotations

import re

from streamrec.indexer.lexical_index import STOPWORDS, UNIT_WORDS, ProductTextNormaliser


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _words("""
a an and or the of for with to on by at is in into onto from about as be been being am are
was were it its this that these those there here some any all each every which what who
whom whose where when why how can could would should will shall may might must do does did
doing have has had having not no nor so than too very just also only own same such both
i me my mine myself we us our ours you your yours he him his she her hers they them their
theirs if then else but because while up down out over under again further once off
""") | STOPWORDS
"""English function words: never intent terms, dropped from long natural-language queries."""

SHOPPING_FILLER = _words("""
looking look searching search find finding need needs needed want wants wanted wanting
buy buying purchase get getting show please help something thing things stuff item items
product products kind sort type good best great nice cheap cheapest affordable quality
recommend recommendation suggest suggestion like would ideally maybe really actually
""")
"""Words of the shopping sentence around the product words ("i am looking for a good ...")."""

NL_LEADS = re.compile(
    r"^\s*(i\s*(am|'m)\s+(looking|searching|trying)|i\s+(need|want|would like)|"
    r"looking\s+for|searching\s+for|where\s+(can|do)\s+i|do\s+you\s+(have|sell)|"
    r"show\s+me|can\s+you|what\s+is\s+the\s+best|help\s+me)\b",
    re.IGNORECASE,
)
"""Openings that mark a sentence rather than keywords."""

_NORMALISER = ProductTextNormaliser()


def query_tokens(query: str) -> list[str]:
    """Normalised tokens with canonical units (``1/2"`` -> ``1/2``, ``in``)."""
    return _NORMALISER.tokens(query, canonical_units=True)


def is_filler(token: str) -> bool:
    return token in FUNCTION_WORDS or token in SHOPPING_FILLER


def intent_terms(query: str) -> list[str]:
    """The query's intent terms, in order, without repeats: see ``IntentTermRule``."""
    out: list[str] = []
    for token in query_tokens(query):
        if token in out or token in UNIT_WORDS or is_filler(token):
            continue
        # product words (3+ letters) and measures (numbers); "go", "x", units are not
        if (token.isalpha() and len(token) >= 3) or token[0].isdigit():
            out.append(token)
    return out


def is_natural_language(query: str, min_words: int) -> bool:
    """A sentence rather than keywords: an NL opening, or a long query mostly of filler."""
    if NL_LEADS.search(query):
        return True
    # words only: units and the "x" of dimensions are not conversation
    tokens = [t for t in query_tokens(query)
              if t.isalpha() and t not in UNIT_WORDS and t != "x"]
    if len(tokens) < min_words:
        return False
    return sum(is_filler(t) for t in tokens) / len(tokens) >= 0.34
