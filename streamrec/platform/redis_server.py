"""Debian's ``redis-server`` on a given port, installed on demand when running as root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import redis

from streamrec.platform.processes import spawn, stop_process_group, wait_until


def ensure_redis_installed() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        path = shutil.which("redis-server")
        if path:
            return path
    raise RuntimeError("redis-server is not installed; install Debian's package as root: "
                       "`apt-get install redis-server` (or point STREAMREC_REDIS_URL at a server)")


TUNED_CONFIG = {"zset-max-listpack-entries": "64"}
"""What streamrec changes from Redis's defaults (docs/operations.md, "Redis for the user
path"): sorted sets longer than 64 use the skiplist encoding. Each user event updates
dozens of entries of the user's ~100-entry candidate list in place; in a listpack
(Redis's compact encoding, up to 128 entries by default) each update is a linear scan
and a move, and at 1,000 events/s that was a fifth of a core of Redis, growing as lists
filled. The cost: a skiplist takes more memory per entry (docs/benchmarks.md has the
measured difference)."""


class RedisServer:
    def __init__(self, work_dir: Path, port: int, *, persistent: bool = False,
                 maxmemory: str = "2gb", config: Mapping[str, str] | None = None) -> None:
        self.work_dir = work_dir
        self.config = {**TUNED_CONFIG, **(config or {})}
        """``redis.conf`` directives passed as ``--name value``: ``TUNED_CONFIG`` and
        ``config`` (which wins)."""
        self.port = port
        self.persistent = persistent
        self.maxmemory = maxmemory
        self.log_file = work_dir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 20.0) -> subprocess.Popen[bytes]:
        binary = ensure_redis_installed()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        persistence = (["--appendonly", "yes", "--appendfsync", "everysec"] if self.persistent
                       else ["--save", "", "--appendonly", "no"])
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
               str(self.work_dir), "--daemonize", "no", "--logfile", str(self.log_file),
               "--maxmemory", self.maxmemory, "--protected-mode", "yes", *persistence,
               *(part for name, value in self.config.items() for part in (f"--{name}", value))]
        self.proc = spawn(cmd, self.work_dir / "redis.stdout")
        wait_until(self.ready, timeout_s, f"Redis on port {self.port}", self.proc, self.log_file)
        return self.proc

    def ready(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc.pid)
            self.proc = None
