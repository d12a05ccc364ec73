"""The closed loop inside ``streamrec eval recs --loop-users N``: log, click, learn, reload.

1. Logging pass: each logging user (held out like the evaluation users, disjoint from
   them) is served ``k`` (deeper than the evaluated 10, so positives exist) by the API
   with the default scorer; every answer is an impression in ``recs.impressions``. When
   the user's held-out target is among the shown items, the user clicks it: a CLICK
   event to ``user.events`` carrying the response's ``request_id`` in ``context``.
2. Training: exactly what ``streamrec train reranker --from impressions`` runs, reading
   both topics through Kafka.
3. The API restarts with the model (``STREAMREC_RECS_RERANK_MODEL_PATH``) and the
   variant ``learned``; the evaluation users are then asked again.

Nothing here looks at the evaluation users: training sees only the logging users' data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from streamrec.recs.impression_training_run import train_from_impressions
from streamrec.settings import Settings
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topic_range_reader import TopicRangeReader
from streamrec.streams.topics import Topics

Advance = Callable[[int], None]
LEARNED_VARIANT = "learned"
CLICK_STEP_MS = 1_000
"""The click follows the user's last history event by one step of the data's clock."""


class Recommender(Protocol):
    def recommend(self, user: str, k: int) -> tuple[dict[str, Any], float]: ...


@dataclass
class LoggingCase:
    user_id: str
    target: str
    last_ts: int
    """Timestamp of the user's last streamed event."""


def logging_pass(api: Recommender, producer: RecordProducer, topic: str,
                 cases: list[LoggingCase], k: int, advance: Advance | None = None
                 ) -> dict[str, Any]:
    """Serve every logging user ``k`` items; click the target where it was shown."""
    clicks = 0
    positions: list[int] = []
    for case in cases:
        body, _ = api.recommend(case.user_id, k)
        skus = [item["sku"] for item in body["items"]]
        if case.target in skus:
            clicks += 1
            positions.append(skus.index(case.target))
            producer.send_record(topic, "UserEvent", case.user_id, {
                "event_id": f"loop-click-{body['request_id']}", "user_id": case.user_id,
                "session_id": None, "type": "CLICK", "sku": case.target, "query": None,
                "ts": case.last_ts + CLICK_STEP_MS,
                "context": {"request_id": body["request_id"], "source": "eval-loop"}})
        if advance is not None:
            advance(1)
    producer.flush()
    return {"users": len(cases), "k": k, "clicks": clicks,
            f"target_shown_share@{k}": round(clicks / max(len(cases), 1), 4),
            "click_position_mean": round(sum(positions) / len(positions), 1)
            if positions else None}


def wait_for_impressions(settings: Settings, expected: int, timeout_s: float = 60.0) -> int:
    """Wait until ``recs.impressions`` holds ``expected`` records (the API queues them
    without waiting for Kafka, so the last ones may still be in flight)."""
    reader = TopicRangeReader(settings)
    topic = Topics(settings).impressions
    deadline = time.monotonic() + timeout_s
    while (logged := reader.range(topic).records) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{topic}: {logged} of {expected} impressions arrived")
        time.sleep(0.5)
    return logged


def train_model(settings: Settings, model_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    run = train_from_impressions(settings, model_path)
    return {"model_path": str(run.model_path), "train_s": round(time.perf_counter() - started, 1),
            **run.metrics}


def learned_env(model_path: Path) -> dict[str, str]:
    return {"STREAMREC_RECS_RERANK_MODEL_PATH": str(model_path),
            "STREAMREC_RECS_VARIANT": LEARNED_VARIANT}
