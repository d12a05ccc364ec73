import time

from streamrec.streams.jsonl_publisher import Pacer


def test_fixed_rate_paces_records() -> None:
    pacer = Pacer(rate=200)
    started = time.monotonic()
    for _ in range(41):
        pacer.wait(0)
    assert 0.18 <= time.monotonic() - started < 0.6


def test_replay_follows_recorded_timestamps_with_speedup() -> None:
    pacer = Pacer(speedup=10)
    started = time.monotonic()
    for ts in (1_000, 1_500, 3_000):  # 2 s of recorded time, 10x faster
        pacer.wait(ts)
    assert 0.19 <= time.monotonic() - started < 0.6


def test_no_pacing_by_default() -> None:
    pacer = Pacer()
    started = time.monotonic()
    for ts in range(0, 10_000_000, 1_000_000):
        pacer.wait(ts)
    assert time.monotonic() - started < 0.05
