"""Catalog agent: ``catalog.changes`` → validated → item documents in Redis → embedded
(only when the text changed) → ``ItemVector`` records on the compacted ``catalog.vectors``
(a tombstone for a delete). A stale or redelivered change is applied nowhere.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from streamrec.agents.catalog_document_writer import CatalogDocumentWriter
from streamrec.agents.catalog_embedder import CatalogEmbedder
from streamrec.agents.record_validator import RecordValidator
from streamrec.agents.validated_stream import run_validated_stream
from streamrec.agents.worker_context import WorkerContext
from streamrec.agents.worker_metrics import EMBEDDINGS
from streamrec.schemas.codec import codec_for

AGENT = "catalog"
OUTCOMES = {0: "stale", 1: "applied", 2: "applied"}


def register_catalog_agent(ctx: WorkerContext) -> None:
    validator = RecordValidator("CatalogChange")
    dlq = ctx.dead_letter_router(ctx.topics.catalog_changes)
    vector_codec = codec_for("ItemVector")
    vectors_topic = ctx.raw_topic(ctx.topics.catalog_vectors)
    writer: CatalogDocumentWriter | None = None
    embedder: CatalogEmbedder | None = None

    async def apply(records: list[dict[str, Any]], _events: list[Any]) -> dict[str, int]:
        nonlocal writer, embedder
        writer = writer or CatalogDocumentWriter(ctx.redis, ctx.keys)
        embedder = embedder or CatalogEmbedder(ctx.text_encoder, ctx.redis, ctx.keys,
                                               ctx.shard_router())
        results = await writer.apply(records)
        applied = [r for r, result in zip(records, results, strict=True) if result]
        if applied:
            outcome = await embedder.vectors_for(applied)
            EMBEDDINGS.labels("embedded").inc(outcome.embedded)
            EMBEDDINGS.labels("reused").inc(outcome.reused)
            pending = []
            for sku, vector in outcome.vectors:
                value = None if vector is None else vector_codec.encode(vector, check=False)
                pending.append(await vectors_topic.send(key=sku.encode(), value=value))
            await asyncio.gather(*pending)  # delivered before the batch's offsets commit
        return dict(Counter(OUTCOMES[r] for r in results))

    @ctx.app.agent(ctx.raw_topic(ctx.topics.catalog_changes), name=f"{AGENT}-agent")
    async def catalog_agent(stream: Any) -> Any:
        async for _ in run_validated_stream(
            stream, agent=AGENT, validator=validator, dlq=dlq, apply=apply,
            batch_size=ctx.settings.catalog_batch_size,
            batch_wait_s=ctx.settings.worker_batch_wait_s,
        ):
            pass
