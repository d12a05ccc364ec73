"""A Lua script called many times in one pipelined round trip.

redis-py's ``Script`` in a pipeline asks ``SCRIPT EXISTS`` before every execute (a
second round trip each time). This one sends ``EVALSHA`` straight away, loads the
script once when Redis answers ``NOSCRIPT`` (first use, or after a Redis restart) and
retries only the calls that failed that way (a ``NOSCRIPT`` call ran nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, ResponseError

ScriptCall = tuple[Sequence[str], Sequence[Any]]
"""(keys, args) of one call."""


def _no_script(result: object) -> bool:
    return isinstance(result, NoScriptError) or (
        isinstance(result, ResponseError) and str(result).startswith("NOSCRIPT"))


class PipelinedScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def run(self, redis: aioredis.Redis, calls: Sequence[ScriptCall],
                  per_round_trip: int | None = None) -> list[Any]:
        """Each call's result, in order; the first other error is raised.
        ``per_round_trip``: at most this many calls per pipeline, sent one after another.
        Redis runs a pipeline's calls back to back, so long scripts in one pipeline hold
        every other client's commands behind them; smaller round trips let those in
        between (and the caller's event loop runs between them)."""
        if per_round_trip is None or len(calls) <= per_round_trip:
            return await self._run(redis, calls)
        if per_round_trip < 1:
            raise ValueError("per_round_trip must be >= 1")
        results: list[Any] = []
        for at in range(0, len(calls), per_round_trip):
            results += await self._run(redis, calls[at:at + per_round_trip])
        return results

    async def _run(self, redis: aioredis.Redis, calls: Sequence[ScriptCall]) -> list[Any]:
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for attempt in range(2):
            if not pending:
                break
            pipe = redis.pipeline(transaction=False)
            for i in pending:
                keys, args = calls[i]
                pipe.evalsha(self.sha, len(keys), *keys, *args)
            answers = await pipe.execute(raise_on_error=False)
            missing = []
            for i, answer in zip(pending, answers, strict=True):
                if _no_script(answer) and attempt == 0:
                    missing.append(i)
                elif isinstance(answer, Exception):
                    raise answer
                else:
                    results[i] = answer
            if missing:
                await redis.script_load(self.source)
            pending = missing
        return results
