"""Blend the candidate sources named in configuration into one filtered, ranked list.

Sources run concurrently. Each source's scores are normalised by its best score (a
source whose scores are all <= 0 is normalised by rank instead), then multiplied by the
source's weight; an item several sources found gets the sum and keeps every source
name, the largest contribution first. A source that fails is logged and left out, so
one broken backend never empties a list.

Filters: already-purchased items always; recently seen items when ``filter_seen``;
unavailable or unknown items when an item lookup (the index metadata) is given.

``generate_many`` does the same for a batch of users with one call per source
(``fetch_many`` where a source has it); blending and filtering are the same code, so
each user gets exactly the list ``generate`` would give.

``config_hash()`` covers the generator's configuration, each source's configuration
and the filters, so a cached list written under another configuration is recognised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamrec.recs.candidate import BlendedCandidate, Candidate
from streamrec.recs.candidate_filter import (
    CandidateFilter,
    FilterContext,
    ItemLookup,
    unknown_item,
)
from streamrec.recs.candidate_source import CandidateSource
from streamrec.recs.purchased_items_filter import PurchasedItemsFilter
from streamrec.recs.seen_items_filter import SeenItemsFilter
from streamrec.recs.unavailable_items_filter import UnavailableItemsFilter
from streamrec.recs.user_profile import UserProfile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    """``family/name`` of a source instance given to the generator."""
    weight: float = 1.0
    k: int = 100
    """How many candidates the source is asked for."""


@dataclass(frozen=True)
class CandidateGeneratorConfig:
    sources: tuple[SourceSpec, ...] = (
        SourceSpec("item-based/co-visitation", weight=1.0, k=60),
        SourceSpec("embedding/interest-ann", weight=0.8, k=60),
        SourceSpec("popular/trending", weight=0.3, k=30),
    )
    top_n: int = 100
    """Cached per user; halving it from 200 (and the sources' k) halved a refresh's cost,
    and a page reads 40 of them (all 100 only under a category filter)."""
    """How many candidates are kept (and cached) per user."""
    filter_seen: bool = False
    """Also leave out items among the user's ``seen_recent`` most recent ones."""
    seen_recent: int = 20
    normalisation: str = "max"
    """How each source's scores are put on one scale before blending: ``max`` or ``rank``."""
    version: int = 1
    """Bump to invalidate every cached list without changing anything else."""

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"a source is configured twice: {names}")
        if self.top_n < 1:
            raise ValueError("top_n must be >= 1")


@dataclass(frozen=True)
class GeneratedCandidates:
    candidates: list[BlendedCandidate]
    sources_used: tuple[str, ...]
    """Sources that answered (even with nothing), in configuration order."""
    fetched: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    """Filter name -> how many candidates it removed."""
    errors: dict[str, str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)


YIELD_EVERY = 32
"""``generate_many`` gives the event loop a turn after blending this many users."""

RANK_K = 10.0
"""Rank normalisation: the item at rank r (from 0) scores (K + 1) / (K + 1 + r)."""


def normalised(candidates: Sequence[Candidate], method: str = "max"
               ) -> list[tuple[Candidate, float]]:
    """Scores in [0, 1], one per sku. ``max``: divided by the best score (by rank when no
    score is positive). ``rank``: by position only, so a source with steeply falling
    scores (co-visitation) interleaves with one whose scores are flat (ANN)."""
    unique: dict[str, Candidate] = {}
    for c in candidates:
        if c.sku and (c.sku not in unique or c.score > unique[c.sku].score):
            unique[c.sku] = c
    ranked = sorted(unique.values(), key=lambda c: -c.score)
    if method == "rank":
        return [(c, (RANK_K + 1) / (RANK_K + 1 + rank)) for rank, c in enumerate(ranked)]
    top = ranked[0].score if ranked else 0.0
    if top > 0:
        return [(c, max(c.score, 0.0) / top) for c in ranked]
    return [(c, 1.0 / (rank + 1)) for rank, c in enumerate(ranked)]


def blend(per_source: Mapping[str, Sequence[Candidate]],
          weights: Mapping[str, float], method: str = "max") -> list[BlendedCandidate]:
    """Weighted sum of normalised scores; ties broken by sku for a stable order."""
    parts: dict[str, list[tuple[float, Candidate]]] = {}
    for name, candidates in per_source.items():
        weight = weights.get(name, 0.0)
        for candidate, score in normalised(candidates, method):
            parts.setdefault(candidate.sku, []).append((weight * score, candidate))
    out = []
    for sku, contributions in parts.items():
        contributions.sort(key=lambda p: -p[0])
        via_sku = next((c.via_sku for _, c in contributions if c.via_sku), None)
        via_category = next((c.via_category for _, c in contributions if c.via_category), None)
        out.append(BlendedCandidate(
            sku, sum(p for p, _ in contributions), tuple(c.source for _, c in contributions),
            via_sku, via_category))
    out.sort(key=lambda c: (-c.score, c.sku))
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class CandidateGenerator:
    def __init__(self, sources: Sequence[CandidateSource],
                 config: CandidateGeneratorConfig | None = None,
                 item_lookup: ItemLookup | None = None,
                 filters: Sequence[CandidateFilter] | None = None) -> None:
        self.config = config or CandidateGeneratorConfig()
        by_name = {source.name: source for source in sources}
        missing = [s.name for s in self.config.sources if s.name not in by_name]
        if missing:  # a miswired generator fails at start-up, not on an event
            raise ValueError(f"configured sources without an instance: {missing}")
        self.sources = [by_name[spec.name] for spec in self.config.sources]
        self.item_lookup = item_lookup
        if filters is None:
            filters = [SeenItemsFilter()] if self.config.filter_seen else []
            if item_lookup is not None:
                filters = [*filters, UnavailableItemsFilter()]
        if not any(isinstance(f, PurchasedItemsFilter) for f in filters):
            filters = [PurchasedItemsFilter(), *filters]  # always, and first (cheapest)
        self.filters = list(filters)
        self._weights = {spec.name: spec.weight for spec in self.config.sources}
        self._hash = self._config_hash()

    def config_hash(self) -> str:
        return self._hash

    def _config_hash(self) -> str:
        description = {
            "generator": _plain(self.config),
            "sources": {s.name: _plain(getattr(s, "config", None)) for s in self.sources},
            "filters": [f.name for f in self.filters],
        }
        digest = hashlib.sha256(orjson.dumps(description, option=orjson.OPT_SORT_KEYS))
        return digest.hexdigest()[:16]

    async def generate(self, profile: UserProfile) -> GeneratedCandidates:
        """The user's top ``top_n`` candidates after blending and filtering."""
        specs = self.config.sources
        timings: dict[str, float] = {}

        async def timed(source: CandidateSource, k: int) -> list[Candidate]:
            started = time.perf_counter()
            try:
                return await source.fetch(profile, k)
            finally:
                timings[source.name] = round((time.perf_counter() - started) * 1000, 3)

        answers = await asyncio.gather(
            *(timed(source, spec.k) for source, spec in zip(self.sources, specs, strict=True)),
            return_exceptions=True)
        for spec, answer in zip(specs, answers, strict=True):
            if isinstance(answer, Exception):
                log.warning("candidate source %s failed for %s: %r", spec.name,
                            profile.user_id, answer)
        return self._assemble(profile, answers, timings)

    async def generate_many(self, profiles: Sequence[UserProfile]
                            ) -> list[GeneratedCandidates]:
        """``generate`` for each profile (same order, same candidates), with one call per
        source for all of them: ``fetch_many`` where the source has it, else its
        ``fetch`` gathered per user. A source that fails fails for the whole batch and
        is left out of every user's list, as ``generate`` leaves it out of one. Blending
        and filtering stay per user; the loop gets a turn every ``YIELD_EVERY`` users."""
        profiles = list(profiles)
        if not profiles:
            return []
        specs = self.config.sources
        timings: dict[str, float] = {}

        async def timed_many(source: CandidateSource, k: int) -> list[Any]:
            started = time.perf_counter()
            try:
                fetch_many = getattr(source, "fetch_many", None)
                if fetch_many is None:
                    return await asyncio.gather(*(source.fetch(p, k) for p in profiles),
                                                return_exceptions=True)
                found = await fetch_many(profiles, k)
                if len(found) != len(profiles):
                    raise RuntimeError(f"{source.name}.fetch_many answered {len(found)} "
                                       f"lists for {len(profiles)} users")
                return list(found)
            finally:
                timings[source.name] = round((time.perf_counter() - started) * 1000, 3)

        batches = await asyncio.gather(
            *(timed_many(source, spec.k)
              for source, spec in zip(self.sources, specs, strict=True)),
            return_exceptions=True)
        per_source: list[list[Any]] = []
        for spec, batch in zip(specs, batches, strict=True):
            if isinstance(batch, BaseException):
                if not isinstance(batch, Exception):
                    raise batch
                log.warning("candidate source %s failed for a batch of %d users: %r",
                            spec.name, len(profiles), batch)
                per_source.append([batch] * len(profiles))
            else:
                failed = sum(isinstance(a, Exception) for a in batch)
                if failed:
                    log.warning("candidate source %s failed for %d of %d users: %r",
                                spec.name, failed, len(profiles),
                                next(a for a in batch if isinstance(a, Exception)))
                per_source.append(batch)
        out = []
        for row, profile in enumerate(profiles):
            if row and row % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # blending is CPU: let the loop breathe
            out.append(self._assemble(profile, [answers[row] for answers in per_source],
                                      dict(timings)))
        return out

    def _assemble(self, profile: UserProfile, answers: Sequence[Any],
                  timings: dict[str, float]) -> GeneratedCandidates:
        """Blend one user's answers (a list or an exception per configured source), then
        filter; pure CPU, shared by ``generate`` and ``generate_many``."""
        specs = self.config.sources
        per_source: dict[str, list[Candidate]] = {}
        errors: dict[str, str] = {}
        for spec, answer in zip(specs, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, Exception):
                    raise answer
                errors[spec.name] = repr(answer)
            else:
                per_source[spec.name] = answer
        blended = blend(per_source, self._weights, self.config.normalisation)
        context = FilterContext(
            purchased=profile.purchased.keys(),
            seen=frozenset(profile.recent_skus(self.config.seen_recent)),
            item=self.item_lookup or unknown_item,
        )
        removed: dict[str, int] = {}
        for candidate_filter in self.filters:
            outcome = candidate_filter.apply(blended, context)
            blended = outcome.kept
            removed[candidate_filter.name] = len(outcome.removed)
        return GeneratedCandidates(
            candidates=blended[: self.config.top_n],
            sources_used=tuple(spec.name for spec in specs if spec.name in per_source),
            fetched={name: len(c) for name, c in per_source.items()},
            removed=removed,
            errors=errors,
            timings_ms=timings,
        )
