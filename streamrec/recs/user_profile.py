"""What the user agent knows about one user, kept in a Faust table (RocksDB) as bytes.

- recent items: a bounded list of ``RecentItem`` (sku, event type, ts, session), oldest first;
- interest vector: a recency- and event-type-weighted mean of the item vectors, L2
  normalised. It is kept as an unnormalised decayed sum referenced to ``decay_ts``:
  an event at ``t >= decay_ts`` first decays the sum by ``0.5 ** ((t - decay_ts) /
  half_life)``; an out-of-order event (``t < decay_ts``) never decays the sum (that
  would be a negative decay, i.e. growth) but enters discounted by its own age instead;
- category affinity: decayed weights per category scope (every prefix of the path:
  top level ... full path), decayed with the same clock, bounded to the strongest;
- purchased and seen skus: bounded, oldest evicted first;
- the last event ts and the number of events applied.

De-duplication by event id happens upstream; ``apply`` is not idempotent by itself.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import orjson

from streamrec.recs.category_scope import category_scopes, scope_depth

FORMAT_VERSION = 1

DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = {
    "VIEW": 1.0, "CLICK": 2.0, "ADD_TO_CART": 3.0, "PURCHASE": 3.0,
}


@dataclass(frozen=True)
class UserProfileConfig:
    half_life_s: float = 3 * 24 * 3600.0
    """Half-life of the interest vector and the category affinities."""
    event_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    """Weight of an item per event type; a type not listed (SEARCH) adds no item."""
    max_recent: int = 50
    max_categories: int = 64
    max_purchased: int = 500
    max_seen: int = 1_000
    per_event_decay: float = 0.8
    """Each new (in-order) item event scales what came before by this: interest follows
    the latest events (a switch of interest shows within one refresh), not only time."""
    session_gap_s: float = 30 * 60.0
    """Events without a session id belong to one session while gaps stay below this."""

    def __post_init__(self) -> None:
        if self.half_life_s <= 0:
            raise ValueError("half_life_s must be positive")
        if min(self.max_recent, self.max_categories, self.max_purchased, self.max_seen) < 1:
            raise ValueError("profile bounds must be >= 1")


class RecentItem(NamedTuple):
    sku: str
    event_type: str
    ts: int
    """Epoch milliseconds."""
    session_id: str | None = None


def _decay(age_ms: float, half_life_s: float) -> float:
    """``0.5 ** (age / half_life)`` for a non-negative age; 0.0 once it underflows."""
    factor = 0.5 ** (max(age_ms, 0.0) / (half_life_s * 1000.0))
    return factor if factor > 1e-30 else 0.0


def _bounded_add(store: dict[str, int], sku: str, ts: int, bound: int) -> None:
    """Insert or refresh ``sku`` (newest last) and evict the oldest beyond ``bound``."""
    store.pop(sku, None)
    store[sku] = ts
    while len(store) > bound:
        del store[next(iter(store))]


@dataclass
class UserProfile:
    user_id: str
    config: UserProfileConfig = field(default_factory=UserProfileConfig, repr=False)
    recent: list[RecentItem] = field(default_factory=list)
    vector_sum: np.ndarray | None = None
    """float64 decayed weighted sum of item vectors (not normalised), as of ``decay_ts``."""
    vector_weight: float = 0.0
    """The decayed sum of the weights in ``vector_sum`` (as of ``decay_ts``)."""
    category_weights: dict[str, float] = field(default_factory=dict)
    """Scope (``"A"``, ``"A > B"``) -> decayed weight, as of ``decay_ts``."""
    purchased: dict[str, int] = field(default_factory=dict)
    """sku -> ts of the last purchase, oldest first."""
    seen: dict[str, int] = field(default_factory=dict)
    """sku -> ts of the last interaction of any kind, oldest first."""
    decay_ts: int = 0
    """The time all decayed values refer to (the newest event ts applied)."""
    last_event_ts: int = 0
    event_count: int = 0

    # --- updates ---------------------------------------------------------------------------

    def session_items(self, session_id: str | None, ts: int, limit: int) -> list[str]:
        """Distinct skus of the session an event at ``ts`` belongs to, most recent first.

        Call it *before* ``apply`` for the co-visitation window. Items with the same
        session id count; without one, items of the unbroken run of events whose gaps
        stay under ``session_gap_s`` before ``ts``.
        """
        if limit <= 0:
            return []
        gap_ms = self.config.session_gap_s * 1000.0
        out: list[str] = []
        previous_ts = ts
        for item in reversed(self.recent):
            if item.ts > ts:
                continue  # a later event: not before this one
            if session_id is not None:
                if item.session_id != session_id:
                    continue
            elif previous_ts - item.ts > gap_ms:
                break
            previous_ts = item.ts
            if item.sku not in out:
                out.append(item.sku)
                if len(out) == limit:
                    break
        return out

    def apply(self, event: Mapping[str, Any], item_vector: np.ndarray | None,
              category_path: Sequence[str] | None) -> None:
        """Fold one event in. ``item_vector``/``category_path`` describe ``event["sku"]``
        (``None``/empty when the catalog does not know it yet)."""
        ts = int(event.get("ts") or 0)
        kind = str(event.get("type") or "")
        sku = event.get("sku") or None
        self.event_count += 1
        self.last_event_ts = max(self.last_event_ts, ts)
        if ts >= self.decay_ts:
            self._decay_to(ts)
            if sku and self.config.event_weights.get(kind, 0.0) > 0:
                self._scale(self.config.per_event_decay)
            discount = 1.0
        else:  # out of order: never decay backwards; enter at today's value of its weight
            discount = _decay(self.decay_ts - ts, self.config.half_life_s)
        if not sku:
            return
        self._remember(RecentItem(sku, kind, ts, event.get("session_id")))
        _bounded_add(self.seen, sku, max(ts, self.seen.get(sku, 0)), self.config.max_seen)
        if kind == "PURCHASE":
            _bounded_add(self.purchased, sku, ts, self.config.max_purchased)
        weight = float(self.config.event_weights.get(kind, 0.0)) * discount
        if weight <= 0.0:
            return
        if item_vector is not None:
            vector = np.asarray(item_vector, dtype=np.float64).reshape(-1)
            norm = float(np.linalg.norm(vector))
            if norm > 0 and math.isfinite(norm):
                if self.vector_sum is None or self.vector_sum.shape != vector.shape:
                    self.vector_sum = np.zeros_like(vector)  # a new model: start over
                    self.vector_weight = 0.0
                self.vector_sum += weight * (vector / norm)
                self.vector_weight += weight
        for scope in category_scopes(category_path):
            self.category_weights[scope] = self.category_weights.get(scope, 0.0) + weight
        self._bound_categories()

    def _decay_to(self, ts: int) -> None:
        if self.decay_ts and ts > self.decay_ts:
            self._scale(_decay(ts - self.decay_ts, self.config.half_life_s))
        self.decay_ts = ts

    def _scale(self, factor: float) -> None:
        if factor >= 1.0:
            return
        if self.vector_sum is not None:
            self.vector_sum *= factor
            self.vector_weight *= factor
        self.category_weights = {
            scope: w * factor for scope, w in self.category_weights.items() if w * factor > 0
        }

    def _remember(self, item: RecentItem) -> None:
        recent = self.recent
        if not recent or item.ts >= recent[-1].ts:
            recent.append(item)
        else:  # keep ts order for out-of-order events
            at = len(recent)
            while at > 0 and recent[at - 1].ts > item.ts:
                at -= 1
            recent.insert(at, item)
        del recent[: max(0, len(recent) - self.config.max_recent)]

    def _bound_categories(self) -> None:
        if len(self.category_weights) > self.config.max_categories:
            keep = sorted(self.category_weights.items(), key=lambda kv: -kv[1])
            self.category_weights = dict(keep[: self.config.max_categories])

    # --- reading ---------------------------------------------------------------------------

    @property
    def interest_vector(self) -> np.ndarray | None:
        """The L2-normalised float32 interest vector, or ``None`` before any item vector."""
        if self.vector_sum is None:
            return None
        norm = float(np.linalg.norm(self.vector_sum))
        if norm <= 0 or not math.isfinite(norm):
            return None
        return (self.vector_sum / norm).astype(np.float32)

    def recent_skus(self, limit: int | None = None) -> list[str]:
        """Distinct recent skus, most recent first."""
        out: list[str] = []
        for item in reversed(self.recent):
            if item.sku not in out:
                out.append(item.sku)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def recent_weights(self, limit: int, recency_decay: float,
                       event_weights: Mapping[str, float]) -> dict[str, float]:
        """The ``limit`` most recent distinct skus, newest first, each weighted by its
        strongest event type times ``recency_decay ** position`` (the newest at 0); skus
        whose events all weigh 0 are left out."""
        strongest: dict[str, float] = {}
        order: list[str] = []
        for item in reversed(self.recent):
            weight = float(event_weights.get(item.event_type, 0.0))
            if item.sku not in strongest:
                if len(order) >= limit:
                    continue
                order.append(item.sku)
                strongest[item.sku] = weight
            else:
                strongest[item.sku] = max(strongest[item.sku], weight)
        return {sku: strongest[sku] * recency_decay**position
                for position, sku in enumerate(order) if strongest[sku] > 0}

    def top_categories(self, n: int, depth: int | None = None) -> list[tuple[str, float]]:
        """The ``n`` strongest category scopes with their share of the weight at their depth.

        ``depth=1``: top-level categories only; ``None``: any depth, strongest first.
        """
        totals: dict[int, float] = {}
        for scope, w in self.category_weights.items():
            totals[scope_depth(scope)] = totals.get(scope_depth(scope), 0.0) + w
        ranked = [
            (scope, w / totals[scope_depth(scope)])
            for scope, w in self.category_weights.items()
            if (depth is None or scope_depth(scope) == depth) and totals[scope_depth(scope)] > 0
        ]
        ranked.sort(key=lambda kv: (-self.category_weights[kv[0]], kv[0]))
        return ranked[: max(n, 0)]

    def category_affinity(self) -> dict[str, float]:
        """Every scope's share of the weight at its depth (what the serving tier reads)."""
        return dict(self.top_categories(len(self.category_weights)))

    # --- bytes -----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        vector = None
        if self.vector_sum is not None:
            vector = base64.b64encode(self.vector_sum.astype("<f4").tobytes()).decode()
        return orjson.dumps({
            "v": FORMAT_VERSION,
            "u": self.user_id,
            "r": [list(item) for item in self.recent],
            "x": vector,
            "xw": self.vector_weight,
            "c": self.category_weights,
            "p": list(self.purchased.items()),
            "s": list(self.seen.items()),
            "d": self.decay_ts,
            "l": self.last_event_ts,
            "n": self.event_count,
        })

    @classmethod
    def from_bytes(cls, data: bytes, config: UserProfileConfig | None = None) -> UserProfile:
        doc = orjson.loads(data)
        if doc.get("v") != FORMAT_VERSION:
            raise ValueError(f"unknown user profile format {doc.get('v')!r}")
        vector = None
        if doc.get("x"):
            vector = np.frombuffer(base64.b64decode(doc["x"]), dtype="<f4").astype(np.float64)
        profile = cls(
            user_id=doc["u"],
            config=config or UserProfileConfig(),
            recent=[RecentItem(r[0], r[1], int(r[2]), r[3]) for r in doc["r"]],
            vector_sum=vector,
            vector_weight=float(doc["xw"]),
            category_weights={k: float(v) for k, v in doc["c"].items()},
            purchased={sku: int(ts) for sku, ts in doc["p"]},
            seen={sku: int(ts) for sku, ts in doc["s"]},
            decay_ts=int(doc["d"]),
            last_event_ts=int(doc["l"]),
            event_count=int(doc["n"]),
        )
        # a smaller configured bound applies at once
        c = profile.config
        del profile.recent[: max(0, len(profile.recent) - c.max_recent)]
        profile.purchased = dict(list(profile.purchased.items())[-c.max_purchased:])
        profile.seen = dict(list(profile.seen.items())[-c.max_seen:])
        profile._bound_categories()
        return profile


__all__ = ["DEFAULT_EVENT_WEIGHTS", "RecentItem", "UserProfile", "UserProfileConfig"]
