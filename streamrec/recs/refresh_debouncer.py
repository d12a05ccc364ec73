"""When each user's candidates are due for a refresh: bursts coalesce, nobody waits long.

A user marked at ``t0`` (the first event since their last refresh) is due at
``max(t0 + delay_s, last_refresh + min_interval_s)``, but never later than
``t0 + max_delay_s``: one refresh per burst, at most one per ``min_interval_s`` while
events keep coming, and every event reflected within ``max_delay_s``.
Pure bookkeeping on monotonic seconds the caller passes in; one per worker process
(users are partitioned, so no two workers refresh the same user).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass


@dataclass(frozen=True)
class RefreshDebounceConfig:
    delay_s: float = 0.1
    min_interval_s: float = 0.5
    max_delay_s: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.delay_s <= self.max_delay_s:
            raise ValueError("need 0 <= delay_s <= max_delay_s")
        if self.min_interval_s < 0:
            raise ValueError("min_interval_s must be >= 0")


class RefreshDebouncer:
    def __init__(self, config: RefreshDebounceConfig | None = None) -> None:
        self.config = config or RefreshDebounceConfig()
        self._pending: dict[str, float] = {}
        """user -> when due."""
        self._heap: list[tuple[float, str]] = []
        """(due, user), possibly outdated entries (skipped when popped)."""
        self._last: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, user_id: object) -> bool:
        """Whether a refresh of the user is pending."""
        return user_id in self._pending

    def mark(self, user_id: str, now: float, urgent: bool = False) -> None:
        """An event for the user was applied at ``now``. ``urgent``: due after ``delay_s``
        whatever the minimum interval (e.g. the user's cached list is missing)."""
        c = self.config
        if urgent:
            due = now + c.delay_s
            if self._pending.get(user_id, float("inf")) > due:
                self._push(user_id, due)
            return
        if user_id in self._pending:
            return
        due = max(now + c.delay_s, self._last.get(user_id, float("-inf")) + c.min_interval_s)
        self._push(user_id, min(due, now + c.max_delay_s))

    def _push(self, user_id: str, due: float) -> None:
        self._pending[user_id] = due
        heapq.heappush(self._heap, (due, user_id))
        if len(self._heap) > 2 * len(self._pending) + 1_000:  # drop outdated entries
            self._heap = [(at, user) for user, at in self._pending.items()]
            heapq.heapify(self._heap)

    def _peek(self) -> tuple[float, str] | None:
        heap = self._heap
        while heap and self._pending.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0] if heap else None

    def due(self, now: float, limit: int | None = None) -> list[str]:
        """Users to refresh now (earliest first, at most ``limit``); they count as
        refreshed at ``now``; the others stay due."""
        ready: list[str] = []
        while limit is None or len(ready) < limit:
            head = self._peek()
            if head is None or head[0] > now:
                break
            heapq.heappop(self._heap)
            del self._pending[head[1]]
            self._last[head[1]] = now
            ready.append(head[1])
        if len(self._last) > 4 * len(self._pending) + 10_000:  # forget settled users
            horizon = now - self.config.min_interval_s
            self._last = {u: t for u, t in self._last.items() if t > horizon}
        return ready

    def next_due_in(self, now: float) -> float | None:
        """Seconds until the next user is due (0 if one is), ``None`` when nobody waits."""
        head = self._peek()
        return None if head is None else max(0.0, head[0] - now)
