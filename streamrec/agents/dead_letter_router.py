"""Send a record that failed validation to ``<topic>.dlq``, with headers that say why."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from streamrec.schemas.codec import InvalidRecordError

Headers = list[tuple[str, bytes]]
SendFn = Callable[[str, bytes | None, bytes | None, Headers], Awaitable[Any]]


@dataclass(frozen=True)
class SourcePosition:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


def dead_letter_headers(error: InvalidRecordError, source: SourcePosition,
                        original: Headers | None = None) -> Headers:
    """DLQ headers: the error kind and reason, where the record came from, original headers."""
    headers: Headers = [
        ("dlq.error.kind", error.kind.encode()),
        ("dlq.error.reason", error.reason.encode()[:4000]),
        ("dlq.source.topic", source.topic.encode()),
        ("dlq.source.partition", str(source.partition).encode()),
        ("dlq.source.offset", str(source.offset).encode()),
        ("dlq.failed_at_ms", str(int(time.time() * 1000)).encode()),
    ]
    if source.timestamp_ms is not None:
        headers.append(("dlq.source.timestamp_ms", str(source.timestamp_ms).encode()))
    headers.extend((k, v) for k, v in (original or []) if not k.startswith("dlq."))
    return headers


class DeadLetterRouter:
    """Routes invalid records of one topic to its DLQ through an async ``send`` function."""

    def __init__(self, dlq_topic: str, send: SendFn) -> None:
        self.dlq_topic = dlq_topic
        self._send = send
        self.sent = 0

    async def route(self, key: bytes | None, value: bytes | None, error: InvalidRecordError,
                    source: SourcePosition, original_headers: Headers | None = None) -> Any:
        """Queue the record; returns an awaitable that completes when the DLQ has it."""
        self.sent += 1
        return await self._send(self.dlq_topic, key, value,
                                dead_letter_headers(error, source, original_headers))
