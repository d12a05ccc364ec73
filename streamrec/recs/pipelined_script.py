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

    async def run(self, redis: aioredis.Redis, calls: Sequence[ScriptCall]) -> list[Any]:
        """Each call's result, in order; the first other error is raised."""
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
