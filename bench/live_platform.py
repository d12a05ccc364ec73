"""A worker process and an API process of a benchmark's deployment: start, wait, stop.

Modelled on the ``Platform`` of ``tests/integration/test_catalog_search.py``: both are
``python -m streamrec worker|api`` processes in their own process groups, configured
only through ``STREAMREC_*`` environment variables derived from the bench's
``Settings`` (see ``bench.local_services.bench_settings``), logs under
``<state_dir>/logs``.

    with LivePlatform(settings, env={"STREAMREC_CATALOG_BATCH_SIZE": "256"}) as live:
        live.start()
        live.search("cordless drill", k=10)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from streamrec.platform.processes import free_port, spawn, stop_process_group, wait_until
from streamrec.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that points a streamrec process at ``settings``' deployment."""
    return settings.as_env()


def prometheus_value(text: str, name: str) -> float:
    """The value of the first sample line starting with ``name`` (0.0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.split()[-1])
    return 0.0


class LivePlatform:
    """One worker and one API process; ``env`` adds or overrides STREAMREC_* variables."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None,
                 *, worker: bool = True, api: bool = True) -> None:
        self.settings = settings
        self.env = {**settings_env(settings), **(env or {})}
        self.with_worker = worker
        self.with_api = api
        self.api_port = free_port()
        self.worker_metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.worker_metrics_url = f"http://127.0.0.1:{self.worker_metrics_port}/metrics"
        self.log_dir = Path(settings.state_dir) / "logs"
        self.worker_log = self.log_dir / "worker.log"
        self.api_log = self.log_dir / "api.log"
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, "-m", "streamrec", *args], log, env=self.env, cwd=REPO)

    def start(self, timeout_s: float = 180.0) -> None:
        """Start the processes; returns when the API answers /readyz with 200."""
        if self.with_worker:
            self.worker = self._spawn(
                ["worker", "--metrics-port", str(self.worker_metrics_port)], self.worker_log)
        if self.with_api:
            self.api = self._spawn(["api", "--port", str(self.api_port)], self.api_log)
            wait_until(self._ready, timeout_s, "the API", proc=self.api, log_file=self.api_log,
                       interval_s=0.5)
        if self.worker is not None:
            wait_until(self._worker_up, timeout_s, "the worker", proc=self.worker,
                       log_file=self.worker_log, interval_s=0.5)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def _worker_up(self) -> bool:
        try:
            return httpx.get(self.worker_metrics_url, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def check_alive(self) -> None:
        """Raise, quoting the log's end, when a started process has exited."""
        for name, proc, log in (("worker", self.worker, self.worker_log),
                                ("API", self.api, self.api_log)):
            if proc is not None and proc.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) \
                    if log.exists() else ""
                raise RuntimeError(f"the {name} exited with code {proc.returncode}; "
                                   f"last lines of {log}:\n{tail}")

    def stop_worker(self) -> None:
        if self.worker is not None:
            stop_process_group(self.worker.pid, timeout_s=15)
            self.worker.wait()
            self.worker = None

    def stop(self) -> None:
        self.stop_worker()
        if self.api is not None:
            stop_process_group(self.api.pid, timeout_s=15)
            self.api.wait()
            self.api = None

    def __enter__(self) -> LivePlatform:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- queries -------------------------------------------------------------------------
    def readyz(self) -> dict[str, Any]:
        """The /readyz body (also when it answers 503: it still carries ``index``)."""
        return httpx.get(f"{self.url}/readyz", timeout=10).json()

    def index_stats(self) -> dict[str, Any]:
        return self.readyz()["index"]

    def search(self, q: str, k: int = 10, category: str | None = None,
               timeout_s: float = 30.0) -> dict[str, Any]:
        params: dict[str, Any] = {"q": q, "k": k}
        if category:
            params["category"] = category
        response = httpx.get(f"{self.url}/v1/search", params=params, timeout=timeout_s)
        response.raise_for_status()
        return response.json()

    def worker_metric(self, name: str) -> float:
        """A worker Prometheus sample (0.0 when absent or the worker is unreachable)."""
        try:
            return prometheus_value(httpx.get(self.worker_metrics_url, timeout=5).text, name)
        except httpx.HTTPError:
            return 0.0

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in (("worker", self.worker), ("api", self.api))
                if proc is not None}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (NaN when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")
