"""Decides from a query's first-pass signals whether to rewrite it and how far to go.

* ``no_results``: nothing matched (a popular rung served, or no items).
* ``weak_results``: only partial matches: the relaxed rung served, fewer than
  ``min_strict_hits`` products match most query words, fewer than ``min_hits`` items,
  or a top score under ``min_top_score`` (0 turns that signal off: fused scores are
  normalised per query, so a threshold only means something for one retriever).
* ``natural_language``: the query reads as a sentence (``query_wording``).

No reason: the query is not rewritten and pays nothing. Cheap tiers (cache,
deterministic, small LLM) serve every selected query; the large LLM only the hardest:
no results, a sentence, or at least ``hard_query_words`` words.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamrec.rewrite.query_wording import is_natural_language, query_tokens
from streamrec.rewrite.rewrite_tier import TIERS, TierName
from streamrec.rewrite.search_probe import MATCH_CLASS, SearchProbe


@dataclass(frozen=True)
class RewriteRouterConfig:
    min_strict_hits: int = 1
    min_hits: int = 1
    min_top_score: float = 0.0
    natural_language_words: int = 6
    """A query of this many words, a third of them filler, reads as a sentence."""
    hard_query_words: int = 8


@dataclass(frozen=True)
class RouteDecision:
    reasons: tuple[str, ...]
    tiers: tuple[TierName, ...]
    """Tiers this query may use, in order (the configured ones only)."""

    @property
    def selected(self) -> bool:
        return bool(self.tiers)

    @property
    def label(self) -> str:
        return "+".join(self.reasons) if self.reasons else "not_needed"


class RewriteRouter:
    def __init__(self, available: tuple[TierName, ...],
                 config: RewriteRouterConfig | None = None) -> None:
        self.available = tuple(t for t in TIERS if t in available)
        self.config = config or RewriteRouterConfig()

    def route(self, query: str, probe: SearchProbe) -> RouteDecision:
        cfg = self.config
        reasons: list[str] = []
        if MATCH_CLASS.get(probe.rung, 0) == 0 or probe.hits == 0:
            reasons.append("no_results")
        elif (MATCH_CLASS.get(probe.rung, 0) < 2 or probe.strict_hits < cfg.min_strict_hits
              or probe.hits < cfg.min_hits
              or (cfg.min_top_score > 0 and probe.top_score < cfg.min_top_score)):
            reasons.append("weak_results")
        if is_natural_language(query, cfg.natural_language_words):
            reasons.append("natural_language")
        if not reasons:
            return RouteDecision((), ())
        hard = ("no_results" in reasons or "natural_language" in reasons
                or len(query_tokens(query)) >= cfg.hard_query_words)
        tiers = tuple(t for t in self.available if hard or t != "large_llm")
        return RouteDecision(tuple(reasons), tiers)
