"""``streamrec eval search`` and ``streamrec eval recs`` through the real platform.

Tiny data sets in the Home Depot and Amazon Games file formats are written to tmp_path;
each command starts its own worker(s) and API on the session's Kafka and Redis and
writes report.json and report.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamrec.platform.kafka_server import KafkaServer
from streamrec.platform.redis_server import RedisServer
from tests.conftest import REPO
from tests.data_files import write_csv

pytestmark = pytest.mark.integration

PRODUCTS = {
    "100": "Cordless Hammer Drill Kit",
    "101": "Copper Pipe Elbow Fitting",
    "102": "Garden Hose Reel Cart",
    "103": "Ceramic Floor Tile White",
    "104": "LED Ceiling Light Fixture",
    "105": "Stainless Steel Kitchen Sink",
    "106": "Exterior Latex Paint Gallon",
    "107": "Vinyl Window Blinds",
}
JUDGMENTS = [
    ("cordless hammer drill kit", "100", 3.0),
    ("garden hose reel", "102", 3.0),
    ("garden hose reel", "101", 1.0),
    ("kitchen sink stainless", "105", 2.67),
    ("kitchen sink stainless", "103", 1.33),
]


def _eval(args: list[str], kafka: KafkaServer, redis: RedisServer, timeout: float = 240
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamrec", "eval", *args, "--bootstrap", kafka.bootstrap,
         "--redis-url", redis.url], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_eval_search_and_recs_write_reports_with_sane_metrics(
        tmp_path: Path, kafka_server: KafkaServer, redis_server: RedisServer):
    data = tmp_path / "data"
    write_csv(data / "homedepot" / "products.csv", ["product_uid", "title"],
              list(PRODUCTS.items()))
    write_csv(data / "homedepot" / "judgments_dev.csv", ["query", "product_uid", "relevance"],
              JUDGMENTS)
    # Amazon Games: 12 items in a ring; every user saw two neighbours, then the next one
    write_csv(data / "amazon_games" / "items.csv", ["item_id", "title"],
              [(str(i), f"Game number {i} deluxe edition") for i in range(12)])
    write_csv(data / "amazon_games" / "sequences_dev.csv", ["user_id", "history", "target"],
              [(f"u{u}", f"{u % 12} {(u + 1) % 12}", str((u + 2) % 12)) for u in range(36)])

    search = _eval(["search", "--data-dir", str(data), "--split", "all", "--out",
                    str(tmp_path / "search"), "--latency-sample", "5", "--clients", "0",
                    "--partitions", "2", "--set", "rerank_budget_ms=4"],
                   kafka_server, redis_server)
    assert search.returncode == 0, search.stdout[-3000:] + search.stderr[-3000:]
    report = json.loads((tmp_path / "search" / "report.json").read_text())
    assert (tmp_path / "search" / "report.md").read_text().startswith("# Search quality")
    live, bm25 = report["metrics"]["live_api"], report["metrics"]["bm25_tiered"]
    assert report["details"]["queries"] == 3
    assert report["details"]["split"] == "all"
    # the drill query's only judged product has the query as its title
    assert report["details"]["per_query_ndcg_at_10"]["cordless hammer drill kit"] == 1.0
    assert 0.5 < live["ndcg_at_10"] <= 1.0
    assert live["zero_result_rate"] == 0.0
    assert live["recall_at_100"] == 1.0
    assert live["judged_retrieved_share"] == 1.0
    assert 0.0 <= live["judged_ndcg_at_10"] <= 1.0
    assert live["latency_k100_p95_ms"] > 0
    assert 0.0 <= live["reranked_share"] <= 1.0
    assert sum(v for k, v in live.items() if k.startswith("rung_share_")) == pytest.approx(1.0)
    assert 0.0 < bm25["ndcg_at_10"] <= 1.0
    assert report["overrides"] == {"rerank_budget_ms": "4"}
    assert report["configuration"]["rerank_budget_ms"] == 4.0
    assert report["configuration"]["catalog_batch_size"] == 256
    assert [Path(f["path"]).name for f in report["data"]["files"]] == [
        "products.csv", "judgments_dev.csv"]
    assert report["machine"]["cores"] >= 1 and report["code_version"]

    recs = _eval(["recs", "--data-dir", str(data), "--dataset", "amazon_games",
                  "--eval-users", "6", "--set", "recs_blend=rank",
                  "--out", str(tmp_path / "recs")], kafka_server, redis_server)
    assert recs.returncode == 0, recs.stdout[-3000:] + recs.stderr[-3000:]
    report = json.loads((tmp_path / "recs" / "report.json").read_text())
    assert (tmp_path / "recs" / "report.md").exists()
    metrics = report["metrics"]
    assert set(metrics) == {"live", "popularity", "transitions"}
    assert metrics["live"]["queries"] == 6
    assert metrics["transitions"]["hr@10"] == 1.0  # every pair of the ring was seen
    for row in metrics.values():
        for name in ("hr@10", "ndcg@10", "mrr@10", "coverage"):
            assert 0.0 <= row[name] <= 1.0
    assert 0.0 <= metrics["live"]["fallback_share"] <= 1.0
    assert report["details"]["counts"]["caches_ready"] == 6
    assert report["configuration"]["recs_blend"] == "rank"

    compare = subprocess.run(
        [sys.executable, "-m", "streamrec", "eval", "compare",
         str(tmp_path / "search" / "report.json"), str(tmp_path / "recs" / "report.json")],
        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert compare.returncode == 0
    assert "| recs_blend | (default) | rank |" in compare.stdout
