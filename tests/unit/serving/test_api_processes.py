"""Several API processes on one port: a pool of keep-alive connections opened at once is
dealt out evenly (uvicorn's shared socket gave one process all of them, SO_REUSEPORT
sockets split eight 6/2 one time in five), a closed connection frees its process's
share, /metrics on any of them counts all of them, a signal stops them all, and one
process dying stops the rest with a non-zero exit."""

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streamrec.platform.processes import free_port
from streamrec.serving.api_processes import several_processes_supported

pytestmark = pytest.mark.skipif(not several_processes_supported(),
                                reason="needs Linux descriptor passing")

ROOT = Path(__file__).resolve().parents[3]
APP = "tests.unit.serving.pid_app:app"


def start(port: int, workers: int) -> subprocess.Popen:
    code = ("import sys; from streamrec.serving.api_processes import serve_processes; "
            f"sys.exit(serve_processes({APP!r}, '127.0.0.1', {port}, {workers}))")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_all(proc: subprocess.Popen) -> None:
    """Whatever is left of the supervisor's process group (a failed test's cleanup)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def gone(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def answering_pids(port: int, connections: int) -> list[int]:
    """Open ``connections`` at once, then ask on each (keep-alive): who answered."""
    with open_pool(port, connections) as pool:
        return [ask(conn) for conn in pool]


@contextlib.contextmanager
def open_pool(port: int, connections: int) -> Iterator[list[http.client.HTTPConnection]]:
    pool = [http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            for _ in range(connections)]
    try:
        for conn in pool:
            conn.connect()
        yield pool
    finally:
        for conn in pool:
            conn.close()


def settle() -> None:
    """Let the processes see the connections closed before: the dealer deals by the
    count of open connections, and a close counts once its process has handled it."""
    time.sleep(0.5)


def ask(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/")
    return int(conn.getresponse().read())


def wait_serving(port: int, workers: int, proc: subprocess.Popen) -> set[int]:
    """Every process answers (a pool as large as the processes reaches each); their pids."""
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while len(seen) < workers:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, f"only {seen} answered"
        try:
            seen.update(answering_pids(port, workers))
        except OSError:
            time.sleep(0.1)
    return seen


@dataclass
class Served:
    port: int
    proc: subprocess.Popen
    """The supervisor."""
    workers: set[int]
    """Its API processes' pids, each seen answering."""


@pytest.fixture
def served() -> Iterator[Served]:
    """Two API processes of the bare app under a supervisor, every one answering; what is
    left of them is killed afterwards."""
    port = free_port()
    proc = start(port, 2)
    try:
        yield Served(port, proc, wait_serving(port, 2, proc))
    finally:
        kill_all(proc)


def test_a_keep_alive_pool_is_dealt_out_evenly_and_a_signal_stops_every_process(
        served: Served) -> None:
    for connections in (8, 16, 7):
        settle()
        pids = answering_pids(served.port, connections)
        counts = sorted(pids.count(pid) for pid in served.workers)
        assert counts == [connections // 2, connections - connections // 2], counts
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=20) == 0
    assert all(gone(pid) for pid in served.workers)


def test_a_signal_to_the_whole_process_group_is_a_clean_stop(served: Served) -> None:
    """systemd's control-group kill and the benches' stop signal every process at once:
    the processes then exit too, and that must not read as a crash (exit 1)."""
    os.killpg(served.proc.pid, signal.SIGTERM)
    assert served.proc.wait(timeout=20) == 0
    assert all(gone(pid) for pid in served.workers)


def test_metrics_from_any_process_count_every_process(served: Served) -> None:
    before = answered_total(served.port)
    pids = answering_pids(served.port, 16)
    assert set(pids) == served.workers
    # a scrape lands on either process (new connections go to any): each one must
    # report the requests both answered
    for _ in range(6):
        assert answered_total(served.port) == before + 16
    folder = metrics_folder(served.workers)
    assert folder.is_dir() and any(folder.glob("*.db"))
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=20) == 0
    assert not folder.exists()  # the temporary folder goes with the processes


def metrics_folder(pids: set[int]) -> Path:
    """The metrics folder the processes were given (from one's environment)."""
    environ = Path(f"/proc/{min(pids)}/environ").read_bytes().split(b"\0")
    value = next(v for v in environ if v.startswith(b"PROMETHEUS_MULTIPROC_DIR="))
    return Path(value.split(b"=", 1)[1].decode())


def answered_total(port: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("pid_app_answered_total"))


def test_a_process_that_dies_stops_the_others_with_an_error(served: Served) -> None:
    first, second = sorted(served.workers)
    os.kill(first, signal.SIGKILL)
    assert served.proc.wait(timeout=20) == 1
    assert gone(second)


def test_the_processes_do_not_outlive_a_killed_supervisor(served: Served) -> None:
    folder = metrics_folder(served.workers)
    served.proc.kill()  # SIGKILL: no chance to stop them itself
    served.proc.wait()
    # an orphan would go on serving old code beside a restarted API's processes
    assert all(gone(pid) for pid in served.workers)
    shutil.rmtree(folder, ignore_errors=True)  # a killed supervisor cannot remove it


def test_a_closed_connection_frees_its_process_for_the_next(served: Served) -> None:
    """Connections go to the process with the fewest open: after one process's
    connections close, the next pool lands on it first."""
    settle()
    with open_pool(served.port, 4) as kept:
        owners = [ask(conn) for conn in kept]
        assert sorted(owners.count(pid) for pid in served.workers) == [2, 2]
        freed = owners[0]
        for conn, owner in zip(kept, owners, strict=True):
            if owner == freed:
                conn.close()
        settle()
        assert answering_pids(served.port, 2) == [freed, freed]


def test_connections_wait_for_a_process_that_is_still_starting() -> None:
    """The port accepts at once; a request made before the processes are up is answered
    when they are (nothing refused, nothing lost)."""
    port = free_port()
    proc = start(port, 3)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.connect()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.01)
        assert ask(conn) > 0
        conn.close()
        assert len(wait_serving(port, 3, proc)) == 3
        settle()
        pids = answering_pids(port, 9)
        assert sorted(pids.count(pid) for pid in set(pids)) == [3, 3, 3]
    finally:
        kill_all(proc)


def test_streamrec_api_runs_the_configured_number_of_processes(monkeypatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from streamrec.cli.main import app
    from streamrec.serving import api_processes

    started: list[tuple[str, int]] = []
    monkeypatch.setattr(api_processes, "serve_processes",
                        lambda app_path, host, port, workers: started.append(
                            ("dealt", workers)) or 0)
    monkeypatch.setattr(uvicorn, "run", lambda app_path, **kw: started.append(
        ("uvicorn", kw["workers"])))
    monkeypatch.setenv("STREAMREC_API_WORKERS", "3")
    runner = CliRunner()
    assert runner.invoke(app, ["api", "--port", "18123"]).exit_code == 0
    assert runner.invoke(app, ["api", "--port", "18123", "--workers", "1"]).exit_code == 0
    monkeypatch.delenv("STREAMREC_API_WORKERS")
    assert runner.invoke(app, ["api", "--port", "18123"]).exit_code == 0
    assert started == [("dealt", 3), ("uvicorn", 1), ("uvicorn", 1)]
    assert runner.invoke(app, ["api", "--workers", "0"]).exit_code != 0


def test_the_dealer_picks_the_fewest_open_and_takes_turns_on_a_tie() -> None:
    from streamrec.serving.api_processes import ConnectionDealer

    ours, theirs = zip(*(socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                         for _ in range(3)), strict=True)
    closed = [0, 0, 0]
    dealer = ConnectionDealer(list(ours), closed)
    try:
        def deal() -> int:
            conn, peer = socket.socketpair()
            peer.close()
            before = list(dealer.handed)
            dealer.hand(conn)
            assert conn.fileno() == -1  # the parent's copy is closed once handed
            return next(i for i in range(3) if dealer.handed[i] != before[i])

        assert [deal() for _ in range(6)] == [0, 1, 2, 0, 1, 2]  # a burst, in turn
        closed[1] = 2  # process 1's two connections ended
        assert [deal(), deal()] == [1, 1]
        assert dealer.open_connections() == [2, 2, 2]
        for slot, channel in enumerate(theirs):  # each arrived on its process's channel
            channel.setblocking(False)
            received = 0
            while True:
                try:
                    _, fds, _, _ = socket.recv_fds(channel, 16, 1)
                except BlockingIOError:
                    break
                os.close(fds[0])
                received += 1
            assert received == dealer.handed[slot]
        theirs[2].close()  # a process that is gone is passed over
        assert deal() == 0  # its turn came, but its channel is closed
        assert dealer.handed[2] == 2
    finally:
        for sock in (*ours, *theirs):
            sock.close()
