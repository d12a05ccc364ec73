"""``streamrec train reranker --from impressions`` on a real broker.

Impressions are logged the way the API logs them (``ImpressionLogger``, features and
feature names included); clicks go to ``user.events``, half naming the response's
request id, half attributed by user and sku within the window. The CLI reads both
topics through Kafka, trains and writes a model the API can load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import numpy as np
import pytest

from streamrec.recs.feature_reranker import FEATURE_NAMES
from streamrec.recs.lightgbm_item_scorer import LightGbmItemScorer
from streamrec.serving.impression_logger import ImpressionLogger
from streamrec.settings import Settings
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics

pytestmark = pytest.mark.integration

POPULARITY = FEATURE_NAMES.index("popularity")
Cli = Callable[..., CompletedProcess[str]]


def train(run_cli: Cli, output: Path) -> CompletedProcess[str]:
    return run_cli("train", "reranker", "--from", "impressions", "--output", str(output),
                   "--window-s", "60", timeout=120)


def test_impressions_and_clicks_through_kafka_train_a_servable_model(
        settings: Settings, topics: dict[str, str], run_cli: Cli, tmp_path: Path):
    output = tmp_path / "recs-model.json"
    empty = train(run_cli, output)
    assert empty.returncode == 1 and "no impressions" in empty.stdout, empty.stdout

    names = Topics(settings)
    rng = np.random.default_rng(11)
    with RecordProducer(settings, client_id="test-impressions") as producer:
        logger = ImpressionLogger(producer, names.impressions, "default")
        shown = []
        for i in range(40):
            features = rng.random((8, len(FEATURE_NAMES))).astype(np.float32)
            items = [{"sku": f"sku-{i}-{j}", "score": float(8 - j), "source": "x"}
                     for j in range(8)]
            request_id = logger.log(f"user-{i}", "recommendations", items,
                                    features.tolist(), FEATURE_NAMES)
            shown.append((request_id, items, features))
        producer.flush()
        no_clicks = train(run_cli, output)
        assert no_clicks.returncode == 1, no_clicks.stdout
        assert "none has a CLICK" in no_clicks.stdout.replace("\n", " ")

        now = int(time.time() * 1000)
        for i, (request_id, items, features) in enumerate(shown):
            sku = items[int(np.argmax(features[:, POPULARITY]))]["sku"]
            kind = "PURCHASE" if i % 5 == 0 else "CLICK"
            context = {"request_id": request_id} if i % 2 == 0 else {}
            producer.send_record(names.user_events, "UserEvent", f"user-{i}", {
                "event_id": f"e{i}", "user_id": f"user-{i}", "session_id": None,
                "type": kind, "sku": sku, "query": None, "ts": now + 1_000,
                "context": context})
        producer.flush()

    done = train(run_cli, output)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model written to" in done.stdout
    scorer = LightGbmItemScorer.load(output)
    metrics = scorer.model.metrics  # type: ignore[union-attr]
    assert metrics["groups"] == 40 and metrics["rows"] == 320 and metrics["positives"] == 40
    assert metrics["join"]["attributed"] == {"request_id": 20, "window": 20}
    assert metrics["join"]["positives"] == {"CLICK": 32, "PURCHASE": 8}
    assert metrics["validation_groups"] + metrics["train_groups"] == 40
    assert scorer.score(np.zeros((3, len(FEATURE_NAMES)), np.float32)).shape == (3,)
