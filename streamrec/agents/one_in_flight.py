"""Run a micro-batch's last step in the background, one batch at a time, in order.

The users agent's fast path is a few pipelined round trips of Lua scripts: Redis works on
them for tens of milliseconds while the worker, awaiting them, does nothing else for
the stream. Started as a task instead, it overlaps with the next batch's decoding, profile
updates and Python work; ``submit`` first finishes the previous batch's step, so each
user's updates still reach Redis in batch order and at most one step is in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class OneInFlight:
    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    async def submit(self, step: Callable[[], Awaitable[None]]) -> None:
        """Finish the previous step, then start ``step()`` in the background."""
        await self.finish()
        self._task = asyncio.create_task(self._run(step), name=self.name)

    async def finish(self) -> None:
        """Wait for the step in flight, if any (a failed one was already logged)."""
        task, self._task = self._task, None
        if task is not None:
            await task

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self, step: Callable[[], Awaitable[None]]) -> None:
        try:
            await step()
        except Exception:  # the next batch must not fail for this one's step
            log.exception("%s failed", self.name)
