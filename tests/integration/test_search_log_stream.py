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


def _model_file(path, search_log: dict[str, list[str]], kind: str = "lightgbm"):
    from streamrec.rerank.feature_schema import FEATURE_NAMES, FEATURE_SET
    from streamrec.rerank.reranker_model_file import RerankerModelFile

    return RerankerModelFile(kind=kind, feature_set=FEATURE_SET, features=list(FEATURE_NAMES),
                             trained_at="2026-11-27T00:00:00+00:00", data_hash="h",
                             payload="booster text", search_log=search_log).save(path)


def test_absorb_folds_the_stream_into_the_model_file_once(redis_server, tmp_path) -> None:
    import redis as sync_redis

    from streamrec.rerank.reranker_model_file import load_model_file
    from streamrec.rerank.search_log_absorb import absorb_search_clicks, read_search_clicks

    keys = RedisKeys(f"t{uuid.uuid4().hex[:10]}:")
    path = _model_file(tmp_path / "model.json", {"d1": ["cordless drill"]})
    events = [event(1, "CLICK", "d1", "Cordless  Drill"),  # the file's pair, other spelling
              event(2, "CLICK", "d1", "drill driver"),
              event(3, "PURCHASE", "h1", "claw hammer"),
              event(4, "CLICK", "h1", "claw hammer"),       # the same pair again
              event(5, "ADD_TO_CART", "s1", "wood screws")]

    async def scenario(redis):
        recorder = UserEventRecorder(redis, keys, max_recent=5, dedup_ttl_s=60)
        await recorder.record(events)

    run(redis_server, scenario)
    client = sync_redis.Redis.from_url(redis_server.url)
    try:
        stream = keys.search_log()
        # pages of 2 walk all five entries once, oldest first (exclusive page starts)
        assert [(q, s) for _, q, s in read_search_clicks(client, stream, batch=2)] == [
            ("Cordless  Drill", "d1"), ("drill driver", "d1"), ("claw hammer", "h1"),
            ("claw hammer", "h1"), ("wood screws", "s1")]
        counted = []
        report = absorb_search_clicks(path, client, stream, on_click=counted.append)
        assert (report.clicks_read, report.pairs_added, report.pairs_total) == (5, 3, 4)
        assert len(counted) == 5 and report.model == path
        model = load_model_file(path)
        assert model.search_log == {"d1": ["cordless drill", "drill driver"],
                                    "h1": ["claw hammer"], "s1": ["wood screws"]}
        assert model.params["search_log_absorbed"]["last_entry_id"] == report.last_entry_id
        assert model.payload == "booster text"  # the model itself is untouched
        # again: nothing new; a click after it is the only addition
        assert absorb_search_clicks(path, client, stream).pairs_added == 0
        client.xadd(stream, {"q": "hex bolts", "s": "b1"})
        again = absorb_search_clicks(path, client, stream, output=tmp_path / "copy.json")
        assert (again.clicks_read, again.pairs_added, again.pairs_total) == (6, 1, 5)
        assert load_model_file(tmp_path / "copy.json").search_log["b1"] == ["hex bolts"]
        assert "b1" not in load_model_file(path).search_log  # --output leaves the source
    finally:
        client.close()


def test_absorb_refuses_models_that_cannot_read_a_log(redis_server, tmp_path) -> None:
    import redis as sync_redis

    from streamrec.rerank.reranker_model_file import RerankModelError
    from streamrec.rerank.search_log_absorb import absorb_search_clicks

    client = sync_redis.Redis.from_url(redis_server.url)
    try:
        no_log = _model_file(tmp_path / "nolog.json", {})
        with pytest.raises(RerankModelError, match="without a search log"):
            absorb_search_clicks(no_log, client, "nothing")
        cascade = _model_file(tmp_path / "cascade.json", {}, kind="cascade")
        with pytest.raises(RerankModelError, match="cascade"):
            absorb_search_clicks(cascade, client, "nothing")
    finally:
        client.close()


def test_train_search_log_command(redis_server, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from streamrec.cli.main import app
    from streamrec.rerank.reranker_model_file import load_model_file

    prefix = f"t{uuid.uuid4().hex[:10]}:"
    path = _model_file(tmp_path / "model.json", {"d1": ["cordless drill"]})

    async def scenario(redis):
        await redis.xadd(RedisKeys(prefix).search_log(), {"q": "drill driver", "s": "d1"})

    run(redis_server, scenario)
    monkeypatch.setenv("STREAMREC_REDIS_URL", redis_server.url)
    monkeypatch.setenv("STREAMREC_REDIS_KEY_PREFIX", prefix)
    result = CliRunner().invoke(app, ["train", "search-log", "--model", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 new pairs" in result.output
    assert load_model_file(path).search_log["d1"] == ["cordless drill", "drill driver"]
    missing = CliRunner().invoke(app, ["train", "search-log", "--model",
                                       str(_model_file(tmp_path / "n.json", {}))])
    assert missing.exit_code == 1 and "without a search log" in missing.output
