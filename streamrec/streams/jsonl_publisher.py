"""Publish JSON Lines of CatalogChange or UserEvent records: validate, pace, produce, account."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from streamrec.schemas.records import CatalogChangeIn, UserEventIn, describe_errors
from streamrec.settings import Settings
from streamrec.streams.admin import check_kafka
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics

MAX_EXAMPLES = 20


@dataclass(frozen=True)
class RecordKind:
    model: type[BaseModel]
    record_type: str
    key_field: str
    time_field: str
    topic: Callable[[Topics], str]


KINDS = {
    "catalog": RecordKind(CatalogChangeIn, "CatalogChange", "sku", "updated_at",
                          lambda t: t.catalog_changes),
    "events": RecordKind(UserEventIn, "UserEvent", "user_id", "ts", lambda t: t.user_events),
}


@dataclass
class PublishSummary:
    read: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def reject(self, line_no: int, reason: str) -> None:
        self.rejected[reason.split(":", 1)[0]] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"line {line_no}: {reason}")


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as handle:
        for line_no, line in enumerate(handle, 1):
            if line.strip():
                yield line_no, line


class Pacer:
    """Paces records at a fixed rate, or at their recorded timestamps times a speed-up."""

    def __init__(self, rate: float | None = None, speedup: float | None = None) -> None:
        self.rate = rate
        self.speedup = speedup
        self.start = time.monotonic()
        self.count = 0
        self.first_ts: int | None = None

    def wait(self, record_ts_ms: int) -> None:
        if self.rate:
            due = self.start + self.count / self.rate
        elif self.speedup:
            if self.first_ts is None:
                self.first_ts = record_ts_ms
            due = self.start + (record_ts_ms - self.first_ts) / 1000 / self.speedup
        else:
            return
        self.count += 1
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def publish_records(settings: Settings, kind_name: str,
                    lines: Iterable[tuple[int, bytes | dict[str, Any]]], *,
                    rate: float | None = None, speedup: float | None = None,
                    on_progress: Callable[[int], None] | None = None) -> PublishSummary:
    """Validate each JSON line (or already parsed dict) against the contract; produce the valid.

    Invalid lines are counted by reason and never sent. Fails within the connect timeout,
    with ``KafkaUnavailableError``, when the broker does not answer.
    """
    kind = KINDS[kind_name]
    check_kafka(settings)
    topic = kind.topic(Topics(settings))
    summary = PublishSummary()
    pacer = Pacer(rate, speedup)
    started = time.perf_counter()
    producer = RecordProducer(settings, client_id=f"streamrec-publish-{kind_name}")
    try:
        for line_no, line in lines:
            summary.read += 1
            try:
                payload: Any = orjson.loads(line) if isinstance(line, bytes) else line
                record = kind.model.model_validate(payload).to_record()  # type: ignore[attr-defined]
            except orjson.JSONDecodeError as exc:
                summary.reject(line_no, f"invalid JSON: {exc}")
            except ValidationError as exc:
                summary.reject(line_no, describe_errors(exc))
            else:
                pacer.wait(record[kind.time_field])
                producer.send_record(topic, kind.record_type, record[kind.key_field], record)
                summary.sent += 1
            if on_progress is not None:
                on_progress(1)
    finally:
        producer.flush()
        summary.delivered = producer.stats.total_delivered
        summary.failed = producer.stats.total_failed + producer.pending()
        summary.seconds = time.perf_counter() - started
    return summary
