"""When each user's candidates are due for a refresh: bursts coalesce, nobody waits long.

A user marked at ``t0`` (the first event since their last refresh) is due at
``max(t0 + delay_s, last_refresh + min_interval_s)``, but never later than
``t0 + max_delay_s``: one refresh per burst, at most one per ``min_interval_s`` while
events keep coming, and every event reflected within ``max_delay_s``.
Pure bookkeeping on monotonic seconds the caller passes in; one per worker process
(users are partitioned, so no two workers refresh the same user).
"""

from __future__ import annotations

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
        self._last: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def mark(self, user_id: str, now: float) -> None:
        """An event for the user was applied at ``now``."""
        if user_id in self._pending:
            return
        c = self.config
        due = max(now + c.delay_s, self._last.get(user_id, float("-inf")) + c.min_interval_s)
        self._pending[user_id] = min(due, now + c.max_delay_s)

    def due(self, now: float) -> list[str]:
        """Users to refresh now (earliest first); they count as refreshed at ``now``."""
        ready = sorted((at, user) for user, at in self._pending.items() if at <= now)
        for _, user in ready:
            del self._pending[user]
            self._last[user] = now
        if len(self._last) > 4 * len(self._pending) + 10_000:  # forget settled users
            horizon = now - self.config.min_interval_s
            self._last = {u: t for u, t in self._last.items() if t > horizon}
        return [user for _, user in ready]

    def next_due_in(self, now: float) -> float | None:
        """Seconds until the next user is due (0 if one is), ``None`` when nobody waits."""
        if not self._pending:
            return None
        return max(0.0, min(self._pending.values()) - now)
