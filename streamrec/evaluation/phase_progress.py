"""How an evaluation run reports its long phases: log lines for the benches, rich
progress bars for ``streamrec eval`` (``streamrec.cli.eval_commands``)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Protocol

Advance = Callable[[int], None]
PhaseFn = Callable[[str, int], Advance]
"""How a training run reports a phase: ``on_phase(description, total)`` -> ``advance(n)``
(``streamrec train`` passes rich progress bars)."""


def silent_phase(_description: str, _total: int) -> Advance:
    """A ``PhaseFn`` that reports nothing."""
    return lambda _n: None


class PhaseProgress(Protocol):
    def log(self, message: str) -> None: ...

    def phase(self, label: str, total: int | None = None
              ) -> contextlib.AbstractContextManager[Advance]:
        """A long phase; the context yields ``advance(n)``."""
        ...


class LogPhaseProgress:
    """Timestamped lines on stderr, one when a phase starts and one when it ends."""

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def phase(self, label: str, total: int | None = None) -> Iterator[Advance]:
        started = time.perf_counter()
        self.log(f"{label} ..." + (f" ({total:,})" if total else ""))
        yield lambda n: None
        self.log(f"{label}: {time.perf_counter() - started:.1f} s")
