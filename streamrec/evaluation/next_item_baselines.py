"""Offline next-item baselines and single-target metrics, for judging the live recommender.

Both baselines learn from plain item sequences (each in time order) and answer a
ranked list for a history:

* popularity: the most frequent items over all training sequences;
* transitions: items that followed the history's last item in the training sequences
  (``a -> b`` counted once per adjacent pair), then what followed the second-last item,
  and so on back through the history, then popularity to fill the list.

Ties are broken by popularity, then by item id, so answers are deterministic.
``exclude_history`` leaves the history's own items out (right when a target never
repeats one, as in Amazon Games; wrong for click sessions, whose next click is often a
repeat).

Metrics for one query with a single relevant ``target``: hit (is it in the first k),
NDCG@k (``1 / log2(rank + 2)``, rank from 0) and reciprocal rank (``1 / (rank + 1)``),
all 0.0 when the target is not in the first k.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class PopularityBaseline:
    counts: Counter[str]
    ranked: tuple[str, ...]
    """Every training item, most frequent first."""

    def recommend(self, history: Sequence[str], k: int, *, exclude_history: bool = True
                  ) -> list[str]:
        return _fill([], set(history) if exclude_history else set(), self.ranked, k)


@dataclass(frozen=True)
class TransitionBaseline:
    popularity: PopularityBaseline
    counts: dict[str, Counter[str]]
    """item -> how often each item came right after it."""
    following: dict[str, tuple[str, ...]]
    """item -> the items that came right after it, most often first (ties: popularity)."""
    max_back: int | None = None
    """How many of the history's last items to back off through (None: all)."""

    def recommend(self, history: Sequence[str], k: int, *, exclude_history: bool = True
                  ) -> list[str]:
        excluded = set(history) if exclude_history else set()
        out: list[str] = []
        taken: set[str] = set()
        anchors = list(reversed(history))
        if self.max_back is not None:
            anchors = anchors[: self.max_back]
        for anchor in anchors:
            if len(out) >= k:
                break
            for item in self.following.get(anchor, ()):
                if item in excluded or item in taken:
                    continue
                out.append(item)
                taken.add(item)
                if len(out) >= k:
                    break
        return _fill(out, excluded | taken, self.popularity.ranked, k)


def popularity_baseline(sequences: Iterable[Sequence[str]]) -> PopularityBaseline:
    counts: Counter[str] = Counter()
    for sequence in sequences:
        counts.update(sequence)
    ranked = tuple(item for item, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return PopularityBaseline(counts, ranked)


def transition_baseline(sequences: Iterable[Sequence[str]], *, max_back: int | None = None
                        ) -> TransitionBaseline:
    """Count adjacent pairs ``a -> b`` (self-transitions ``a -> a`` included)."""
    sequences = [list(s) for s in sequences]
    popularity = popularity_baseline(sequences)
    counts: dict[str, Counter[str]] = {}
    for sequence in sequences:
        for before, after in pairwise(sequence):
            counts.setdefault(before, Counter())[after] += 1
    pop = popularity.counts
    following = {
        anchor: tuple(item for item, _ in sorted(
            followers.items(), key=lambda kv: (-kv[1], -pop[kv[0]], kv[0])))
        for anchor, followers in counts.items()
    }
    return TransitionBaseline(popularity, counts, following, max_back)


def _fill(out: list[str], excluded: set[str], ranked: Sequence[str], k: int) -> list[str]:
    """``out`` topped up to ``k`` from ``ranked``, skipping ``excluded`` items."""
    if len(out) >= k:
        return out[:k]
    for item in ranked:
        if item not in excluded:
            out.append(item)
            if len(out) >= k:
                break
    return out


def target_rank(ranked: Sequence[str], target: str, k: int) -> int | None:
    """The target's 0-based rank among the first ``k`` distinct items, or None."""
    seen: set[str] = set()
    for item in ranked:
        if item in seen:
            continue
        if len(seen) >= k:
            return None
        if item == target:
            return len(seen)
        seen.add(item)
    return None


def hit_at_k(ranked: Sequence[str], target: str, k: int) -> float:
    return 0.0 if target_rank(ranked, target, k) is None else 1.0


def ndcg_single_at_k(ranked: Sequence[str], target: str, k: int) -> float:
    rank = target_rank(ranked, target, k)
    return 0.0 if rank is None else 1.0 / math.log2(rank + 2)


def reciprocal_rank_at_k(ranked: Sequence[str], target: str, k: int) -> float:
    rank = target_rank(ranked, target, k)
    return 0.0 if rank is None else 1.0 / (rank + 1)


@dataclass
class NextItemScores:
    """Running HR@k, NDCG@k and MRR@k over queries, plus the distinct items answered."""

    k: int
    queries: int = 0
    hits: float = 0.0
    ndcg: float = 0.0
    rr: float = 0.0

    def __post_init__(self) -> None:
        self.items: set[str] = set()

    def add(self, ranked: Sequence[str], target: str) -> bool:
        """Score one answer; True when the target is in its first k."""
        top = ranked[: self.k]
        self.items.update(top)
        self.queries += 1
        rank = target_rank(top, target, self.k)
        if rank is None:
            return False
        self.hits += 1.0
        self.ndcg += 1.0 / math.log2(rank + 2)
        self.rr += 1.0 / (rank + 1)
        return True

    def summary(self, catalog_size: int) -> dict[str, float]:
        n = max(self.queries, 1)
        k = self.k
        return {
            f"hr@{k}": round(self.hits / n, 4),
            f"ndcg@{k}": round(self.ndcg / n, 4),
            f"mrr@{k}": round(self.rr / n, 4),
            "coverage": round(len(self.items) / catalog_size, 4) if catalog_size else 0.0,
            "queries": self.queries,
        }
