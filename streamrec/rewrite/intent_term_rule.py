"""The rule a rewrite must keep: every intent term of the original query survives.

Candidate terms (``query_wording.intent_terms``) are the product words and measures of
a query: normalised tokens that are numbers, or words of 3+ letters that are neither
function words, shopping filler ("looking", "need", "best") nor units. ``cordless drill
for brick`` has ``cordless``, ``drill``, ``brick``; ``i am looking for 1/2" pvc pipe``
has ``1/2``, ``pvc``, ``pipe``.

With the catalog's vocabulary (``is_known``, the speller's), the **intent terms** are
the candidates the catalog knows (same word or same English stem) and every number: the
words that retrieve the products the shopper means. A word the catalog does not know
matches nothing as typed, so a rewrite may correct it or replace it (``screwgun`` ->
``drill driver``). Without a vocabulary every candidate is an intent term, and an edit
of up to 1 (5 letters or fewer) or 2 characters counts as a spelling fix.

An intent term is kept when the rewrite has a token that is the same word, has the same
English stem (``drills`` keeps ``drill``), or with its neighbour spells it (``hotwater``
-> ``hot water``). Numbers must stay exactly (``1/2`` is not ``3/4``). A known word must
stay itself: ``drill`` -> ``grill`` drops it. Adding words (a synonym, a product type) is
allowed; dropping or replacing an intent term is not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from streamrec.indexer.lexical_index import build_product_analyzer
from streamrec.indexer.spelling_corrector import osa_distance
from streamrec.rewrite.query_wording import intent_terms, query_tokens


class IntentTermRule:
    def __init__(self, is_known: Callable[[str], bool] | None = None) -> None:
        # None: no vocabulary; every content word is an intent term (spelling edits allowed)
        self._is_known = is_known
        self._analyzer = build_product_analyzer()

    def dropped_terms(self, original: str, rewrite: str) -> list[str]:
        """The original's intent terms the rewrite does not keep (empty: rule met)."""
        tokens = query_tokens(rewrite)
        stems = {self._stem(t) for t in tokens}
        joined = {a + b for a, b in itertools.pairwise(tokens)}
        return [term for term in intent_terms(original)
                if not self._kept(term, tokens, stems, joined)]

    def _kept(self, term: str, tokens: Sequence[str], stems: set[str], joined: set[str]
              ) -> bool:
        if term in tokens or term in joined:
            return True
        if not term.isalpha():
            return False  # measures stay exactly
        if self._stem(term) in stems:
            return True
        if self._is_known is not None:
            return not self._is_known(term)  # unknown to the catalog: free to fix or replace
        limit = 1 if len(term) <= 5 else 2
        return any(t.isalpha() and osa_distance(term, t, limit) <= limit for t in tokens)

    def _stem(self, word: str) -> str:
        stems = self._analyzer.analyze(word)
        return stems[0] if stems else word
