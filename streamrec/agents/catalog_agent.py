"""Catalog agent: ``catalog.changes`` → validated → item documents in Redis.

(The embedding and ``catalog.vectors`` stages join this agent with the index work.)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from streamrec.agents.catalog_document_writer import CatalogDocumentWriter
from streamrec.agents.record_validator import RecordValidator
from streamrec.agents.validated_stream import run_validated_stream
from streamrec.agents.worker_context import WorkerContext

AGENT = "catalog"
OUTCOMES = {0: "stale", 1: "applied", 2: "applied"}


def register_catalog_agent(ctx: WorkerContext) -> None:
    validator = RecordValidator("CatalogChange")
    dlq = ctx.dead_letter_router(ctx.topics.catalog_changes)
    writer: CatalogDocumentWriter | None = None

    async def apply(records: list[dict[str, Any]]) -> dict[str, int]:
        nonlocal writer
        writer = writer or CatalogDocumentWriter(ctx.redis, ctx.keys)
        return dict(Counter(OUTCOMES[r] for r in await writer.apply(records)))

    @ctx.app.agent(ctx.raw_topic(ctx.topics.catalog_changes), name=f"{AGENT}-agent")
    async def catalog_agent(stream: Any) -> Any:
        async for _ in run_validated_stream(
            stream, agent=AGENT, validator=validator, dlq=dlq, apply=apply,
            batch_size=ctx.settings.worker_batch_size,
            batch_wait_s=ctx.settings.worker_batch_wait_s,
        ):
            pass
