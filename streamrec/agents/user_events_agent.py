"""User-events agent: ``user.events`` (partitioned by user) → validated → de-duplicated
→ each user's recent events in Redis.

(Profiles, co-visitation and candidate refresh join this agent with the user-path work.)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from streamrec.agents.record_validator import RecordValidator
from streamrec.agents.user_event_recorder import UserEventRecorder
from streamrec.agents.validated_stream import run_validated_stream
from streamrec.agents.worker_context import WorkerContext

AGENT = "user-events"


def register_user_events_agent(ctx: WorkerContext) -> None:
    validator = RecordValidator("UserEvent")
    dlq = ctx.dead_letter_router(ctx.topics.user_events)
    recorder: UserEventRecorder | None = None

    async def apply(records: list[dict[str, Any]]) -> dict[str, int]:
        nonlocal recorder
        recorder = recorder or UserEventRecorder(
            ctx.redis, ctx.keys, max_recent=ctx.settings.user_recent_events,
            dedup_ttl_s=ctx.settings.dedup_ttl_s)
        applied = await recorder.record(records)
        return dict(Counter("applied" if a else "duplicate" for a in applied))

    @ctx.app.agent(ctx.raw_topic(ctx.topics.user_events), name=f"{AGENT}-agent")
    async def user_events_agent(stream: Any) -> Any:
        async for _ in run_validated_stream(
            stream, agent=AGENT, validator=validator, dlq=dlq, apply=apply,
            batch_size=ctx.settings.worker_batch_size,
            batch_wait_s=ctx.settings.worker_batch_wait_s,
        ):
            pass
