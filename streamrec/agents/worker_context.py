"""What the agents of one worker process share: settings, topic names, Redis, DLQ sending."""

from __future__ import annotations

from typing import Any

import faust
import redis.asyncio as aioredis

from streamrec.agents.dead_letter_router import DeadLetterRouter, Headers
from streamrec.indexer.catalog_index_replica import CatalogIndexReplica
from streamrec.indexer.index_settings import (
    encoder_config,
    index_config,
    shard_router,
    vector_space,
)
from streamrec.indexer.shard_router import ShardRouter
from streamrec.indexer.text_encoder import TextEncoder, create_text_encoder
from streamrec.redis_client import open_async_redis
from streamrec.redis_keys import RedisKeys
from streamrec.settings import Settings
from streamrec.streams.topics import Topics


class WorkerContext:
    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.topics = Topics(settings)
        self.keys = RedisKeys(settings.redis_key_prefix)
        self._redis: aioredis.Redis | None = None
        self._raw_topics: dict[str, faust.TopicT] = {}
        self._replica: CatalogIndexReplica | None = None

    def raw_topic(self, name: str) -> faust.TopicT:
        """A Faust topic carrying raw bytes (the agents decode Avro themselves)."""
        if name not in self._raw_topics:
            self._raw_topics[name] = self.app.topic(
                name, key_type=bytes, value_type=bytes, key_serializer="raw",
                value_serializer="raw", allow_empty=True,
            )
        return self._raw_topics[name]

    def text_encoder(self) -> TextEncoder:
        """Load the configured encoder (heavy; the catalog agent calls it once, in a thread)."""
        return create_text_encoder(encoder_config(self.settings))

    def shard_router(self) -> ShardRouter:
        return shard_router(self.settings)

    def index_replica(self) -> CatalogIndexReplica:
        """This worker's read replica of the catalog index (item vectors, ANN), started on
        first use; it restores from the newest snapshot, then follows catalog.vectors."""
        if self._replica is None:
            model_id, dim = vector_space(self.settings)
            replica = CatalogIndexReplica(
                bootstrap=self.settings.kafka_bootstrap, topic=self.topics.catalog_vectors,
                snapshot_dir=self.settings.index_snapshot_dir, dim=dim, model_id=model_id,
                router=shard_router(self.settings), config=index_config(self.settings),
                text_indexes=False,
                connect_timeout_s=self.settings.kafka_connect_timeout_s)
            replica.restore()
            replica.start()
            self._replica = replica
        return self._replica

    @property
    def redis(self) -> aioredis.Redis:
        # created lazily, inside the worker's event loop
        if self._redis is None:
            self._redis = open_async_redis(self.settings)
        return self._redis

    async def _send_raw(self, topic: str, key: bytes | None, value: bytes | None,
                        headers: Headers) -> Any:
        return await self.raw_topic(topic).send(key=key, value=value, headers=headers)

    def dead_letter_router(self, source_topic: str) -> DeadLetterRouter:
        return DeadLetterRouter(self.topics.dlq(source_topic), self._send_raw)
