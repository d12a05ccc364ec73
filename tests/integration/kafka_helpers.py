"""Small helpers the integration tests share: polling until true, reading a topic back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer

from streamrec.settings import Settings


def wait_for(check: Callable[[], bool], timeout_s: float = 60, interval_s: float = 0.2,
             what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise AssertionError(f"{what} not reached within {timeout_s}s")


@dataclass
class ReadRecord:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int
    offset: int


def read_topic(settings: Settings, topic: str, expected: int, timeout_s: float = 60
               ) -> list[ReadRecord]:
    """Read ``topic`` from the beginning until ``expected`` records arrived (or fail)."""
    consumer = Consumer({
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": f"test-reader-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    records: list[ReadRecord] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            records.append(ReadRecord(msg.key(), msg.value(), dict(msg.headers() or []),
                                      msg.partition(), msg.offset()))
        # a short extra poll proves no unexpected records follow
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                records.append(ReadRecord(msg.key(), msg.value(), dict(msg.headers() or []),
                                          msg.partition(), msg.offset()))
    finally:
        consumer.close()
    assert len(records) >= expected, f"{topic}: {len(records)} of {expected} records arrived"
    return records
