"""Accepts or discards one candidate rewrite, with a reason.

A rewrite is served (and cached) only when it

1. is a different query (beyond case and spacing) of at most ``max_terms`` tokens;
2. keeps every intent term of the original (``IntentTermRule``);
3. returns no fewer results than the original: the search is run with the rewrite and
   its ``SearchProbe.strength()`` must be at least the original's.

Checks 1-2 cost microseconds and run before check 3, which costs one search.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streamrec.rewrite.intent_term_rule import IntentTermRule
from streamrec.rewrite.query_wording import query_tokens
from streamrec.rewrite.search_probe import SearchProbe


def _folded(text: str) -> str:
    # case and spacing only: `1/2 in` for `1/2"` is a rewrite (the vectors see the text)
    return " ".join(text.casefold().split())


SearchFn = Callable[[str], Awaitable[SearchProbe]]
"""rewrite -> the probe of a search with it (same k and category as the original)."""


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    """``improved`` or ``not_worse`` when accepted; else ``empty``, ``unchanged``,
    ``too_long``, ``dropped_intent_terms`` or ``fewer_results``."""
    probe: SearchProbe | None = None
    dropped: tuple[str, ...] = ()


class RewriteValidator:
    def __init__(self, rule: IntentTermRule, max_terms: int = 16) -> None:
        self.rule = rule
        self.max_terms = max_terms

    def check_wording(self, original: str, rewrite: str) -> Verdict | None:
        """A discarding verdict from the cheap checks, or None when they pass."""
        tokens = query_tokens(rewrite)
        if not tokens:
            return Verdict(False, "empty")
        if _folded(rewrite) == _folded(original):
            return Verdict(False, "unchanged")
        if len(tokens) > self.max_terms:
            return Verdict(False, "too_long")
        dropped = self.rule.dropped_terms(original, rewrite)
        if dropped:
            return Verdict(False, "dropped_intent_terms", dropped=tuple(dropped))
        return None

    async def validate(self, original: str, rewrite: str, original_probe: SearchProbe,
                       search: SearchFn) -> Verdict:
        early = self.check_wording(original, rewrite)
        if early is not None:
            return early
        probe = await search(rewrite)
        before, after = original_probe.strength(), probe.strength()
        if after < before:
            return Verdict(False, "fewer_results", probe)
        return Verdict(True, "improved" if after > before else "not_worse", probe)
