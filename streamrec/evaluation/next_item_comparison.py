"""Scores any next-item models exactly as ``recs_evaluation.score`` scores its baselines.

Same evaluation cases, same ``k``, same variants (the workload's ``baseline_variants``:
name suffix -> exclude history items), ``NextItemScores`` per model and variant; also
the wall-clock seconds of every ``recommend`` call (one user at a time).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from streamrec.evaluation.next_item_baselines import (
    NextItemScores,
    popularity_baseline,
    transition_baseline,
)


class NextItemModel(Protocol):
    def recommend(self, history: Sequence[str], k: int, *, exclude_history: bool = True
                  ) -> list[str]: ...


class NextItemCase(Protocol):
    history: list[str]
    target: str


@dataclass
class NextItemModelScores:
    scores: NextItemScores
    seconds: list[float] = field(default_factory=list)

    def latency_ms(self) -> dict[str, float]:
        """p50 / p99 / mean milliseconds of one ``recommend`` call."""
        if not self.seconds:
            return {"p50": 0.0, "p99": 0.0, "mean": 0.0}
        ordered = sorted(self.seconds)
        return {"p50": round(1000 * statistics.median(ordered), 3),
                "p99": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 3),
                "mean": round(1000 * statistics.fmean(ordered), 3)}


def baseline_models(training: Sequence[Sequence[str]]) -> dict[str, NextItemModel]:
    """Popularity and transitions, trained as ``recs_evaluation.score`` trains them."""
    return {"popularity": popularity_baseline(training),
            "transitions": transition_baseline(training)}


def score_next_item_models(cases: Sequence[NextItemCase], k: int,
                           variants: Mapping[str, bool],
                           models: Mapping[str, NextItemModel]
                           ) -> dict[str, NextItemModelScores]:
    """``{model name + variant suffix: scores}``, variants in the order given."""
    out: dict[str, NextItemModelScores] = {}
    for suffix, exclude in variants.items():
        for name, model in models.items():
            result = NextItemModelScores(NextItemScores(k))
            for case in cases:
                started = time.perf_counter()
                ranked = model.recommend(case.history, k, exclude_history=exclude)
                result.seconds.append(time.perf_counter() - started)
                result.scores.add(ranked, case.target)
            out[f"{name}{suffix}"] = result
    return out
