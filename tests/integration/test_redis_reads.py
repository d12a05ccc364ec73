"""read_many on a real Redis: the replies a redis-py pipeline of the same commands gives,
in order; an error reply raises only after every reply is read, a cancelled read drops
its connection, and a dropped connection is retried, so the pool never hands out a
connection with someone else's replies waiting on it."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from streamrec.platform.redis_server import RedisServer
from streamrec.redis_reads import read_many

FIELDS = ("title", "price", "missing")


def run_on(server: RedisServer, body: Callable[[aioredis.Redis], Awaitable[None]]) -> None:
    """``body`` with a client of one pooled connection (any desync would show)."""
    async def go() -> None:
        redis = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool(
            port=server.port, max_connections=1))
        try:
            await body(redis)
        finally:
            await redis.aclose()

    asyncio.run(go())


def test_replies_match_a_pipeline_of_the_same_commands(redis_server: RedisServer) -> None:
    async def body(redis: aioredis.Redis) -> None:
        await redis.hset("rr:item:{a}", mapping={"title": "A", "price": "1.5"})
        await redis.hset("rr:item:{b}", mapping={"title": "B"})
        await redis.zadd("rr:popular", {"a": 2.5, "b": 1})
        commands = [("HMGET", "rr:item:{a}", *FIELDS), ("HMGET", "rr:item:{x}", *FIELDS),
                    ("HMGET", "rr:item:{b}", *FIELDS), ("ZMSCORE", "rr:popular", "b", "x")]
        pipe = redis.pipeline(transaction=False)
        for command in commands[:3]:
            pipe.hmget(command[1], *FIELDS)
        expected = await pipe.execute()
        got = await read_many(redis, commands)
        assert got[:3] == expected == [[b"A", b"1.5", None], [None, None, None],
                                       [b"B", None, None]]
        # a score comes back as the protocol sends it (RESP3: a double, RESP2: bytes)
        assert [None if v is None else float(v) for v in got[3]] == [1.0, None]
        assert await read_many(redis, []) == []

    run_on(redis_server, body)


def test_an_error_reply_raises_after_the_rest_is_read(redis_server: RedisServer) -> None:
    async def body(redis: aioredis.Redis) -> None:
        await redis.set("rr:string", "x")
        await redis.hset("rr:item:{c}", mapping={"title": "C"})
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await read_many(redis, [("HMGET", "rr:string", "title"),
                                    ("HMGET", "rr:item:{c}", "title")])
        # the one pooled connection is in step: the next read gets its own reply
        assert await read_many(redis, [("HMGET", "rr:item:{c}", "title")]) == [[b"C"]]

    run_on(redis_server, body)


def test_a_cancelled_read_does_not_leave_replies_for_the_next_caller(
        redis_server: RedisServer) -> None:
    async def body(redis: aioredis.Redis) -> None:
        await redis.hset("rr:item:{d}", mapping={"title": "D"})
        # BLPOP on an empty list holds the reply back: cancel while it is awaited
        task = asyncio.create_task(read_many(redis, [("BLPOP", "rr:empty", "1"),
                                                     ("HMGET", "rr:item:{d}", "title")]))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await redis.rpush("rr:empty", "late")  # a reply the cancelled read never took
        assert await read_many(redis, [("HMGET", "rr:item:{d}", "title")]) == [[b"D"]]

    run_on(redis_server, body)


def test_a_connection_the_server_dropped_is_replaced(redis_server: RedisServer) -> None:
    async def body(redis: aioredis.Redis) -> None:
        await redis.hset("rr:item:{e}", mapping={"title": "E"})
        assert await read_many(redis, [("HMGET", "rr:item:{e}", "title")]) == [[b"E"]]
        # drop our own connection only: the suite's Redis is shared with other tests
        dropped = await redis.client_id()
        await redis.client_kill_filter(_id=dropped, skipme=False)
        assert await read_many(redis, [("HMGET", "rr:item:{e}", "title")]) == [[b"E"]]
        assert await redis.client_id() != dropped  # it was served on a new connection

    run_on(redis_server, body)
