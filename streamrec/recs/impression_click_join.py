"""Join logged impressions with the feedback that followed them, and label each shown item.

Labels: PURCHASE 3 > ADD_TO_CART 2 > CLICK 1 > nothing 0 (an item keeps its best).

An event is attributed to an impression

1. by ``context["request_id"]`` (what a client echoes from the response), when that
   impression is known and showed the event's sku; else
2. by user and sku: the latest impression of that user that showed the sku at most
   ``window_ms`` before the event.

Only impressions logged with the rerank stage's features under exactly
``feature_names`` are kept (older records have none; another code version may log
other columns), so a model learns from what serving saw, column for column.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FEEDBACK_LABELS = {"CLICK": 1, "ADD_TO_CART": 2, "PURCHASE": 3}


@dataclass
class LabelledImpression:
    request_id: str
    user_id: str
    variant: str
    ts: int
    skus: list[str]
    features: np.ndarray
    """(len(skus), len(feature_names)) float32, rows in logged position order."""
    labels: np.ndarray
    """Per shown item, 0-3."""

    @property
    def has_positive(self) -> bool:
        return bool(self.labels.max(initial=0) > 0)


@dataclass
class JoinStats:
    impressions: int = 0
    usable: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Why impressions were left out: ``no_features``, ``other_features``,
    ``other_surface``, ``other_variant``, ``empty``."""
    feedback_events: int = 0
    attributed: Counter[str] = field(default_factory=Counter)
    """``request_id``, ``window`` or ``unattributed``."""
    positives: Counter[str] = field(default_factory=Counter)
    """Labelled items by event type."""

    def as_dict(self) -> dict[str, Any]:
        return {"impressions": self.impressions, "usable": self.usable,
                "skipped": dict(self.skipped), "feedback_events": self.feedback_events,
                "attributed": dict(self.attributed), "positives": dict(self.positives)}


class ImpressionClickJoin:
    def __init__(self, feature_names: Sequence[str], window_ms: int,
                 surface: str | None = "recommendations", variant: str | None = None) -> None:
        self.feature_names = list(feature_names)
        self.window_ms = window_ms
        self.surface = surface
        self.variant = variant
        self.stats = JoinStats()
        self._impressions: list[LabelledImpression] = []
        self._by_request: dict[str, int] = {}
        self._events: list[tuple[str, str, int, int, str | None]] = []

    def add_impression(self, record: dict[str, Any]) -> None:
        self.stats.impressions += 1
        reason = self._skip_reason(record)
        if reason:
            self.stats.skipped[reason] += 1
            return
        items = sorted(record["items"], key=lambda item: item["position"])
        imp = LabelledImpression(
            record["request_id"], record["user_id"], record["variant"], int(record["ts"]),
            [item["sku"] for item in items],
            np.asarray([item["features"] for item in items], dtype=np.float32),
            np.zeros(len(items), dtype=np.int32))
        self._by_request[imp.request_id] = len(self._impressions)
        self._impressions.append(imp)

    def _skip_reason(self, record: dict[str, Any]) -> str:
        items = record.get("items") or []
        if self.surface is not None and record.get("surface") != self.surface:
            return "other_surface"
        if self.variant is not None and record.get("variant") != self.variant:
            return "other_variant"
        if not items:
            return "empty"
        if not record.get("feature_names") or any(i.get("features") is None for i in items):
            return "no_features"
        if list(record["feature_names"]) != self.feature_names or any(
                len(i["features"]) != len(self.feature_names) for i in items):
            return "other_features"
        return ""

    def add_event(self, record: dict[str, Any]) -> None:
        label = FEEDBACK_LABELS.get(record.get("type") or "")
        if label is None or not record.get("sku"):
            return
        self.stats.feedback_events += 1
        request_id = (record.get("context") or {}).get("request_id")
        self._events.append((record["user_id"], record["sku"], int(record["ts"]), label,
                             request_id))

    def result(self) -> tuple[list[LabelledImpression], JoinStats]:
        """Every usable impression with its labels (events may arrive in any order)."""
        shown: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for index, imp in enumerate(self._impressions):
            for sku in imp.skus:
                shown[(imp.user_id, sku)].append((imp.ts, index))
        for entries in shown.values():
            entries.sort()
        names = {v: k for k, v in FEEDBACK_LABELS.items()}
        for user, sku, ts, label, request_id in self._events:
            index = self._by_request.get(request_id) if request_id else None
            how = "request_id"
            if index is None or sku not in self._impressions[index].skus:
                index, how = self._within_window(shown.get((user, sku), []), ts), "window"
                if request_id and request_id in self._by_request:
                    index = None  # the named response did not show it: not its feedback
            if index is None:
                self.stats.attributed["unattributed"] += 1
                continue
            imp = self._impressions[index]
            row = imp.skus.index(sku)
            self.stats.attributed[how] += 1
            if label > imp.labels[row]:
                imp.labels[row] = label
        for imp in self._impressions:
            for value in imp.labels[imp.labels > 0].tolist():
                self.stats.positives[names[value]] += 1
        self.stats.usable = len(self._impressions)
        return self._impressions, self.stats

    def _within_window(self, entries: list[tuple[int, int]], ts: int) -> int | None:
        """The latest impression at or before ``ts`` and at most ``window_ms`` older."""
        at = bisect.bisect_right(entries, (ts, len(self._impressions)))
        if at == 0:
            return None
        shown_ts, index = entries[at - 1]
        return index if ts - shown_ts <= self.window_ms else None
