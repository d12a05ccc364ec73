"""Produce validated user events from the async API and await Kafka's acknowledgement."""

from __future__ import annotations

import asyncio
from typing import Any

from confluent_kafka import KafkaError, Message

from streamrec.schemas.codec import codec_for
from streamrec.settings import Settings
from streamrec.streams.producer_poll_thread import ProducerPollThread
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics


class EventPublisher:
    """A RecordProducer served by a poll thread; ``publish`` resolves when Kafka has the records."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = Topics(settings).user_events
        self.codec = codec_for("UserEvent")
        self.producer = RecordProducer(settings, client_id="streamrec-api")
        self._poller = ProducerPollThread(self.producer, "kafka-poll")

    async def publish(self, records: list[dict[str, Any]]) -> list[str | None]:
        """Produce ``records`` (keyed by user); per record None when acknowledged, else why not."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[str | None]] = []
        for record in records:
            future: asyncio.Future[str | None] = loop.create_future()

            def done(err: KafkaError | None, _msg: Message,
                     future: asyncio.Future[str | None] = future) -> None:
                result = None if err is None else err.str()
                loop.call_soon_threadsafe(_settle, future, result)

            self.producer.send(self.topic, record["user_id"].encode(), self.codec.encode(
                record, check=False), on_delivery=done)
            futures.append(future)
        # asyncio.wait leaves unfinished futures alone (wait_for would cancel them)
        await asyncio.wait(futures, timeout=self.settings.api_publish_timeout_s)
        return [f.result() if f.done() else "Kafka did not acknowledge in time" for f in futures]

    def close(self) -> None:
        self._poller.close()


def _settle(future: asyncio.Future[str | None], result: str | None) -> None:
    if not future.done():
        future.set_result(result)
