"""The cheap tier: normalisation, units and numbers, filler removal, catalog spelling.

* Normalisation and units, with the lexical index's own normaliser: lowercase, ASCII,
  ``1/2"`` -> ``1/2 in``, ``3 ft.`` -> ``3 ft``, ``1,000`` -> ``1000``, ``20v`` ->
  ``20 volt``, ``4 inches`` -> ``4 in``.
* A query that reads as a sentence loses its function words and shopping filler
  (``i am looking for a good cordless drill`` -> ``cordless drill``); a keyword query
  keeps every word (``closed front`` in a toilet seat title is not filler).
* The catalog speller (``SpellingCorrector``) fixes unknown words towards the catalog's
  own vocabulary.

Microseconds, no I/O; proposes nothing when the result is the query itself.
"""

from __future__ import annotations

from collections.abc import Callable

from streamrec.indexer.lexical_index import UNIT_WORDS
from streamrec.rewrite.query_wording import is_filler, is_natural_language, query_tokens
from streamrec.rewrite.rewrite_tier import Proposal, RewriteContext, TierName

CorrectFn = Callable[[str], str | None]
"""text -> the spelling-corrected text, or None when nothing changed."""


def _is_unit_after_number(tokens: list[str], i: int) -> bool:
    # "1/2 in": the unit is a measure, not the filler word "in"
    return i > 0 and tokens[i] in UNIT_WORDS and tokens[i - 1][0].isdigit()


class DeterministicRewriter:
    name: TierName = "deterministic"
    model = "rules"

    def __init__(self, correct: CorrectFn | None = None, natural_language_words: int = 6) -> None:
        self._correct = correct
        self._nl_words = natural_language_words

    def rewrite(self, query: str, natural_language: bool | None = None) -> str | None:
        tokens = query_tokens(query)
        if natural_language is None:
            natural_language = is_natural_language(query, self._nl_words)
        if natural_language:
            kept = [t for i, t in enumerate(tokens)
                    if not is_filler(t) or _is_unit_after_number(tokens, i)]
            tokens = kept or tokens
        text = " ".join(tokens)
        if self._correct is not None and text:
            text = self._correct(text) or text
        if not text or text == " ".join(query.casefold().split()):
            return None
        return text

    async def propose(self, query: str, context: RewriteContext) -> Proposal:
        natural = "natural_language" in context.reasons or None
        return Proposal(self.rewrite(query, natural), self.model)
