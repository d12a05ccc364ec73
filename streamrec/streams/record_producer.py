"""The producer for catalog publishers and clickstream producers (confluent-kafka).

Idempotent, ``acks=all``, batched (linger + batch size), with delivery reports
counted per topic. A full local queue is back-pressure, not an error: ``send``
serves delivery reports until there is room again. ``close`` flushes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streamrec.schemas.codec import codec_for
from streamrec.settings import Settings

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[KafkaError | None, Message], None]


@dataclass
class DeliveryStats:
    delivered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def total_delivered(self) -> int:
        return sum(self.delivered.values())

    @property
    def total_failed(self) -> int:
        return sum(self.failed.values())


class RecordProducer:
    """A confluent-kafka producer with delivery accounting and back-pressure."""

    def __init__(self, settings: Settings, *, client_id: str = "streamrec-producer",
                 extra_config: dict[str, Any] | None = None) -> None:
        self.settings = settings
        config = {
            "bootstrap.servers": settings.kafka_bootstrap,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": settings.producer_linger_ms,
            "batch.size": settings.producer_batch_bytes,
            "compression.type": "lz4",
            # murmur2, as the Java client and aiokafka (Faust) hash keys: a user's events and
            # the Faust changelog of that user's state land in the same partition number
            "partitioner": "murmur2_random",
            "queue.buffering.max.messages": settings.producer_queue_max_messages,
            "delivery.timeout.ms": settings.producer_delivery_timeout_ms,
            "socket.connection.setup.timeout.ms": int(settings.kafka_connect_timeout_s * 1000),
            "log_level": 0,  # client errors go through error_cb, once each
            "error_cb": self._on_client_error,
        }
        config.update(extra_config or {})
        self.stats = DeliveryStats()
        self._lock = threading.Lock()
        self._client_errors: set[int] = set()
        self._producer = Producer(config)

    def _on_client_error(self, err: KafkaError) -> None:
        # librdkafka retries connections by itself; log each kind of error once per outage
        with self._lock:
            if err.code() not in self._client_errors:
                self._client_errors.add(err.code())
                log.warning("Kafka client: %s", err.str())

    def _record_delivery(self, err: KafkaError | None, msg: Message) -> None:
        topic = msg.topic() or "?"
        with self._lock:
            if err is None:
                self.stats.delivered[topic] += 1
                self._client_errors.clear()
            else:
                self.stats.failed[topic] += 1
                if len(self.stats.errors) < 100:
                    self.stats.errors.append(f"{topic}: {err.str()}")

    def send(self, topic: str, key: bytes | str | None, value: bytes | None, *,
             headers: list[tuple[str, bytes]] | None = None,
             on_delivery: DeliveryCallback | None = None) -> None:
        """Queue one record; blocks (serving delivery reports) while the local queue is full."""

        def report(err: KafkaError | None, msg: Message) -> None:
            self._record_delivery(err, msg)
            if on_delivery is not None:
                on_delivery(err, msg)

        deadline = time.monotonic() + self.settings.producer_delivery_timeout_ms / 1000
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers,
                                       on_delivery=report)
                break
            except BufferError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        "producer queue stayed full for "
                        f"{self.settings.producer_delivery_timeout_ms} ms; "
                        f"is Kafka at {self.settings.kafka_bootstrap} reachable?"
                    ) from None
                self._producer.poll(0.05)
        self._producer.poll(0)

    def try_send(self, topic: str, key: bytes | None, value: bytes | None) -> bool:
        """Queue one record without ever blocking; False when the local queue is full
        (for side effects such as impression logs that must not slow a request)."""
        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=self._record_delivery)
        except BufferError:
            return False
        return True

    def send_record(self, topic: str, record_type: str, key: str, record: dict[str, Any],
                    **kwargs: Any) -> None:
        """Encode ``record`` with the contract's Avro codec and queue it."""
        self.send(topic, key.encode(), codec_for(record_type).encode(record), **kwargs)

    def poll(self, timeout: float = 0) -> int:
        return self._producer.poll(timeout)

    def pending(self) -> int:
        return len(self._producer)

    def flush(self, timeout: float | None = None) -> int:
        """Wait for outstanding deliveries; returns how many are still pending."""
        timeout = self.settings.producer_delivery_timeout_ms / 1000 if timeout is None else timeout
        return self._producer.flush(timeout)

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> RecordProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
