"""The "no empty page" ladder of search: the first rung that finds enough items serves.

1. ``hybrid``: the normal search (ANN + lexical, fused) on the query as typed.
2. ``spelling``: the same search on the spelling-corrected query, when the corrector
   changed something.
3. ``lexical_relaxed``: lexical search matching *any* query term (on the corrected
   query when there is one).
4. ``popular_in_category``: popular items of the requested category or, failing
   that, of the category inferred from the relaxed lexical hits (a score-weighted
   vote over their category paths, keeping the deepest prefix with a clear majority).
5. ``popular``: popular items overall.

Pure logic: every rung is a callable passed in, so the serving route, tests and
benches wire their own. A rung that raises is logged, recorded in
:attr:`LadderResult.errors` and skipped, so one failing backend never empties a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

log = logging.getLogger(__name__)

Rung = Literal["hybrid", "spelling", "lexical_relaxed", "popular_in_category", "popular"]
RUNGS: tuple[Rung, ...] = (
    "hybrid",
    "spelling",
    "lexical_relaxed",
    "popular_in_category",
    "popular",
)

Scored = list[tuple[str, float]]


class CategorisedHit(Protocol):
    """A lexical hit that knows its product's category (``LexicalHit`` is one)."""

    @property
    def sku(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def category_path(self) -> Sequence[str]: ...


SearchFn = Callable[[str, int, str | None], Sequence[tuple[str, float]]]
"""(query, k, category) -> (sku, score) best first."""
CorrectFn = Callable[[str], str | None]
"""query -> corrected query, or None (or the same query) when nothing was corrected."""
RelaxedSearchFn = Callable[[str, int, str | None], Sequence[CategorisedHit]]
"""(query, k, category) -> hits with their category paths."""
PopularFn = Callable[[int, str | None], Sequence[tuple[str, float]]]
"""(k, category or None for overall) -> (sku, score) best first."""


@dataclass(frozen=True)
class FallbackLadderConfig:
    """Tunables of the ladder (the lead maps these onto ``Settings``)."""

    min_results: int = 1
    """A rung serves when it returns at least this many items."""
    min_relaxed_score: float = 0.0
    """Relaxed lexical hits scoring below this do not serve (they still vote for a category)."""
    category_vote_hits: int = 20
    """How many relaxed hits vote on the inferred category."""
    category_min_share: float = 0.5
    """Score share a category prefix needs to be inferred."""
    category_separator: str = " > "


@dataclass(frozen=True)
class LadderResult:
    items: Scored
    rung: Rung
    query: str
    """The query as it was run by the serving rung (corrected for ``spelling``)."""
    corrected_query: str | None = None
    category: str | None = None
    """The category the serving rung filtered on (requested or inferred)."""
    category_inferred: bool = False
    tried: tuple[Rung, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)


def infer_category(
    hits: Sequence[CategorisedHit], min_share: float = 0.5, max_hits: int = 20
) -> tuple[str, ...] | None:
    """The deepest category prefix holding at least ``min_share`` of the hits' scores."""
    votes: dict[tuple[str, ...], float] = {}
    total = 0.0
    for hit in hits[:max_hits]:
        weight = max(float(hit.score), 0.0) or 1e-9
        total += weight
        path = tuple(hit.category_path)
        for depth in range(1, len(path) + 1):
            votes[path[:depth]] = votes.get(path[:depth], 0.0) + weight
    if total <= 0:
        return None
    best: tuple[str, ...] | None = None
    for prefix, weight in votes.items():
        if weight / total >= min_share and (
            best is None
            or len(prefix) > len(best)
            or (len(prefix) == len(best) and weight > votes[best])
        ):
            best = prefix
    return best


class FallbackLadder:
    """Runs the rungs in order and reports which one served."""

    def __init__(
        self,
        hybrid: SearchFn,
        relaxed: RelaxedSearchFn,
        popular: PopularFn,
        correct: CorrectFn | None = None,
        config: FallbackLadderConfig | None = None,
    ) -> None:
        self._hybrid = hybrid
        self._relaxed = relaxed
        self._popular = popular
        self._correct = correct
        self.config = config or FallbackLadderConfig()

    def search(self, query: str, k: int = 10, category: str | None = None) -> LadderResult:
        cfg = self.config
        tried: list[Rung] = []
        errors: dict[str, str] = {}

        def attempt(rung: Rung, fn: Callable[[], Sequence]) -> Sequence:
            if not tried or tried[-1] != rung:
                tried.append(rung)
            try:
                return fn()
            except Exception as exc:  # a failing backend must not empty the page
                log.warning("search rung %s failed: %r", rung, exc)
                errors[rung] = repr(exc)
                return []

        def result(items: Sequence[tuple[str, float]], rung: Rung, **kw: object) -> LadderResult:
            kw.setdefault("query", query)
            kw.setdefault("category", category)
            return LadderResult(
                items=[(s, float(v)) for s, v in items][:k],
                rung=rung,
                tried=tuple(tried),
                errors=errors,
                **kw,  # type: ignore[arg-type]
            )

        enough = max(1, cfg.min_results)
        query = query.strip()
        if query:
            items = attempt("hybrid", lambda: self._hybrid(query, k, category))
            if len(items) >= enough:
                return result(items, "hybrid")

        corrected: str | None = None
        if query and self._correct is not None:
            fixed = attempt("spelling", lambda: self._correct(query))
            if isinstance(fixed, str) and fixed.strip() and fixed.strip() != query:
                corrected = fixed.strip()
                items = attempt("spelling", lambda: self._hybrid(corrected, k, category))
                if len(items) >= enough:
                    return result(items, "spelling", query=corrected, corrected_query=corrected)

        hits: Sequence[CategorisedHit] = []
        relaxed_query = corrected or query
        if relaxed_query:
            hits = attempt("lexical_relaxed", lambda: self._relaxed(relaxed_query, k, category))
            good = [(h.sku, h.score) for h in hits if h.score >= cfg.min_relaxed_score]
            if len(good) >= enough:
                return result(
                    good, "lexical_relaxed", query=relaxed_query, corrected_query=corrected
                )

        target = category
        inferred = False
        if target is None and hits:
            levels = infer_category(hits, cfg.category_min_share, cfg.category_vote_hits)
            if levels:
                target, inferred = cfg.category_separator.join(levels), True
        if target is not None:
            items = attempt("popular_in_category", lambda: self._popular(k, target))
            if len(items) >= enough:
                return result(
                    items,
                    "popular_in_category",
                    corrected_query=corrected,
                    category=target,
                    category_inferred=inferred,
                )

        items = attempt("popular", lambda: self._popular(k, None))
        return result(items, "popular", corrected_query=corrected, category=None)
