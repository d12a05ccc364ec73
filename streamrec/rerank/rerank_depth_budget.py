"""How deep to rerank within a per-request latency budget.

cost(depth) ~ overhead + depth * per_candidate. The per-candidate cost starts from the
reranker's own guess and follows what the stage measures (an exponentially weighted
mean), so a loaded machine reranks fewer candidates instead of blowing the budget, and
a quiet one goes deeper. Never below ``min_depth`` (the page's own items must still be
reordered, and a floor keeps the stage measuring so the estimate can recover), never
above ``max_depth`` or the candidates at hand.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class RerankBudgetConfig:
    """Tunables of the budget (mapped from ``Settings.rerank_*``)."""

    budget_ms: float = 5.0
    max_depth: int = 100
    min_depth: int = 20
    overhead_ms: float = 0.3
    """Fixed cost per request (query analysis, one model call)."""
    smoothing: float = 0.1
    """Weight of each new measurement in the running per-candidate cost."""


class RerankDepthBudget:
    def __init__(self, config: RerankBudgetConfig, candidate_ms: float) -> None:
        if config.min_depth < 1 or config.max_depth < config.min_depth:
            raise ValueError("need 1 <= min_depth <= max_depth")
        if candidate_ms <= 0:
            raise ValueError("candidate_ms must be > 0")
        self.config = config
        self._candidate_ms = candidate_ms
        self._lock = threading.Lock()

    @property
    def candidate_ms(self) -> float:
        return self._candidate_ms

    def depth(self, available: int) -> int:
        """Candidates to rerank out of ``available`` (0 when there are none)."""
        cfg = self.config
        if available <= 0:
            return 0
        affordable = (cfg.budget_ms - cfg.overhead_ms) / self._candidate_ms
        fit = math.floor(affordable) if math.isfinite(affordable) else cfg.max_depth
        return min(available, cfg.max_depth, max(cfg.min_depth, fit))

    def observe(self, depth: int, elapsed_ms: float) -> None:
        """Fold one measured stage time into the per-candidate estimate."""
        if depth <= 0 or not math.isfinite(elapsed_ms):
            return
        per = max(elapsed_ms - self.config.overhead_ms, 0.0) / depth
        per = max(per, 1e-4)  # a zero estimate would mean "infinitely deep"
        with self._lock:
            a = self.config.smoothing
            self._candidate_ms = (1 - a) * self._candidate_ms + a * per
