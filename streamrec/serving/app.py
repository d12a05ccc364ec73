"""The FastAPI app: only builds it. Pools and clients open in the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from streamrec.recs.recs_components import build_recs
from streamrec.redis_client import open_async_redis
from streamrec.redis_keys import RedisKeys
from streamrec.serving.api_state import ApiState
from streamrec.serving.body_size_limit import BodySizeLimitMiddleware
from streamrec.serving.event_publisher import EventPublisher
from streamrec.serving.http_metrics import HttpMetricsMiddleware
from streamrec.serving.impression_logger import ImpressionLogger
from streamrec.serving.refresh_requests import RefreshRequester
from streamrec.serving.routers import events, health, recommendations, search
from streamrec.serving.search.search_log_follower import SearchLogFollower
from streamrec.serving.search_setup import open_search
from streamrec.settings import Settings, load_settings
from streamrec.streams.admin import admin_client
from streamrec.streams.producer_poll_thread import ProducerPollThread
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = open_async_redis(settings)
        publisher = EventPublisher(settings)
        replica, search = await open_search(settings, redis)
        recs = build_recs(settings, redis, replica)
        keys = RedisKeys(settings.redis_key_prefix)
        search_logs = search.rerank.search_logs()
        follower = (SearchLogFollower(redis, keys.search_log(), search_logs)
                    if search_logs else None)
        following = (asyncio.create_task(follower.run(), name="search-log-follower")
                     if follower is not None else None)
        # impressions get their own producer that reports failed deliveries only: no Python
        # delivery callback (and GIL hand-off) per logged response
        impression_poller = ProducerPollThread(RecordProducer(
            settings, client_id="streamrec-api-impressions",
            extra_config={"delivery.report.only.error": True}), "kafka-poll-impressions")
        app.state.streamrec = ApiState(
            settings, redis, publisher, admin_client(settings), replica, search,
            recommender=recs.pipeline(redis),
            impressions=ImpressionLogger(impression_poller.producer, Topics(settings).impressions,
                                         settings.recs_variant),
            refresh_requester=RefreshRequester(redis, keys, settings.topic_partitions))
        try:
            yield
        finally:
            if follower is not None and following is not None:
                follower.stop()
                await asyncio.wait({following}, timeout=5)
            replica.stop()
            search.close()
            if search.rewrite_stage is not None:  # the LLM tiers' HTTP clients
                await search.rewrite_stage.cascade.aclose()
            publisher.close()
            impression_poller.close()
            await redis.aclose()

    app = FastAPI(title="streamrec", version="0.1.0", lifespan=lifespan)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api_max_body_bytes)

    app.add_middleware(HttpMetricsMiddleware)  # outermost: times the whole request
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(search.router)
    app.include_router(recommendations.router)
    return app
