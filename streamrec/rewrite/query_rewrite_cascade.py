"""Runs the cascade for one query: route, then the tiers cheapest first, each rewrite
validated, the best one served and cached.

Policy:

* the router picks the tiers (none: the query is not touched and pays nothing);
* a cache hit that still validates is served at once;
* otherwise each tier proposes a rewrite; a paid tier first reserves its estimated
  tokens and cost in the budget and is skipped (``over_budget``) when they do not fit;
  an LLM call has a hard timeout (the tier's own, capped by what is left of the stage's
  deadline), and a timeout or an error falls through to the next tier;
* the cascade stops at the first rewrite that *improves* the result; a rewrite that is
  only ``not_worse`` is kept while higher tiers try to do better, and served when none
  does (the cheapest such one);
* the served rewrite is cached; nothing else is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from streamrec.rewrite import rewrite_metrics as metrics
from streamrec.rewrite.cost_budget import CostBudget, ModelPrice
from streamrec.rewrite.rewrite_cache import CachedRewrite, RewriteCache
from streamrec.rewrite.rewrite_prompt import estimate_tokens
from streamrec.rewrite.rewrite_router import RewriteRouter, RouteDecision
from streamrec.rewrite.rewrite_tier import PAID_TIERS, Proposal, RewriteContext, RewriteTier
from streamrec.rewrite.rewrite_validator import RewriteValidator, SearchFn, Verdict
from streamrec.rewrite.search_probe import SearchProbe

log = logging.getLogger(__name__)


@dataclass
class TierAttempt:
    tier: str
    outcome: str
    """improved, not_worse, discarded, no_rewrite, over_budget, timeout, error, miss."""
    model: str = ""
    rewrite: str | None = None
    reason: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0


@dataclass
class RewriteOutcome:
    route: RouteDecision
    attempts: list[TierAttempt] = field(default_factory=list)
    rewrite: str | None = None
    """The served rewrite; None when the query runs as typed."""
    tier: str | None = None
    """The tier that made the served rewrite (for a cache hit, the tier that made it first)."""
    cached: bool = False
    probe: SearchProbe | None = None
    """The search with the served rewrite (its ``payload`` is what to serve)."""

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    def as_dict(self) -> dict[str, Any]:
        """The response's ``rewrite`` object (see docs/contract.md)."""
        return {
            "route": self.route.label,
            "rewritten": self.rewrite is not None,
            "query": self.rewrite,
            "tier": self.tier,
            "cached": self.cached,
            "tried": [{k: v for k, v in asdict(a).items() if v not in ("", None)}
                      for a in self.attempts],
        }


@dataclass(frozen=True)
class _Accepted:
    tier: str
    model: str
    text: str
    verdict: Verdict


class QueryRewriteCascade:
    def __init__(self, router: RewriteRouter, validator: RewriteValidator,
                 tiers: Sequence[RewriteTier], cache: RewriteCache | None,
                 budget: CostBudget, prices: Mapping[str, ModelPrice],
                 timeouts_s: Mapping[str, float], stage_timeout_s: float,
                 max_output_tokens: int = 32) -> None:
        self.router = router
        self.validator = validator
        self.tiers = list(tiers)
        self.cache = cache
        self.budget = budget
        self.prices = prices
        self.timeouts_s = timeouts_s
        self.stage_timeout_s = stage_timeout_s
        self.max_output_tokens = max_output_tokens

    def price(self, model: str) -> ModelPrice:
        return self.prices.get(model, ModelPrice())

    async def rewrite(self, query: str, category: str | None, probe: SearchProbe,
                      search: SearchFn) -> RewriteOutcome:
        decision = self.router.route(query, probe)
        metrics.ROUTES.labels(decision.label).inc()
        outcome = RewriteOutcome(decision)
        if not decision.selected:
            return outcome
        deadline = time.perf_counter() + self.stage_timeout_s
        if "cache" in decision.tiers and self.cache is not None:
            hit = await self._from_cache(query, category, probe, search, outcome)
            if hit:
                return outcome
        context = RewriteContext(category, decision.reasons)
        best: _Accepted | None = None
        for tier in self.tiers:
            if tier.name not in decision.tiers:
                continue
            left = deadline - time.perf_counter()
            if left <= 0:
                self._record(outcome, TierAttempt(tier.name, "timeout", tier.model,
                                                  reason="stage deadline reached"))
                continue
            accepted = await self._try_tier(tier, query, context, probe, search, left, outcome)
            if accepted is not None and (
                    best is None or accepted.verdict.reason == "improved"):
                best = accepted
            if best is not None and best.verdict.reason == "improved":
                break
        if best is not None:
            outcome.rewrite, outcome.tier = best.text, best.tier
            outcome.probe = best.verdict.probe
            if self.cache is not None:
                try:
                    await self.cache.put(query, category,
                                         CachedRewrite(outcome.rewrite, best.tier, best.model))
                except Exception as exc:  # a cache write failing must not fail the search
                    log.warning("rewrite cache write failed: %r", exc)
        return outcome

    # --- tiers ---------------------------------------------------------------------------
    def _record(self, outcome: RewriteOutcome, attempt: TierAttempt) -> None:
        outcome.attempts.append(attempt)
        metrics.record_outcome(attempt.tier, attempt.outcome)

    async def _from_cache(self, query: str, category: str | None, probe: SearchProbe,
                          search: SearchFn, outcome: RewriteOutcome) -> bool:
        assert self.cache is not None
        started = time.perf_counter()
        attempt = TierAttempt("cache", "miss")
        try:
            cached = await self.cache.get(query, category)
            if cached is not None:
                attempt.rewrite, attempt.model = cached.text, cached.model
                verdict = await self.validator.validate(query, cached.text, probe, search)
                if verdict.accepted:
                    attempt.outcome = verdict.reason
                    outcome.rewrite, outcome.tier = cached.text, cached.tier
                    outcome.cached, outcome.probe = True, verdict.probe
                else:  # the catalog moved on since it was validated
                    attempt.outcome, attempt.reason = "discarded", verdict.reason
                    metrics.DISCARDS.labels("cache", verdict.reason).inc()
                    await self.cache.forget(query, category)
        except Exception as exc:  # Redis down: go on without the cache
            attempt.outcome, attempt.reason = "error", repr(exc)
            log.warning("rewrite cache read failed: %r", exc)
        elapsed = time.perf_counter() - started
        attempt.latency_ms = round(elapsed * 1000, 3)
        metrics.CALLS.labels("cache").inc()
        metrics.LATENCY.labels("cache").observe(elapsed)
        self._record(outcome, attempt)
        return outcome.cached

    async def _try_tier(self, tier: RewriteTier, query: str, context: RewriteContext,
                        probe: SearchProbe, search: SearchFn, time_left_s: float,
                        outcome: RewriteOutcome) -> _Accepted | None:
        paid = tier.name in PAID_TIERS
        price = self.price(tier.model)
        reservation = None
        if paid:
            prompt = tier.prompt(query, context) if hasattr(tier, "prompt") else ""
            est_in, est_out = estimate_tokens(prompt, query), self.max_output_tokens
            reservation = self.budget.try_reserve(est_in + est_out, price.cost(est_in, est_out))
            if reservation is None:
                self._record(outcome, TierAttempt(tier.name, "over_budget", tier.model,
                                                  reason="tokens/min or USD/hour budget"))
                return None
        attempt = TierAttempt(tier.name, "no_rewrite", tier.model)
        started = time.perf_counter()
        metrics.CALLS.labels(tier.name).inc()
        accepted: _Accepted | None = None
        try:
            timeout = min(self.timeouts_s.get(tier.name, time_left_s), time_left_s)
            proposal: Proposal = await asyncio.wait_for(tier.propose(query, context), timeout)
        except TimeoutError:
            attempt.outcome, attempt.reason = "timeout", f"no answer within {timeout:.3g}s"
            # the server may still bill it: the reservation keeps the estimate
        except Exception as exc:  # a failing tier falls through to the next one
            attempt.outcome, attempt.reason = "error", _short(exc)
            if reservation is not None:
                self.budget.release(reservation)
        else:
            attempt.model = proposal.model or tier.model
            attempt.tokens_in, attempt.tokens_out = proposal.tokens_in, proposal.tokens_out
            attempt.cost_usd = self.price(tier.model).cost(proposal.tokens_in,
                                                           proposal.tokens_out)
            if reservation is not None:
                self.budget.settle(reservation, proposal.tokens_in + proposal.tokens_out,
                                   attempt.cost_usd)
            metrics.TOKENS.labels(tier.name, "in").inc(proposal.tokens_in)
            metrics.TOKENS.labels(tier.name, "out").inc(proposal.tokens_out)
            metrics.COST.labels(tier.name).inc(attempt.cost_usd)
            attempt.rewrite = proposal.text
            if proposal.text:
                verdict = await self.validator.validate(query, proposal.text, probe, search)
                if verdict.accepted:
                    attempt.outcome = verdict.reason
                    accepted = _Accepted(tier.name, attempt.model, proposal.text, verdict)
                else:
                    attempt.outcome = "discarded"
                    attempt.reason = verdict.reason + (
                        f": {', '.join(verdict.dropped)}" if verdict.dropped else "")
                    metrics.DISCARDS.labels(tier.name, verdict.reason).inc()
        elapsed = time.perf_counter() - started
        attempt.latency_ms = round(elapsed * 1000, 3)
        metrics.LATENCY.labels(tier.name).observe(elapsed)
        self._record(outcome, attempt)
        return accepted

    async def aclose(self) -> None:
        for tier in self.tiers:
            close = getattr(tier, "aclose", None)
            if close is not None:
                await close()


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:197] + "..."
