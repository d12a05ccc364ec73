"""The instruction both LLM tiers get, and how their answer becomes a query.

The user message is the query alone, so a cache of prompts (vLLM prefix caching,
Anthropic prompt caching) shares the whole system part across queries.
"""

from __future__ import annotations

import re

PROMPT_VERSION = "2026-11-27.1"
"""Part of the cache key: a changed prompt does not reuse rewrites made by the old one."""

SYSTEM_PROMPT = (
    "You rewrite shoppers' search queries for the keyword search engine of {catalog}. "
    "Answer with the rewritten query only: one line, no quotes, no explanation. "
    "Keep every product word, brand, model number and measure of the query, fixing "
    "misspellings; drop conversational filler (\"i am looking for\", \"please\"); write "
    "units as in the catalog (1/2 in, 3 ft, 20 volt); add at most two words that name "
    "the product type when the query leaves it implicit. If the query is already a "
    "good keyword query, answer it unchanged."
)

_REASONS = {
    "no_results": "It found nothing.",
    "weak_results": "It found only partial matches.",
    "natural_language": "It is written as a sentence.",
}

_PREFIX = re.compile(r"^(rewritten\s+query|query|rewrite)\s*:\s*", re.IGNORECASE)


def system_prompt(catalog: str, reasons: tuple[str, ...], category: str | None) -> str:
    notes = " ".join(_REASONS[r] for r in reasons if r in _REASONS)
    scope = f" The shopper is browsing the category {category}." if category else ""
    return SYSTEM_PROMPT.format(catalog=catalog) + (f" {notes}" if notes else "") + scope


def parse_answer(text: str | None, max_chars: int = 200) -> str | None:
    """The first non-empty line, without quotes, labels or trailing punctuation."""
    for line in (text or "").splitlines():
        line = _PREFIX.sub("", line.strip()).strip().rstrip(".").strip("`\"'").strip()
        if line:
            return line.rstrip(".")[:max_chars].strip() or None
    return None


def estimate_tokens(*texts: str) -> int:
    """A conservative token estimate for the budget (about 4 characters a token)."""
    return sum(len(t) // 3 + 1 for t in texts) + 8
