"""Several API processes on one port, each with its own listening socket (SO_REUSEPORT).

``uvicorn --workers N`` shares one listening socket between its processes, and whichever
process wakes first accepts every connection waiting: a client that opens a small pool
of keep-alive connections at once (a backend-for-frontend, the benches' 8 or 32 clients)
lands all of them on one process. Measured here: during an 8-client search load on two
processes one used 12.6 s of CPU in 10 s and the other 0.07 s. With a socket per process
bound with SO_REUSEPORT the kernel spreads new connections across the processes by a
hash of their addresses, so each pool is split between them.

The parent only supervises: it starts the processes, forwards SIGTERM/SIGINT, and when
one process dies unexpectedly it stops the others and exits non-zero, so whatever runs
the API (``streamrec up``, systemd, Kubernetes) restarts it whole. It also gives them one
metrics folder (``shared_metrics_dir``), so ``/metrics`` on any process answers for all.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from streamrec.serving.metrics_exposition import MULTIPROC_ENV

log = logging.getLogger(__name__)

BACKLOG = 2048
STOP_TIMEOUT_S = 15.0


def reuseport_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that other processes may bind to the same port too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def serve_one(app: str, host: str, port: int, log_level: str, parent: int) -> None:
    """One API process: its own socket, one uvicorn server (which handles SIGTERM)."""
    import uvicorn

    stop_with_parent(parent)
    sock = reuseport_socket(host, port)
    config = uvicorn.Config(app, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def stop_with_parent(parent: int) -> None:
    """SIGTERM this process when the supervisor dies, however it dies (``SIGKILL``, the
    OOM killer): an orphan would keep serving old code on the port next to the processes
    of a restarted API, since SO_REUSEPORT lets them bind together."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGTERM) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed (errno %s)", ctypes.get_errno())
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """The folder every API process writes its metrics to (prometheus_client's
    multiprocess mode; the processes inherit ``PROMETHEUS_MULTIPROC_DIR``). An operator's
    folder is emptied of a previous run's files; otherwise a temporary one is made and
    removed at the end."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="streamrec-api-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def serve_processes(app: str, host: str, port: int, workers: int,
                    log_level: str = "warning") -> int:
    """Run ``workers`` API processes on ``host:port`` until a signal or a process dies;
    the exit code (0 after a signal, 1 when a process died on its own)."""
    if port == 0:
        raise ValueError("several processes need a fixed port (port 0 gives each its own)")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=serve_one, args=(app, host, port, log_level, os.getpid()),
                         name=f"streamrec-api-{i}") for i in range(workers)]
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _supervise(procs, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _supervise(procs: list[multiprocessing.process.BaseProcess], stop: threading.Event
               ) -> int:
    with shared_metrics_dir():
        for proc in procs:
            proc.start()
        died = None
        while not stop.wait(0.5):
            died = next((p for p in procs if not p.is_alive()), None)
            if died is not None:
                log.error("API process %s exited with %s: stopping the others", died.name,
                          died.exitcode)
                break
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for proc in procs:
            proc.join(STOP_TIMEOUT_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
        return 1 if died is not None else 0
