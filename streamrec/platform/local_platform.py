"""The whole platform on this machine: Kafka, Redis, topics, a worker and the API.

``up`` starts what is not running yet (a second ``up`` reuses what the first started),
records each process in ``<state_dir>/run/<name>.pid`` and its log in
``<state_dir>/logs/``; ``down`` stops them in reverse order.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from streamrec.platform.kafka_server import KafkaJars, KafkaServer
from streamrec.platform.processes import (
    PidFile,
    port_open,
    spawn,
    stop_process_group,
    wait_until,
)
from streamrec.platform.redis_server import RedisServer
from streamrec.settings import Settings
from streamrec.streams.admin import ensure_topics

SERVICES = ("kafka", "redis", "catalog-worker", "users-worker", "api")
WORKER_ROLES = {"catalog-worker": "catalog", "users-worker": "users"}
CATALOG_ENCODER_THREADS = 2
"""Encoder threads of the local catalog worker unless STREAMREC_ENCODER_THREADS says."""


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    address: str
    log: Path


class LocalPlatform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir.resolve()
        self.logs = self.state_dir / "logs"
        self.kafka_bootstrap = f"127.0.0.1:{settings.kafka_port}"
        self.redis_url = f"redis://127.0.0.1:{settings.redis_port}/0"
        self.api_url = f"http://{settings.api_host}:{settings.api_port}"

    def pidfile(self, name: str) -> PidFile:
        return PidFile(self.state_dir, name)

    def child_env(self) -> dict[str, str]:
        """What the worker and API processes need to find Kafka and Redis."""
        local = self.settings.model_copy(update={
            "kafka_bootstrap": self.kafka_bootstrap, "redis_url": self.redis_url,
            "state_dir": self.state_dir})
        return {**local.as_env(), "STREAMREC_API_HOST": self.settings.api_host,
                "STREAMREC_API_PORT": str(self.settings.api_port)}

    def _claim_port(self, name: str, port: int) -> bool:
        """True when our own ``name`` already serves ``port``; error if a stranger does."""
        if not port_open(port):
            return False
        if self.pidfile(name).alive_pid():
            return True
        raise RuntimeError(f"port {port} for {name} is taken by another process; stop it or "
                           f"choose another port (STREAMREC_{name.upper()}_PORT)")

    def start_kafka(self) -> None:
        if self._claim_port("kafka", self.settings.kafka_port):
            return
        server = KafkaServer(KafkaJars(self.settings.cache_dir, self.settings.kafka_version),
                             self.state_dir / "kafka", self.settings.kafka_port,
                             self.settings.kafka_controller_port, self.settings.kafka_heap)
        proc = server.start()
        self.pidfile("kafka").write(proc.pid)

    def start_redis(self) -> None:
        if self._claim_port("redis", self.settings.redis_port):
            return
        server = RedisServer(self.state_dir / "redis", self.settings.redis_port, persistent=True)
        proc = server.start()
        self.pidfile("redis").write(proc.pid)

    def start_workers(self) -> None:
        """One worker per role: embedding never holds user events back."""
        for name, role in WORKER_ROLES.items():
            if self.pidfile(name).alive_pid():
                continue
            env = self.child_env()
            if role == "catalog" and "encoder_threads" not in self.settings.model_fields_set:
                # the embedding worker may use both cores (fashion ingest 194 vs 153
                # products/s, all-text freshness p99 2.4 vs 3.8 s; docs/benchmarks.md)
                env["STREAMREC_ENCODER_THREADS"] = str(CATALOG_ENCODER_THREADS)
            proc = spawn([sys.executable, "-m", "streamrec", "worker", "--role", role],
                         self.logs / f"{name}.log", env=env)
            self.pidfile(name).write(proc.pid)

    def start_api(self) -> None:
        if self._claim_port("api", self.settings.api_port):
            return
        log = self.logs / "api.log"
        proc = spawn([sys.executable, "-m", "streamrec", "api"], log, env=self.child_env())
        self.pidfile("api").write(proc.pid)

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.api_url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, f"API on {self.api_url}", proc, log)

    def up(self, on_step: object = None) -> None:
        steps = [
            ("Kafka", self.start_kafka),
            ("Redis", self.start_redis),
            ("topics", self.create_topics),
            ("workers", self.start_workers),
            ("API", self.start_api),
        ]
        for label, step in steps:
            if callable(on_step):
                on_step(label)
            step()

    def create_topics(self) -> dict[str, str]:
        return ensure_topics(self.settings.model_copy(
            update={"kafka_bootstrap": self.kafka_bootstrap}))

    def down(self) -> list[str]:
        stopped = []
        for name in reversed(SERVICES):
            pidfile = self.pidfile(name)
            pid = pidfile.read()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    if stop_process_group(pid, timeout_s=20):
                        stopped.append(name)
                pidfile.remove()
        return stopped

    def status(self) -> list[ServiceStatus]:
        addresses = {"kafka": self.kafka_bootstrap, "redis": self.redis_url,
                     "api": self.api_url}
        logs = {
            "kafka": self.state_dir / "kafka" / "kafka.log",
            "redis": self.state_dir / "redis" / "redis.log",
            "api": self.logs / "api.log",
            **{name: self.logs / f"{name}.log" for name in WORKER_ROLES},
        }
        return [ServiceStatus(name, self.pidfile(name).alive_pid(), addresses.get(name, "-"),
                              logs[name])
                for name in SERVICES]
