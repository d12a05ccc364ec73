"""Tokens-per-minute and money-per-hour budget of the paid tiers (sliding windows).

A paid call first reserves its *estimate* (prompt tokens plus ``max_tokens`` out, at the
model's price); when the estimate does not fit in either window the call is not made
and counts as ``over_budget``. After the call the reservation is settled with the usage
the server reported, so the windows hold what was really spent. A failed call with no
usage releases its reservation.

The budget is per process: with N API processes, give each 1/N of the total (a Redis
counter would make it global at one round trip per call; not needed yet).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelPrice:
    input_usd_per_mtok: float = 0.0
    output_usd_per_mtok: float = 0.0

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_usd_per_mtok
                + tokens_out * self.output_usd_per_mtok) / 1_000_000


class Reservation:
    __slots__ = ("at", "tokens", "usd")

    def __init__(self, at: float, tokens: int, usd: float) -> None:
        self.at, self.tokens, self.usd = at, tokens, usd


class CostBudget:
    def __init__(self, tokens_per_minute: int | None, usd_per_hour: float | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``None`` leaves a window unlimited; 0 allows nothing."""
        self.tokens_per_minute = tokens_per_minute
        self.usd_per_hour = usd_per_hour
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[Reservation] = deque()  # the last hour, oldest first

    def _prune(self, now: float) -> None:
        while self._entries and now - self._entries[0].at >= 3600:
            self._entries.popleft()

    def spent(self) -> tuple[int, float]:
        """(tokens in the last minute, USD in the last hour)."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            tokens = sum(e.tokens for e in self._entries if now - e.at < 60)
            return tokens, sum(e.usd for e in self._entries)

    def try_reserve(self, tokens: int, usd: float) -> Reservation | None:
        with self._lock:
            now = self._clock()
            self._prune(now)
            if self.tokens_per_minute is not None:
                used = sum(e.tokens for e in self._entries if now - e.at < 60)
                if used + tokens > self.tokens_per_minute:
                    return None
            if (self.usd_per_hour is not None
                    and sum(e.usd for e in self._entries) + usd > self.usd_per_hour):
                return None
            reservation = Reservation(now, tokens, usd)
            self._entries.append(reservation)
            return reservation

    def settle(self, reservation: Reservation, tokens: int, usd: float) -> None:
        """Replace the estimate with what the call really used."""
        with self._lock:
            reservation.tokens, reservation.usd = tokens, usd

    def release(self, reservation: Reservation) -> None:
        self.settle(reservation, 0, 0.0)
