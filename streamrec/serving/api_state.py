"""What the HTTP app opens in its lifespan and its routes share (via ``request.app.state``)."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from confluent_kafka.admin import AdminClient
from fastapi import Request

from streamrec.indexer.catalog_index_replica import CatalogIndexReplica
from streamrec.recs.recommendation_pipeline import RecommendationPipeline
from streamrec.serving.event_publisher import EventPublisher
from streamrec.serving.impression_logger import ImpressionLogger
from streamrec.serving.refresh_requests import RefreshRequester
from streamrec.serving.search.catalog_search import CatalogSearch
from streamrec.settings import Settings


@dataclass
class ApiState:
    settings: Settings
    redis: aioredis.Redis
    publisher: EventPublisher
    admin: AdminClient
    replica: CatalogIndexReplica
    search: CatalogSearch
    recommender: RecommendationPipeline
    impressions: ImpressionLogger
    refresh_requester: RefreshRequester


async def api_state(request: Request) -> ApiState:
    # async: FastAPI runs a plain-def dependency in its thread pool, a thread hand-off per
    # request for a dictionary lookup
    return request.app.state.streamrec
