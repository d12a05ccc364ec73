"""The worker and API processes of an evaluated deployment: start, wait, query, stop.

Every process is ``python -m streamrec worker|api`` in its own process group,
configured only through ``STREAMREC_*`` environment variables derived from the run's
``Settings`` (see ``streamrec.evaluation.deployment_services.deployment_settings``)
plus the run's overrides; logs under ``<state_dir>/logs``.

    with LiveDeployment(settings, env={"STREAMREC_RECS_BLEND": "rank"},
                        worker_roles=("catalog", "users")) as live:
        live.start()
        live.search("cordless drill", k=10)

``worker_roles=("all",)`` runs one worker with every agent; ``("catalog", "users")``
runs one process per role, so a catalog backlog never delays user events.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from streamrec.platform.processes import free_port, spawn, stop_process_group, wait_until
from streamrec.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that points a streamrec process at ``settings``' deployment."""
    return settings.as_env()


def prometheus_value(text: str, name: str) -> float:
    """The value of the first sample line starting with ``name`` (0.0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.split()[-1])
    return 0.0


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name):len(name) + 1] in ("{", " ")) \
                and all(w in line for w in wanted):
            total += float(line.split()[-1])
    return total


def histogram_quantile(text: str, name: str, q: float, **labels: str) -> float:
    """Upper bound of the bucket holding quantile ``q`` of a Prometheus histogram's
    samples with ``labels`` (NaN without samples; inf beyond the last finite bucket).
    ``text`` may hold several processes' metrics: their buckets are added up."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    counts: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{") and all(w in line for w in wanted):
            bound = float(line.split('le="', 1)[1].split('"', 1)[0])
            counts[bound] = counts.get(bound, 0.0) + float(line.split()[-1])
    buckets = sorted(counts.items())
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    target = q * buckets[-1][1]
    return next(bound for bound, count in buckets if count >= target)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (NaN when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def tree_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` of ``pid`` plus its live children (uvicorn's worker processes)."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if fields[1] == str(pid):
            total += cpu_seconds(int(stat.parent.name))
    return total


class LiveDeployment:
    """Worker process(es) and the API (``api_workers`` uvicorn processes, each with its own
    index replica); ``env`` adds or overrides STREAMREC_* variables."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None,
                 *, worker_roles: Sequence[str] = ("all",), api: bool = True,
                 api_workers: int = 1, cwd: Path | None = None) -> None:
        if api_workers < 1:
            raise ValueError("api_workers must be >= 1")
        self.settings = settings
        self.api_workers = api_workers
        self.env = {**settings_env(settings), **(env or {})}
        self.worker_roles = tuple(worker_roles)
        self.with_api = api
        self.cwd = cwd
        self.api_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.log_dir = Path(settings.state_dir) / "logs"
        self.api_log = self.log_dir / "api.log"
        self.metrics_ports = {role: free_port() for role in self.worker_roles}
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.api: subprocess.Popen[bytes] | None = None

    # --- names kept from the single-worker benches ---------------------------------------
    @property
    def worker(self) -> subprocess.Popen[bytes] | None:
        return next(iter(self.workers.values()), None)

    @property
    def worker_metrics_port(self) -> int:
        return next(iter(self.metrics_ports.values()), 0)

    @property
    def worker_metrics_url(self) -> str:
        return self.metrics_url()

    @property
    def worker_log(self) -> Path:
        return self.role_log(self.worker_roles[0] if self.worker_roles else "all")

    def role_log(self, role: str) -> Path:
        return self.log_dir / ("worker.log" if role == "all" else f"worker-{role}.log")

    def metrics_url(self, role: str | None = None) -> str:
        port = self.metrics_ports[role] if role else self.worker_metrics_port
        return f"http://127.0.0.1:{port}/metrics"

    # --- lifecycle ---------------------------------------------------------------------
    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, "-m", "streamrec", *args], log, env=self.env, cwd=self.cwd)

    def start(self, timeout_s: float = 180.0) -> None:
        """Start the processes; returns when the API answers /readyz with 200 and every
        worker serves its metrics."""
        for role, port in self.metrics_ports.items():
            args = ["worker", "--metrics-port", str(port)]
            if role != "all":
                args += ["--role", role]
            self.workers[role] = self._spawn(args, self.role_log(role))
        if self.with_api:
            self.api = self._spawn(self._api_args(), self.api_log)
            wait_until(self._ready, timeout_s, "the API", proc=self.api, log_file=self.api_log,
                       interval_s=0.5)
        for role, proc in self.workers.items():
            wait_until(lambda role=role: self._worker_up(role), timeout_s,
                       f"the {role} worker", proc=proc, log_file=self.role_log(role),
                       interval_s=0.5)

    def _api_args(self) -> list[str]:
        return ["api", "--port", str(self.api_port), "--workers", str(self.api_workers)]

    def _ready(self) -> bool:
        try:
            answers = self._readyz_per_process()
        except (httpx.HTTPError, ValueError):  # not up yet, or not answering JSON yet
            return False
        return len(answers) == self.api_workers and all(
            status == 200 for status, _ in answers.values())

    def _readyz_per_process(self, patience_s: float = 5.0) -> dict[int, tuple[int, dict[str, Any]]]:
        """/readyz of every API process: pid -> (status, body). Each call opens a new
        connection, which the kernel hands to any of the processes, so ask until every one
        has answered (or ``patience_s`` passed: then fewer are returned)."""
        answers: dict[int, tuple[int, dict[str, Any]]] = {}
        deadline = time.monotonic() + patience_s
        while True:
            status, body = self._readyz_answer()
            answers[int(body.get("process", 0))] = (status, body)
            if len(answers) >= self.api_workers or time.monotonic() > deadline:
                return answers

    def _readyz_answer(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"{self.url}/readyz", timeout=10)
        return response.status_code, response.json()

    def _worker_up(self, role: str) -> bool:
        try:
            return httpx.get(self.metrics_url(role), timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def check_alive(self) -> None:
        """Raise, quoting the log's end, when a started process has exited."""
        procs = [("worker" if role == "all" else f"{role} worker", proc, self.role_log(role))
                 for role, proc in self.workers.items()]
        procs.append(("API", self.api, self.api_log))
        for name, proc, log in procs:
            if proc is not None and proc.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) \
                    if log.exists() else ""
                raise RuntimeError(f"the {name} exited with code {proc.returncode}; "
                                   f"last lines of {log}:\n{tail}")

    def restart_api(self, env: dict[str, str], timeout_s: float = 300.0) -> None:
        """Stop the API and start it again with ``env`` added (e.g. a new model); returns
        when it answers /readyz with 200 (its index replica caught up again)."""
        if self.api is not None:
            stop_process_group(self.api.pid, timeout_s=15)
            self.api.wait()
        self.env = {**self.env, **env}
        self.api = self._spawn(self._api_args(), self.api_log)
        wait_until(self._ready, timeout_s, "the restarted API", proc=self.api,
                   log_file=self.api_log, interval_s=0.5)

    def stop_worker(self) -> None:
        for proc in self.workers.values():
            stop_process_group(proc.pid, timeout_s=15)
            proc.wait()
        self.workers.clear()

    def stop(self) -> None:
        self.stop_worker()
        if self.api is not None:
            stop_process_group(self.api.pid, timeout_s=15)
            self.api.wait()
            self.api = None

    def __enter__(self) -> LiveDeployment:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- queries -------------------------------------------------------------------------
    def readyz(self) -> dict[str, Any]:
        """The /readyz body (also when it answers 503: it still carries ``index``)."""
        return self._readyz_answer()[1]

    def index_stats(self) -> dict[str, Any]:
        """The index replica's stats; with several API processes, the least advanced
        process's counts (a product is searchable once every process has it)."""
        answers = self._readyz_per_process()
        stats = [body["index"] for _, body in answers.values()]
        out = dict(stats[0])
        if len(stats) < self.api_workers:  # a process did not answer: nothing is sure yet
            return {**out, "products": 0, "lexical_docs": 0, "searchable": 0,
                    "caught_up": False}
        for key in ("products", "lexical_docs", "searchable", "applied"):
            values = [s[key] for s in stats if s.get(key) is not None]
            if values:
                out[key] = min(values)
        out["caught_up"] = all(s.get("caught_up") for s in stats)
        return out

    def search(self, q: str, k: int = 10, category: str | None = None,
               timeout_s: float = 30.0) -> dict[str, Any]:
        params: dict[str, Any] = {"q": q, "k": k}
        if category:
            params["category"] = category
        response = httpx.get(f"{self.url}/v1/search", params=params, timeout=timeout_s)
        response.raise_for_status()
        return response.json()

    def worker_metrics(self, role: str | None = None) -> str:
        """A worker's Prometheus text ("" when it is unreachable)."""
        try:
            return httpx.get(self.metrics_url(role), timeout=10).text
        except httpx.HTTPError:
            return ""

    def worker_metric(self, name: str, role: str | None = None) -> float:
        """A worker Prometheus sample (0.0 when absent or the worker is unreachable)."""
        return prometheus_value(self.worker_metrics(role), name)

    def pids(self) -> dict[str, int]:
        out = {("worker" if role == "all" else f"worker-{role}"): proc.pid
               for role, proc in self.workers.items()}
        if self.api is not None:
            out["api"] = self.api.pid
        return out
