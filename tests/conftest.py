"""Session-wide real services: one Kafka broker and one Redis, started on free ports.

Every test gets its own topic prefix and Redis key prefix (uuid), so tests never see
each other's records, as in Quix Streams' factory fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamrec.platform.kafka_server import KafkaJars, KafkaServer
from streamrec.platform.processes import free_port, spawn, stop_process_group
from streamrec.platform.redis_server import RedisServer
from streamrec.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    base = load_settings()
    server = KafkaServer(KafkaJars(base.cache_dir, base.kafka_version),
                         tmp_path_factory.mktemp("kafka"), free_port(), free_port(), heap="384m")
    server.start(timeout_s=120)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), free_port(), maxmemory="512mb")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(kafka_server: KafkaServer, redis_server: RedisServer, tmp_path: Path) -> Settings:
    """Settings of an isolated deployment on the shared broker and Redis."""
    tag = uuid.uuid4().hex[:10]
    return Settings(
        kafka_bootstrap=kafka_server.bootstrap,
        redis_url=redis_server.url,
        topic_prefix=f"t{tag}.",
        redis_key_prefix=f"t{tag}:",
        topic_partitions=3,
        state_dir=tmp_path / "state",
        worker_batch_wait_s=0.02,
    )


@pytest.fixture
def topics(settings: Settings) -> dict[str, str]:
    from streamrec.streams.admin import ensure_topics

    return ensure_topics(settings)


def settings_env(settings: Settings) -> dict[str, str]:
    return {**settings.as_env(), "STREAMREC_API_PORT": str(settings.api_port)}


@pytest.fixture
def run_cli(settings: Settings) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``streamrec ARGS`` as a user would, against this test's deployment."""

    def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streamrec", *args], capture_output=True, text=True,
            timeout=timeout, cwd=REPO,
            env={**os.environ, **settings_env(settings), "COLUMNS": "200", **(env or {})},
        )

    return run


@pytest.fixture
def start_process(settings: Settings, tmp_path: Path
                  ) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``streamrec ARGS`` in the background (worker, API); stopped after the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = spawn([sys.executable, "-m", "streamrec", *args], tmp_path / f"{name}.log",
                     env={**settings_env(settings), **(env or {})}, cwd=REPO)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        stop_process_group(proc.pid, timeout_s=10)
