"""Several API processes on one port: a pool of keep-alive connections opened at once is
spread across them (uvicorn's shared socket gave one process all of them), a signal
stops them all, and one process dying stops the rest with a non-zero exit."""

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamrec.platform.processes import free_port
from streamrec.serving.reuseport_server import reuseport_supported

pytestmark = pytest.mark.skipif(not reuseport_supported(), reason="needs SO_REUSEPORT")

ROOT = Path(__file__).resolve().parents[3]
APP = "tests.unit.serving.pid_app:app"


def start(port: int, workers: int) -> subprocess.Popen:
    code = ("import sys; from streamrec.serving.reuseport_server import serve_processes; "
            f"sys.exit(serve_processes({APP!r}, '127.0.0.1', {port}, {workers}))")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def answering_pids(port: int, connections: int) -> list[int]:
    """Open ``connections`` at once, then ask on each (keep-alive): who answered."""
    pool = [http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            for _ in range(connections)]
    try:
        for conn in pool:
            conn.connect()
        pids = []
        for conn in pool:
            conn.request("GET", "/")
            pids.append(int(conn.getresponse().read()))
        return pids
    finally:
        for conn in pool:
            conn.close()


def wait_serving(port: int, workers: int, proc: subprocess.Popen) -> set[int]:
    """Every process answers (new connections go to any of them); their pids."""
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while len(seen) < workers:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, f"only {seen} answered"
        try:
            seen.update(answering_pids(port, 4))
        except OSError:
            time.sleep(0.1)
    return seen


def test_a_keep_alive_pool_is_spread_and_a_signal_stops_every_process() -> None:
    port = free_port()
    proc = start(port, 2)
    try:
        workers = wait_serving(port, 2, proc)
        pids = answering_pids(port, 16)
        assert set(pids) == workers  # all 16 on one process: ~3e-5 by chance
        assert max(pids.count(pid) for pid in workers) <= 14
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        time.sleep(0.2)
        for pid in workers:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_process_that_dies_stops_the_others_with_an_error() -> None:
    port = free_port()
    proc = start(port, 2)
    try:
        first, second = sorted(wait_serving(port, 2, proc))
        os.kill(first, signal.SIGKILL)
        assert proc.wait(timeout=20) == 1
        time.sleep(0.2)
        with pytest.raises(ProcessLookupError):
            os.kill(second, 0)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_several_processes_need_a_fixed_port() -> None:
    from streamrec.serving.reuseport_server import serve_processes

    with pytest.raises(ValueError, match="fixed port"):
        serve_processes(APP, "127.0.0.1", 0, 2)
