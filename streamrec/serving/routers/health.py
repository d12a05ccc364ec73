"""Liveness, readiness (Kafka and Redis reachable) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from streamrec.serving.api_state import ApiState, api_state
from streamrec.serving.metrics_exposition import metrics_payload
from streamrec.streams.admin import check_kafka
from streamrec.streams.errors import KafkaUnavailableError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: ApiState = Depends(api_state)) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await asyncio.to_thread(check_kafka, state.settings, state.admin)
        checks["kafka"] = "ok"
    except KafkaUnavailableError as exc:
        checks["kafka"] = str(exc)
    try:
        await asyncio.wait_for(state.redis.ping(), state.settings.kafka_connect_timeout_s)
        checks["redis"] = "ok"
    except Exception as exc:  # any failure means not ready; the message says which
        checks["redis"] = f"unreachable: {exc!r}"
    checks["index"] = "ok" if state.replica.caught_up else "catching up on catalog.vectors"
    ready = all(v == "ok" for v in checks.values())
    # ``process``: each API process has its own index replica, so a loader behind several
    # processes (uvicorn --workers) tells their answers apart by it
    return JSONResponse({"ready": ready, "checks": checks, "index": state.replica.stats(),
                         "process": os.getpid()}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(metrics_payload(), media_type=CONTENT_TYPE_LATEST)
