"""Run an async scenario against the suite's real Redis, on its own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis


def run(redis_server: Any, scenario: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
    """``scenario(redis)`` on a fresh client bound to a fresh event loop; its result."""

    async def main() -> Any:
        redis = aioredis.from_url(redis_server.url)
        try:
            return await scenario(redis)
        finally:
            await redis.aclose()

    return asyncio.run(main())
