"""Search clicks from the users worker's recorder to the API's search log, on real Redis:
each click is appended once (redeliveries are not), only events with a query and a sku of
the search-log types count, and the follower adds them to a running log within seconds."""

import asyncio
import uuid

import pytest

from streamrec.agents.user_event_recorder import UserEventRecorder
from streamrec.redis_keys import RedisKeys
from streamrec.rerank.search_log import SearchLog
from streamrec.serving.search.search_log_follower import (
    FOLLOWED,
    LOG_PAIRS,
    SearchLogFollower,
)
from tests.integration.recs.redis_scenario import run

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000


def event(n: int, kind: str, sku: str | None, query: str | None) -> dict:
    return {"event_id": f"e{n}", "user_id": f"u{n % 3}", "session_id": "s", "type": kind,
            "sku": sku, "query": query, "ts": T0 + n}


def test_recorder_appends_each_search_click_once(redis_server) -> None:
    keys = RedisKeys(f"t{uuid.uuid4().hex[:10]}:")
    events = [
        event(1, "CLICK", "d1", "Cordless Drill"),
        event(2, "PURCHASE", "d1", "drill bits"),
        event(3, "VIEW", "d1", "drill"),          # a view may be an impression: not logged
        event(4, "CLICK", "h1", None),            # no query: not a search click
        event(5, "SEARCH", None, "hammer"),       # no sku
        event(6, "ADD_TO_CART", "h1", "  claw hammer "),
    ]

    async def scenario(redis):
        recorder = UserEventRecorder(redis, keys, max_recent=5, dedup_ttl_s=60,
                                     search_log_max_entries=1000)
        assert await recorder.record(events) == [True] * 6
        assert await recorder.record([events[0], events[5]]) == [False, False]  # redelivered
        entries = await redis.xrange(keys.search_log())
        return [(f[b"q"].decode(), f[b"s"].decode()) for _, f in entries]

    assert run(redis_server, scenario) == [("Cordless Drill", "d1"), ("drill bits", "d1"),
                                           ("claw hammer", "h1")]


def test_follower_reads_the_backlog_then_follows_new_clicks(redis_server) -> None:
    keys = RedisKeys(f"t{uuid.uuid4().hex[:10]}:")
    log = SearchLog.from_pairs([("cordless drill", "d1")])
    added_before = FOLLOWED.labels("added")._value.get()

    async def scenario(redis):
        recorder = UserEventRecorder(redis, keys, max_recent=5, dedup_ttl_s=60)
        # written before the API started: read as the backlog
        await recorder.record([event(1, "CLICK", "d1", "Cordless  DRILL"),
                               event(2, "CLICK", "d1", "drill driver")])
        follower = SearchLogFollower(redis, keys.search_log(), [log], batch=1,
                                     block_ms=100)
        task = asyncio.create_task(follower.run())
        try:
            assert LOG_PAIRS._value.get() == 1  # the model file's own pair
            await asyncio.wait_for(follower.caught_up.wait(), 5)
            assert log.queries_of["d1"] == ("cordless drill", "drill driver")
            await recorder.record([event(3, "PURCHASE", "n1", "new product")])
            for _ in range(50):
                if "n1" in log.queries_of:
                    break
                await asyncio.sleep(0.05)
            assert log.queries_of["n1"] == ("new product",)
            assert LOG_PAIRS._value.get() == log.pairs == 3
        finally:
            follower.stop()
            await asyncio.wait({task}, timeout=5)
            assert task.done()  # stops promptly, even mid-read

    run(redis_server, scenario)
    # "cordless drill" was already in the model's log: only two pairs were new
    assert FOLLOWED.labels("added")._value.get() - added_before == 2
