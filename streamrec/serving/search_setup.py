"""Open the index replica and the search service (called from the app's lifespan)."""

from __future__ import annotations

import asyncio
import threading

import redis
import redis.asyncio as aioredis

from streamrec.indexer.catalog_index_replica import CatalogIndexReplica
from streamrec.indexer.index_settings import encoder_config, index_config, shard_router
from streamrec.indexer.text_encoder import create_text_encoder
from streamrec.redis_keys import RedisKeys
from streamrec.rerank.rerank_depth_budget import RerankBudgetConfig
from streamrec.rerank.rerank_stage_loader import load_rerank_stage
from streamrec.rerank.search_rerank_stage import SearchRerankStage
from streamrec.rewrite.cascade_factory import build_rewrite_cascade
from streamrec.serving.search.catalog_search import CatalogSearch
from streamrec.serving.search.popular_items_source import PopularItemsSource
from streamrec.serving.search.query_embedder import QueryEmbedder
from streamrec.serving.search.search_rewrite_stage import SearchRewriteStage
from streamrec.settings import Settings
from streamrec.streams.topics import Topics


async def open_search(settings: Settings, redis_async: aioredis.Redis
                      ) -> tuple[CatalogIndexReplica, CatalogSearch]:
    encoder = await asyncio.to_thread(create_text_encoder, encoder_config(settings))
    replica = CatalogIndexReplica(
        bootstrap=settings.kafka_bootstrap, topic=Topics(settings).catalog_vectors,
        snapshot_dir=settings.index_snapshot_dir, dim=encoder.dim, model_id=encoder.model_id,
        router=shard_router(settings), config=index_config(settings),
        lexical_refresh_s=settings.lexical_refresh_s,
        snapshot_interval_s=settings.index_snapshot_interval_s,
        connect_timeout_s=settings.kafka_connect_timeout_s)
    await asyncio.to_thread(replica.restore)
    rerank = await asyncio.to_thread(
        load_rerank_stage, settings.rerank_model_path,
        RerankBudgetConfig(budget_ms=settings.rerank_budget_ms,
                           max_depth=settings.rerank_max_depth,
                           min_depth=settings.rerank_min_depth), settings.rerank_threads)
    prepare_rerank_titles(replica, rerank)
    replica.start()
    keys = RedisKeys(settings.redis_key_prefix)
    popular = PopularItemsSource(redis.Redis.from_url(settings.redis_url), keys, replica)
    embedder = QueryEmbedder(encoder, batch_max=settings.search_embed_batch_max,
                             prefetch=settings.search_embed_prefetch)
    search = CatalogSearch(replica, embedder, popular, redis_async, keys, rerank=rerank,
                           threads=settings.api_search_threads)
    if settings.rewrite_enabled:
        search.rewrite_stage = rewrite_stage(settings, redis_async, replica)
    return replica, search


def prepare_rerank_titles(replica: CatalogIndexReplica, rerank: SearchRerankStage) -> None:
    """Have the reranker analyse titles as products reach the replica, and the restored
    snapshot's titles in the background, not on the first requests that rank them.
    Call before ``replica.start()``: nothing mutates the index yet."""
    if not rerank.enabled:
        return

    def on_applied(skus: list[str]) -> None:
        rerank.prepare_titles((replica.index.metadata(sku) or {}).get("title") for sku in skus)

    replica.listeners.append(on_applied)
    restored = [meta.get("title") for meta in replica.index.all_metadata().values()]
    if restored:
        threading.Thread(target=rerank.prepare_titles, args=(restored,),
                         name="rerank-title-warmup", daemon=True).start()


def rewrite_stage(settings: Settings, redis_async: aioredis.Redis, replica: CatalogIndexReplica
                  ) -> SearchRewriteStage:
    """The query-rewrite cascade over this replica's speller and lexical index."""
    def correct(text: str) -> str | None:
        fix = replica.speller.correct(text)
        return fix.corrected if fix.changed else None

    cascade = build_rewrite_cascade(settings, redis_async, correct, replica.speller.is_known)
    return SearchRewriteStage(cascade, lambda: replica.lexical)
