"""Log what a response showed to ``recs.impressions``, without ever delaying the response."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter

from streamrec.schemas.codec import codec_for
from streamrec.streams.record_producer import RecordProducer

IMPRESSIONS = Counter("streamrec_impressions_total", "Impression records queued or dropped",
                      ["outcome"])


class ImpressionLogger:
    def __init__(self, producer: RecordProducer, topic: str, variant: str) -> None:
        self.producer = producer
        self.topic = topic
        self.variant = variant
        self.codec = codec_for("Impression")

    def log(self, user_id: str, surface: str, items: Sequence[dict[str, Any]],
            features: Sequence[Sequence[float] | None] | None = None,
            feature_names: Sequence[str] = ()) -> str:
        """Queue one Impression (positions from 0); returns its request id.

        ``features[i]`` (the rerank stage's inputs of ``items[i]``, ``feature_names``
        order) is what ``streamrec train reranker --from impressions`` learns from: about
        50 bytes per item, encoded without validation like the rest of the record."""
        request_id = uuid.uuid4().hex
        rows = features if features is not None else [None] * len(items)
        record = {
            "request_id": request_id, "user_id": user_id, "variant": self.variant,
            "surface": surface, "ts": int(time.time() * 1000),
            "items": [{"sku": item["sku"], "position": position, "score": item.get("score"),
                       "source": item.get("source"),
                       "features": list(row) if row is not None else None}
                      for position, (item, row) in enumerate(zip(items, rows, strict=True))],
            "feature_names": list(feature_names),
        }
        queued = self.producer.try_send(self.topic, user_id.encode(),
                                        self.codec.encode(record, check=False))
        IMPRESSIONS.labels("queued" if queued else "dropped").inc()
        return request_id
