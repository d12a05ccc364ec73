"""The loop every input agent shares: micro-batch, validate, dead-letter, apply, retry.

A record that fails validation goes to the DLQ (awaited before the batch is done, so
its offset is never committed before the DLQ has it) and the rest of the batch goes on.
A failure of the downstream store is retried with backoff: the partition waits, nothing
is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from typing import Any

from streamrec.agents.dead_letter_router import DeadLetterRouter, Headers, SourcePosition
from streamrec.agents.record_validator import RecordValidator
from streamrec.agents.worker_metrics import BATCH_SECONDS, RECORD_AGE, RECORDS, RETRIES
from streamrec.schemas.codec import InvalidRecordError

log = logging.getLogger(__name__)

ApplyFn = Callable[[list[dict[str, Any]], list[Any]], Awaitable[dict[str, int]]]
"""(valid records, their Faust events in the same order) -> outcome counts."""


def _headers(raw: Any) -> Headers:
    if not raw:
        return []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items]


async def split_valid(events: Sequence[Any], validator: RecordValidator,
                      dlq: DeadLetterRouter, agent: str
                      ) -> tuple[list[dict[str, Any]], list[Any]]:
    """Valid records of a batch and their events, in order; the others sent to the DLQ
    (and awaited)."""
    valid: list[dict[str, Any]] = []
    valid_events: list[Any] = []
    pending: list[Awaitable[Any]] = []
    for event in events:
        message = event.message
        try:
            valid.append(validator.validate(message.value))
            valid_events.append(event)
        except InvalidRecordError as error:
            timestamp = getattr(message, "timestamp", None)
            source = SourcePosition(message.topic, message.partition, message.offset,
                                    int(timestamp * 1000) if timestamp else None)
            pending.append(await dlq.route(message.key, message.value, error, source,
                                           _headers(getattr(message, "headers", None))))
            log.warning("%s: %s@%d offset %d to DLQ: %s", agent, message.topic,
                        message.partition, message.offset, error.reason)
    if pending:
        await asyncio.gather(*pending)
        RECORDS.labels(agent, "dead_lettered").inc(len(pending))
    return valid, valid_events


async def run_validated_stream(stream: Any, *, agent: str, validator: RecordValidator,
                               dlq: DeadLetterRouter, apply: ApplyFn, batch_size: int,
                               batch_wait_s: float, max_backoff_s: float = 5.0,
                               ) -> AsyncIterable[int]:
    """Consume ``stream`` in micro-batches; yields the size of each finished batch."""
    async for events in stream.take_events(batch_size, within=batch_wait_s):
        started = time.perf_counter()
        oldest = _oldest_timestamp(events)
        if oldest is not None:
            RECORD_AGE.labels(agent, "picked").observe(max(0.0, time.time() - oldest))
        records, record_events = await split_valid(events, validator, dlq, agent)
        backoff = 0.1
        while True:
            try:
                outcomes = await apply(records, record_events)
                break
            except Exception:  # a store outage must not skip records: retry the same batch
                RETRIES.labels(agent).inc()
                log.exception("%s: applying a batch of %d failed; retrying in %.1fs",
                              agent, len(records), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff_s)
        for outcome, count in outcomes.items():
            RECORDS.labels(agent, outcome).inc(count)
        BATCH_SECONDS.labels(agent).observe(time.perf_counter() - started)
        if oldest is not None:
            RECORD_AGE.labels(agent, "applied").observe(max(0.0, time.time() - oldest))
        yield len(events)


def _oldest_timestamp(events: Sequence[Any]) -> float | None:
    """The earliest Kafka timestamp (seconds) of a batch's messages, if they carry one."""
    stamps = [t for t in (getattr(e.message, "timestamp", None) for e in events) if t]
    return min(stamps) if stamps else None
