"""Read a topic from its beginning up to the end offsets seen at the start, then stop.

For batch jobs over a log (training from impressions): a fresh consumer group and
explicit assignment, so no committed offset of anyone else moves and the job ends even
while producers keep writing. Records that do not decode are counted, not fatal.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streamrec.schemas.codec import InvalidRecordError, codec_for
from streamrec.settings import Settings

Advance = Callable[[int], None]


@dataclass
class TopicRange:
    topic: str
    start: dict[int, int] = field(default_factory=dict)
    end: dict[int, int] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(self.end[p] - self.start[p] for p in self.end)


class TopicRangeReader:
    def __init__(self, settings: Settings, timeout_s: float = 300.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.undecodable = 0

    def _consumer(self) -> Any:
        from confluent_kafka import Consumer

        return Consumer({
            "bootstrap.servers": self.settings.kafka_bootstrap,
            "group.id": f"{self.settings.topic_prefix}range-reader-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False, "enable.partition.eof": False, "log_level": 3,
            "socket.timeout.ms": int(self.settings.kafka_connect_timeout_s * 1000)})

    def range(self, topic: str) -> TopicRange:
        """The offsets a ``read`` of ``topic`` would cover now."""
        from confluent_kafka import TopicPartition

        consumer = self._consumer()
        try:
            return self._range(consumer, topic, TopicPartition)
        finally:
            consumer.close()

    def _range(self, consumer: Any, topic: str, partition_cls: Any) -> TopicRange:
        timeout = self.settings.kafka_connect_timeout_s
        try:
            meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        except Exception as exc:  # KafkaException: broker unreachable
            raise ConnectionError(f"Kafka at {self.settings.kafka_bootstrap}: {exc}") from exc
        if meta is None or meta.error is not None or not meta.partitions:
            raise LookupError(f"topic {topic} not found at {self.settings.kafka_bootstrap}")
        out = TopicRange(topic)
        for p in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(partition_cls(topic, p), timeout=timeout)
            out.start[p], out.end[p] = low, high
        return out

    def read(self, topic: str, record_type: str, advance: Advance | None = None
             ) -> Iterator[dict[str, Any]]:
        """Decoded records of ``topic`` up to the end offsets taken when this starts."""
        from confluent_kafka import TopicPartition

        codec = codec_for(record_type)
        consumer = self._consumer()
        try:
            span = self._range(consumer, topic, TopicPartition)
            position = dict(span.start)
            pending = {p for p in span.end if span.end[p] > span.start[p]}
            consumer.assign([TopicPartition(topic, p, span.start[p]) for p in pending])
            deadline = time.monotonic() + self.timeout_s
            while pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {topic}: at {position}, end {span.end}")
                batch = consumer.consume(num_messages=2000, timeout=1.0)
                read = 0
                for message in batch:
                    p = message.partition()
                    if message.error() is not None or p not in pending:
                        continue
                    if message.offset() >= span.end[p]:  # written after we started
                        pending.discard(p)
                        continue
                    position[p] = message.offset() + 1
                    if position[p] >= span.end[p]:
                        pending.discard(p)
                    read += 1
                    try:
                        yield codec.decode(message.value())
                    except InvalidRecordError:
                        self.undecodable += 1
                if advance is not None and read:
                    advance(read)
        finally:
            consumer.close()
