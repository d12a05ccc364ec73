"""``POST /v1/events`` through a real uvicorn process, Kafka and Redis; health and metrics."""

from __future__ import annotations

import httpx
import pytest

from streamrec.platform.processes import free_port
from streamrec.schemas.codec import codec_for
from streamrec.settings import Settings
from streamrec.streams.topics import Topics
from tests.integration.kafka_helpers import read_topic, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def api_url(settings: Settings, topics: dict, start_process) -> str:
    port = free_port()
    proc = start_process("api", "--port", str(port), name="api",
                         env={"STREAMREC_API_MAX_BODY_BYTES": "20000",
                              "STREAMREC_API_MAX_EVENTS_PER_REQUEST": "50"})
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, "the API process died"
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, 60, what="API healthy")
    return url


def test_valid_events_reach_kafka_and_invalid_ones_are_named(settings: Settings, api_url: str
                                                            ) -> None:
    events = [
        {"event_id": "e1", "user_id": "alice", "type": "view", "sku": "sku-1",
         "ts": "2026-11-26T10:00:00Z", "context": {"page": "home", "slot": 3}},
        {"event_id": "e2", "user_id": "alice", "type": "PURCHASE", "ts": 1764150000000},
        {"event_id": "e3", "user_id": "bob", "type": "SEARCH", "query": "red shoes",
         "ts": 1764150000},
        {"event_id": "e4", "user_id": "bob", "type": "WINK", "sku": "x", "ts": 1},
        "not an object",
        {"event_id": "e5", "user_id": "carol", "type": "CLICK", "sku": "sku-9", "ts": 1,
         "unexpected": 1},
    ]
    response = httpx.post(f"{api_url}/v1/events", json={"events": events}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2
    rejected = {r["index"]: r for r in body["rejected"]}
    assert set(rejected) == {1, 3, 4, 5}
    assert rejected[1]["event_id"] == "e2"
    assert "sku: required for PURCHASE" in rejected[1]["reason"]
    assert rejected[3]["reason"].startswith("type:")
    assert "JSON object" in rejected[4]["reason"]
    assert "unexpected: Extra inputs are not permitted" in rejected[5]["reason"]

    records = read_topic(settings, Topics(settings).user_events, expected=2)
    decoded = {r.key: codec_for("UserEvent").decode(r.value) for r in records}
    assert set(decoded) == {b"alice", b"bob"}, "keyed by user"
    assert decoded[b"alice"]["ts"] == 1795687200000
    assert decoded[b"alice"]["context"] == {"page": "home", "slot": "3"}
    assert decoded[b"bob"]["ts"] == 1764150000000, "epoch seconds are read as seconds"


def test_nothing_valid_is_400_and_limits_are_413(api_url: str) -> None:
    none_valid = httpx.post(f"{api_url}/v1/events", json=[{"user_id": "x"}], timeout=10)
    assert none_valid.status_code == 400
    assert "event_id: Field required" in none_valid.json()["rejected"][0]["reason"]

    assert httpx.post(f"{api_url}/v1/events", content=b"{oops", timeout=10).status_code == 400
    assert httpx.post(f"{api_url}/v1/events", json={"no": "events"}, timeout=10).status_code == 400

    too_many = [{"event_id": f"e{i}", "user_id": "u", "type": "VIEW", "sku": "s", "ts": 1}
                for i in range(51)]
    response = httpx.post(f"{api_url}/v1/events", json=too_many, timeout=10)
    assert response.status_code == 413 and "limit is 50" in response.json()["detail"]

    big = b"[" + b" " * 30_000 + b"]"
    response = httpx.post(f"{api_url}/v1/events", content=big, timeout=10)
    assert response.status_code == 413

    def chunks():  # no content-length: the limit applies to the streamed body too
        for _ in range(30):
            yield b" " * 1000

    response = httpx.post(f"{api_url}/v1/events", content=chunks(), timeout=10)
    assert response.status_code == 413


def test_health_readiness_and_metrics(api_url: str) -> None:
    assert httpx.get(f"{api_url}/healthz").json() == {"status": "ok"}
    # live at once; ready once its index replica has caught up with catalog.vectors (the
    # fixture waits for liveness only, and catching up takes a moment on a busy machine)
    wait_for(lambda: httpx.get(f"{api_url}/readyz", timeout=10).status_code == 200, 60,
             what="API ready")
    ready = httpx.get(f"{api_url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"kafka": "ok", "redis": "ok", "index": "ok"}
    assert ready.json()["index"]["caught_up"] is True
    httpx.post(f"{api_url}/v1/events", json=[{"user_id": "x"}])
    metrics = httpx.get(f"{api_url}/metrics").text
    assert 'streamrec_api_events_total{outcome="rejected"}' in metrics
    assert 'streamrec_http_requests_total{route="/v1/events",status="400"}' in metrics
