"""``POST /v1/events``: a batch of user events, each validated; valid ones go to ``user.events``."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from streamrec.schemas.records import UserEventIn, describe_errors
from streamrec.serving.api_state import ApiState, api_state
from streamrec.serving.http_metrics import EVENTS

router = APIRouter(prefix="/v1", tags=["events"])


def _event_list(payload: Any) -> list[Any] | None:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        return payload["events"]
    return None


@router.post("/events")
async def post_events(request: Request, state: ApiState = Depends(api_state)) -> JSONResponse:
    """Body: a JSON array of events, or ``{"events": [...]}``.

    200 with ``accepted`` and the ``rejected`` ones (index, event_id, reason) when at least one
    event was accepted; 400 when none was valid; 413 over the size limits; 503 when Kafka did
    not acknowledge (``accepted`` then counts only those it did).
    """
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return JSONResponse({"detail": f"body is not valid JSON: {exc}"}, status_code=400)
    items = _event_list(payload)
    if items is None:
        return JSONResponse(
            {"detail": 'body must be a JSON array of events or {"events": [...]}'},
            status_code=400)
    limit = state.settings.api_max_events_per_request
    if len(items) > limit:
        return JSONResponse({"detail": f"{len(items)} events in one request; the limit is {limit}"},
                            status_code=413)

    valid: list[tuple[int, dict[str, Any]]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        event_id = item.get("event_id") if isinstance(item, dict) else None
        if not isinstance(item, dict):
            rejected.append({"index": index, "event_id": None,
                             "reason": "an event must be a JSON object"})
            continue
        try:
            valid.append((index, UserEventIn.model_validate(item).to_record()))
        except ValidationError as exc:
            rejected.append({"index": index, "event_id": event_id,
                             "reason": describe_errors(exc)})

    failures = await state.publisher.publish([record for _, record in valid]) if valid else []
    not_acked = [
        {"index": index, "event_id": record["event_id"], "reason": f"not stored: {error}"}
        for (index, record), error in zip(valid, failures, strict=True) if error is not None
    ]
    accepted = len(valid) - len(not_acked)
    EVENTS.labels("accepted").inc(accepted)
    EVENTS.labels("rejected").inc(len(rejected))
    EVENTS.labels("not_acknowledged").inc(len(not_acked))
    body = {"accepted": accepted, "rejected": rejected + not_acked}
    if not_acked:
        return JSONResponse(body, status_code=503)
    return JSONResponse(body, status_code=200 if accepted else 400)
