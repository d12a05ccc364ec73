"""Kafka unreachable: every entry point says so within seconds instead of hanging."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from streamrec.platform.processes import free_port
from streamrec.settings import Settings
from streamrec.streams.admin import check_kafka, ensure_topics
from streamrec.streams.errors import KafkaUnavailableError
from tests.integration.kafka_helpers import wait_for

pytestmark = pytest.mark.integration

DOWN = {"STREAMREC_KAFKA_CONNECT_TIMEOUT_S": "2"}


def dead_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}",
                                       "kafka_connect_timeout_s": 2.0})


def test_admin_calls_fail_fast(settings: Settings) -> None:
    dead = dead_settings(settings)
    for call in (check_kafka, ensure_topics):
        started = time.monotonic()
        with pytest.raises(KafkaUnavailableError, match="did not answer within 2s"):
            call(dead)
        assert time.monotonic() - started < 6


def test_cli_publish_and_worker_fail_fast(settings: Settings, run_cli, tmp_path: Path) -> None:
    dead = {**DOWN, "STREAMREC_KAFKA_BOOTSTRAP": dead_settings(settings).kafka_bootstrap}
    path = tmp_path / "c.jsonl"
    path.write_text('{"sku": "a", "title": "A", "updated_at": 1}\n')
    for args in (("publish", "catalog", str(path)), ("worker",), ("topics", "create")):
        started = time.monotonic()
        result = run_cli(*args, env=dead, timeout=30)
        elapsed = time.monotonic() - started
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "did not answer" in result.stdout, (args, result.stdout)
        assert elapsed < 15, f"{args} took {elapsed:.1f}s"


def test_api_reports_not_ready_and_refuses_events(settings: Settings, start_process) -> None:
    port = free_port()
    dead = dead_settings(settings)
    start_process("api", "--port", str(port), name="api-dead",
                  env={**DOWN, "STREAMREC_KAFKA_BOOTSTRAP": dead.kafka_bootstrap,
                       "STREAMREC_API_PUBLISH_TIMEOUT_S": "2"})
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 60, what="API up")
    ready = httpx.get(f"{url}/readyz", timeout=15)
    assert ready.status_code == 503
    assert "did not answer" in ready.json()["checks"]["kafka"]
    assert ready.json()["checks"]["redis"] == "ok"

    started = time.monotonic()
    response = httpx.post(f"{url}/v1/events", timeout=15, json=[
        {"event_id": "e1", "user_id": "u", "type": "VIEW", "sku": "s", "ts": 1}])
    assert response.status_code == 503
    assert response.json()["accepted"] == 0
    assert "not stored" in response.json()["rejected"][0]["reason"]
    assert time.monotonic() - started < 8
