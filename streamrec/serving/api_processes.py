"""Several API processes on one port, with connections dealt out evenly between them.

``uvicorn --workers N`` shares one listening socket between its processes, and whichever
process wakes first accepts every connection waiting: a client that opens a small pool
of keep-alive connections at once (a backend-for-frontend, the benches' 8 or 32 clients)
lands all of them on one process (measured: 12.6 s against 0.07 s of CPU in 10 s of an
8-client search load). A socket per process with ``SO_REUSEPORT`` spreads them by a hash
of their addresses, which is even only on average: of 40 pools of 8 connections on two
processes, 14 split 4/4, 16 split 5/3, 8 split 6/2 and 2 split 7/1, and on a pool that
small the busier process sets the tail (its requests share one GIL).

So the parent process owns the one listening socket: it accepts each connection and
hands its file descriptor (``SCM_RIGHTS`` over a Unix socket pair) to the process with
the fewest open connections, the next in turn on a tie; every process serves the
connections it is handed with uvicorn's own protocol. The count is exact: the parent
counts what it handed out, each process counts what it closed (one shared slot each).
This costs the parent one accept and one ``sendmsg`` per connection, nothing per request.

The parent also supervises: a signal stops every process; when one dies unexpectedly it
stops the others and exits non-zero, so whatever runs the API (``streamrec up``,
systemd, Kubernetes) restarts it whole. It gives them one metrics folder
(``shared_metrics_dir``), so ``/metrics`` on any process answers for all.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.sharedctypes import RawArray
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from streamrec.serving.metrics_exposition import MULTIPROC_ENV

log = logging.getLogger(__name__)

BACKLOG = 2048
STOP_TIMEOUT_S = 15.0
SUPERVISE_EVERY_S = 0.5


def several_processes_supported() -> bool:
    """Descriptor passing and the parent-death signal this needs are Linux features."""
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds")


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


# ------------------------------------------------------------------------- one API process
def serve_one(app: str, channel: socket.socket, closed: Any, slot: int, log_level: str,
              parent: int) -> None:
    """One API process: serves the connections the parent hands it over ``channel`` and
    counts the ones it closes in ``closed[slot]``."""
    stop_with_parent(parent)
    config = uvicorn.Config(app, log_level=log_level, access_log=False)
    HandedConnectionsServer(config, channel, closed, slot).run()


class HandedConnectionsServer(uvicorn.Server):
    """uvicorn's server without a listening socket of its own: connections arrive as
    descriptors on ``channel``, and each is served by uvicorn's protocol class, so
    keep-alive, limits and graceful shutdown behave as under ``uvicorn.run``."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket, closed: Any,
                 slot: int) -> None:
        super().__init__(config)
        self.channel = channel
        self.closed = closed
        self.slot = slot
        self.starting: set[asyncio.Task[None]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan; no listener of its own
        if self.should_exit or not self.started:
            return
        loop = asyncio.get_running_loop()
        protocol = counted_protocol(self.config.http_protocol_class, self.closed, self.slot)

        def create_protocol() -> asyncio.Protocol:
            return protocol(config=self.config, server_state=self.server_state,
                            app_state=self.lifespan.state, _loop=loop)

        async def serve(conn: socket.socket) -> None:
            try:
                await loop.connect_accepted_socket(create_protocol, conn)
            except Exception:  # never reached connection_lost: count it closed here
                log.exception("could not serve a handed connection")
                self.closed[self.slot] += 1
                conn.close()

        def take_handed() -> None:
            while True:
                try:
                    message, fds, _flags, _addr = socket.recv_fds(self.channel, 16, 1)
                except (BlockingIOError, InterruptedError):
                    return
                if not message:  # the parent closed the channel: it is stopping
                    loop.remove_reader(self.channel.fileno())
                    self.should_exit = True
                    return
                for fd in fds:
                    conn = socket.socket(fileno=fd)
                    conn.setblocking(False)
                    task = loop.create_task(serve(conn))
                    self.starting.add(task)  # held until done (the loop keeps weak refs)
                    task.add_done_callback(self.starting.discard)

        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), take_handed)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets)


def counted_protocol(base: type, closed: Any, slot: int) -> type:
    """``base`` (uvicorn's HTTP protocol) that adds one to ``closed[slot]`` when a
    connection ends; this process is that slot's only writer."""

    class Counted(base):  # type: ignore[misc, valid-type]
        def connection_lost(self, exc: Exception | None) -> None:
            closed[slot] += 1
            super().connection_lost(exc)

    return Counted


def stop_with_parent(parent: int) -> None:
    """SIGTERM this process when the supervisor dies, however it dies (``SIGKILL``, the
    OOM killer): an orphan would keep its index replica and metrics files for nothing."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGTERM) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed (errno %s)", ctypes.get_errno())
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


# ---------------------------------------------------------------------------- the parent
class ConnectionDealer:
    """Hands each accepted connection to the process with the fewest open ones."""

    def __init__(self, channels: Sequence[socket.socket], closed: Any) -> None:
        self.channels = channels
        for channel in channels:
            channel.setblocking(False)
        self.closed = closed
        self.handed = [0] * len(channels)
        self.next = 0  # round-robin among equals, so a burst is dealt out in turn

    def choose(self) -> int:
        n = len(self.channels)
        open_now = self.open_connections()
        return min(((self.next + i) % n for i in range(n)), key=open_now.__getitem__)

    def hand(self, conn: socket.socket) -> None:
        """Hand ``conn`` over (a process whose channel is full, i.e. that has not read
        its channel for a long while, is passed over); the parent's copy is closed."""
        try:
            first = self.choose()
            n = len(self.channels)
            for slot in [(first + i) % n for i in range(n)]:
                try:
                    socket.send_fds(self.channels[slot], [b"c"], [conn.fileno()])
                except BlockingIOError:
                    continue
                except OSError as exc:  # the process is gone; the supervisor sees it
                    log.error("could not hand a connection to API process %d: %s", slot, exc)
                    continue
                self.handed[slot] += 1
                self.next = (slot + 1) % n
                return
            log.error("no API process takes connections: closing one")
        finally:
            conn.close()  # the process holds its own copy now

    def open_connections(self) -> list[int]:
        return [h - c for h, c in zip(self.handed, self.closed, strict=True)]


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
    """Run ``workers`` API processes behind one socket on ``host:port`` until a signal or
    a process dies; the exit code (0 after a signal, 1 when a process died on its own)."""
    listener = listening_socket(host, port)
    log.warning("API listening on %s:%d with %d processes", host,
                listener.getsockname()[1], workers)
    ctx = multiprocessing.get_context("spawn")
    closed = RawArray(ctypes.c_long, workers)
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(workers)]
    procs = [ctx.Process(target=serve_one, name=f"streamrec-api-{i}",
                         args=(app, pairs[i][1], closed, i, log_level, os.getpid()))
             for i in range(workers)]
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with shared_metrics_dir():
            for proc in procs:
                proc.start()
            for _, theirs in pairs:
                theirs.close()  # each process has its end; EOF reaches it if we die
            dealer = ConnectionDealer([ours for ours, _ in pairs], closed)
            died = _deal_and_supervise(listener, dealer, procs, stop)
            listener.close()  # no new connections while the processes finish theirs
            _stop_all(procs)
            return 1 if died else 0
    finally:
        listener.close()
        for ours, _ in pairs:
            ours.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _deal_and_supervise(listener: socket.socket, dealer: ConnectionDealer,
                        procs: list[multiprocessing.process.BaseProcess],
                        stop: threading.Event) -> bool:
    """Accept and deal connections until a signal (False) or a process's death (True)."""
    listener.setblocking(False)
    with selectors.DefaultSelector() as selector:
        selector.register(listener, selectors.EVENT_READ)
        checked = time.monotonic()
        while not stop.is_set():
            if selector.select(SUPERVISE_EVERY_S):
                _accept_waiting(listener, dealer)
            if stop.is_set():
                # a signal to the whole process group (a supervisor stopping it) also ends
                # the processes, maybe before select() returns: that is no crash
                break
            if time.monotonic() - checked >= SUPERVISE_EVERY_S:
                checked = time.monotonic()
                died = next((p for p in procs if not p.is_alive()), None)
                if died is not None:
                    log.error("API process %s exited with %s: stopping the others",
                              died.name, died.exitcode)
                    return True
    return False


def _accept_waiting(listener: socket.socket, dealer: ConnectionDealer) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EMFILE and the like: the backlog holds them for later
            log.warning("accept failed: %s", exc)
            time.sleep(0.1)  # the socket stays readable: do not spin on it
            return
        dealer.hand(conn)


def _stop_all(procs: list[multiprocessing.process.BaseProcess]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for proc in procs:
        proc.join(STOP_TIMEOUT_S)
        if proc.is_alive():
            proc.kill()
            proc.join()
