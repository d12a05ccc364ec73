"""Prometheus metrics of the cascade, per tier (``cache``, ``deterministic``,
``small_llm``, ``large_llm``).

Share that improved the result, per tier, in PromQL:
``rate(streamrec_rewrite_outcomes_total{outcome="improved"}[5m])
/ ignoring(outcome) sum without(outcome) (rate(streamrec_rewrite_outcomes_total[5m]))``;
``streamrec_rewrite_improved_share`` holds the same since the process started.
"""

from __future__ import annotations

import threading
from collections import Counter as _Tally

from prometheus_client import Counter, Gauge, Histogram

ROUTES = Counter("streamrec_rewrite_routes_total",
                 "Searches by the router's decision (not_needed, or the reasons it rewrote)",
                 ["route"])
CALLS = Counter("streamrec_rewrite_tier_calls_total",
                "Calls to a rewrite tier (over-budget calls are not made and not counted here)",
                ["tier"])
TOKENS = Counter("streamrec_rewrite_tier_tokens_total",
                 "Tokens reported by the model server", ["tier", "direction"])
COST = Counter("streamrec_rewrite_tier_cost_usd_total",
               "Cost of the tokens at the configured price", ["tier"])
LATENCY = Histogram("streamrec_rewrite_tier_seconds", "Time of one tier call, validation included",
                    ["tier"], buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                       0.25, 0.5, 1.0, 2.5, 5.0))
OUTCOMES = Counter("streamrec_rewrite_outcomes_total",
                   "What a tier's attempt came to: improved, not_worse, discarded, no_rewrite, "
                   "over_budget, timeout, error, miss (cache)", ["tier", "outcome"])
DISCARDS = Counter("streamrec_rewrite_discards_total", "Rewrites discarded by the validator",
                   ["tier", "reason"])
IMPROVED_SHARE = Gauge("streamrec_rewrite_improved_share",
                       "Share of a tier's attempts that improved the result (since start)",
                       ["tier"], multiprocess_mode="liveall")  # a share per API process

_lock = threading.Lock()
_attempts: _Tally[str] = _Tally()
_improved: _Tally[str] = _Tally()


def record_outcome(tier: str, outcome: str) -> None:
    OUTCOMES.labels(tier, outcome).inc()
    with _lock:
        _attempts[tier] += 1
        _improved[tier] += outcome == "improved"
        IMPROVED_SHARE.labels(tier).set(_improved[tier] / _attempts[tier])
