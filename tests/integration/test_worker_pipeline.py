"""Records published by the CLI reach a worker process; invalid ones land in the DLQ."""

from __future__ import annotations

import json
import time
from pathlib import Path

import orjson
import pytest
import redis

from streamrec.redis_keys import RedisKeys
from streamrec.schemas.codec import codec_for
from streamrec.settings import Settings
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics
from tests.integration.kafka_helpers import read_topic, wait_for

pytestmark = pytest.mark.integration

BASE_TS = 1_764_000_000_000


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def catalog_rows(n_skus: int = 40, versions: int = 3, deleted: int = 5) -> list[dict]:
    rows = []
    for v in range(versions):
        for i in range(n_skus):
            rows.append({
                "op": "UPSERT", "sku": f"sku-{i}", "title": f"Product {i} v{v}",
                "category_path": ["Shoes", "Running"] if i % 2 else ["Bags"],
                "brand": "Acme", "price": 10.0 + i, "currency": "EUR",
                "attributes": {"colour": "red", "size": str(40 + v)},
                "updated_at": BASE_TS + v * 1000 + i,
            })
    for i in range(deleted):
        rows.append({"op": "DELETE", "sku": f"sku-{i}", "updated_at": BASE_TS + 10_000 + i})
    return rows


def event_rows(users: int = 6, per_user: int = 30) -> list[dict]:
    rows = []
    for n in range(per_user):
        for u in range(users):
            rows.append({
                "event_id": f"ev-{u}-{n}", "user_id": f"user-{u}", "session_id": f"s-{u}",
                "type": "CLICK" if n % 3 else "VIEW", "sku": f"sku-{(u + n) % 40}",
                "ts": BASE_TS + n * 1000 + u, "context": {"seq": str(n)},
            })
    return rows


def user_recent(client: redis.Redis, keys: RedisKeys, user: str) -> list[dict]:
    return [json.loads(raw) for raw in client.lrange(keys.user_recent(user), 0, -1)]


def test_cli_published_records_reach_the_worker_in_order(
        settings: Settings, topics: dict, run_cli, start_process, tmp_path: Path) -> None:
    catalog = write_jsonl(tmp_path / "catalog.jsonl", catalog_rows())
    events = write_jsonl(tmp_path / "events.jsonl", event_rows())
    worker = start_process("worker", name="worker")

    published = run_cli("publish", "catalog", str(catalog))
    assert published.returncode == 0, published.stdout + published.stderr
    assert "sent 125" in published.stdout and "rejected 0" in published.stdout
    published = run_cli("publish", "events", str(events), "--rate", "2000")
    assert published.returncode == 0, published.stdout + published.stderr
    assert "sent 180" in published.stdout

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    keys = RedisKeys(settings.redis_key_prefix)
    wait_for(lambda: all(client.get(keys.user_event_count(f"user-{u}")) == "30"
                         for u in range(6)), 60, what="all events applied")
    # each partition is applied on its own: wait for the last change of every product
    wait_for(lambda: all(client.exists(keys.item(f"sku-{i}")) == 0 for i in range(5)) and all(
        client.hget(keys.item(f"sku-{i}"), "title") == f"Product {i} v2" for i in range(5, 40)),
        30, what="catalog applied")
    assert worker.poll() is None, "the worker died"

    # content: the last version of each product, deleted ones gone
    for i in range(40):
        doc = client.hgetall(keys.item(f"sku-{i}"))
        if i < 5:
            assert doc == {}, f"sku-{i} was deleted"
            continue
        assert doc["title"] == f"Product {i} v2"
        assert json.loads(doc["category_path"]) == (["Shoes", "Running"] if i % 2 else ["Bags"])
        assert json.loads(doc["attributes"]) == {"colour": "red", "size": "42"}
        assert float(doc["price"]) == 10.0 + i and doc["available"] == "1"
    # per-key order: each user's events arrive exactly in publish order (newest first)
    for u in range(6):
        recent = user_recent(client, keys, f"user-{u}")
        assert [r["event_id"] for r in recent] == [f"ev-{u}-{n}" for n in reversed(range(30))]


def test_invalid_records_go_to_the_dlq_and_the_rest_is_processed(
        settings: Settings, topics: dict, start_process) -> None:
    names = Topics(settings)
    codec = codec_for("UserEvent")
    valid = [{"event_id": f"ok-{i}", "user_id": "dlq-user", "type": "VIEW", "sku": f"s{i}",
              "ts": BASE_TS + i} for i in range(10)]
    unknown_schema = codec.encode_with(
        {"type": "record", "name": "Other", "fields": [{"name": "x", "type": "string"}]},
        {"x": "hello"})
    semantic = codec.encode({"event_id": "bad-1", "user_id": "dlq-user", "type": "PURCHASE",
                             "ts": BASE_TS})  # PURCHASE without sku
    truncated = codec.encode(valid[0])[:14]
    poison = [(b"garbage bytes", "not-avro"), (unknown_schema, "unknown-schema"),
              (semantic, "validation"), (truncated, "malformed-body"), (None, "not-avro")]
    with RecordProducer(settings) as producer:
        for i, record in enumerate(valid):
            producer.send_record(names.user_events, "UserEvent", "dlq-user", record)
            if i < len(poison):
                producer.send(names.user_events, b"dlq-user", poison[i][0],
                              headers=[("trace", f"t{i}".encode())])
        producer.send(names.catalog_changes, b"sku-x", b"\x00\x01not avro")
    start_process("worker", name="worker")

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    keys = RedisKeys(settings.redis_key_prefix)
    wait_for(lambda: client.get(keys.user_event_count("dlq-user")) == "10", 60,
             what="valid events applied")
    recent = user_recent(client, keys, "dlq-user")
    assert [r["event_id"] for r in recent] == [f"ok-{i}" for i in reversed(range(10))]

    dead = read_topic(settings, names.dlq(names.user_events), expected=len(poison))
    assert len(dead) == len(poison)
    by_kind = sorted(d.headers["dlq.error.kind"].decode() for d in dead)
    assert by_kind == sorted(kind for _, kind in poison)
    for record, (original, _) in zip(dead, poison, strict=True):
        assert record.value == original, "the DLQ keeps the original bytes"
        assert record.key == b"dlq-user"
        assert record.headers["dlq.source.topic"].decode() == names.user_events
        assert int(record.headers["dlq.source.offset"]) >= 0
        assert record.headers["dlq.error.reason"]
        assert record.headers["trace"].startswith(b"t"), "original headers are kept"
    semantic_reason = next(d for d in dead if d.headers["dlq.error.kind"] == b"validation")
    assert b"sku: required for PURCHASE" in semantic_reason.headers["dlq.error.reason"]

    catalog_dead = read_topic(settings, names.dlq(names.catalog_changes), expected=1)
    assert catalog_dead[0].headers["dlq.error.kind"] == b"not-avro"


def test_redelivered_events_change_nothing(settings: Settings, topics: dict, start_process
                                           ) -> None:
    names = Topics(settings)
    events = [{"event_id": f"dup-{i}", "user_id": "dup-user", "type": "VIEW", "sku": f"s{i}",
               "ts": BASE_TS + i} for i in range(5)]
    with RecordProducer(settings) as producer:
        for _ in range(3):  # the same events, three times
            for event in events:
                producer.send_record(names.user_events, "UserEvent", "dup-user", event)
        # an older catalog change after a newer one is ignored
        base = {"op": "UPSERT", "sku": "dup-sku", "category_path": [], "attributes": {},
                "available": True}
        producer.send_record(names.catalog_changes, "CatalogChange", "dup-sku",
                             {**base, "title": "new", "updated_at": BASE_TS + 2})
        producer.send_record(names.catalog_changes, "CatalogChange", "dup-sku",
                             {**base, "title": "old", "updated_at": BASE_TS + 1})
    start_process("worker", name="worker")
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    keys = RedisKeys(settings.redis_key_prefix)
    wait_for(lambda: client.hget(keys.item("dup-sku"), "title") is not None, 60,
             what="catalog applied")
    wait_for(lambda: client.get(keys.user_event_count("dup-user")) == "5", 60)
    time.sleep(1.0)
    assert client.get(keys.user_event_count("dup-user")) == "5"
    assert client.llen(keys.user_recent("dup-user")) == 5
    assert client.hget(keys.item("dup-sku"), "title") == "new"


def test_cli_rejects_invalid_lines_with_reasons(settings: Settings, topics: dict, run_cli,
                                                tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        json.dumps({"event_id": "a", "user_id": "u", "type": "VIEW", "sku": "s", "ts": 1}),
        "{not json",
        json.dumps({"event_id": "b", "user_id": "u", "type": "TELEPORT", "ts": 1}),
        json.dumps({"event_id": "c", "user_id": "u", "type": "SEARCH", "ts": 1}),
    ]) + "\n")
    result = run_cli("publish", "events", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 1" in result.stdout and "rejected 3" in result.stdout
    assert "line 2: invalid JSON" in result.stdout
    assert "line 3: type:" in result.stdout
    assert "line 4: query: required for SEARCH events" in result.stdout
    records = read_topic(settings, Topics(settings).user_events, expected=1)
    assert len(records) == 1
