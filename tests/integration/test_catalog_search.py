"""The catalog path end to end: publish → worker embeds → catalog.vectors → API replica
→ /v1/search and /v1/items/{sku}/similar; updates, deletes, category moves, restarts."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
import redis

from streamrec.indexer.index_snapshot import read_manifest
from streamrec.platform.processes import free_port
from streamrec.redis_keys import RedisKeys
from streamrec.settings import Settings
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics
from tests.integration.kafka_helpers import read_topic, wait_for

pytestmark = pytest.mark.integration

BASE_TS = 1_764_000_000_000
PRODUCTS = [
    ("tent-1", "Alpine Dome Tent for Two Hikers", ["Outdoor", "Camping", "Tents"], "Peakline"),
    ("tent-2", "Family Cabin Tent with Screened Porch", ["Outdoor", "Camping", "Tents"], "Campo"),
    ("bag-1", "Mummy Sleeping Bag Rated to Minus Ten", ["Outdoor", "Camping", "Sleeping"],
     "Peakline"),
    ("stove-1", "Compact Backpacking Gas Stove", ["Outdoor", "Camping", "Cooking"], "Flamo"),
    ("kayak-1", "Inflatable Whitewater Kayak", ["Outdoor", "Water Sports"], "Rapido"),
    ("drill-1", "Cordless Hammer Drill 20V with Two Batteries", ["Tools", "Power Tools"], "Boltx"),
    ("saw-1", "Circular Saw with Laser Guide", ["Tools", "Power Tools"], "Boltx"),
    ("wrench-1", "Adjustable Chrome Vanadium Wrench Set", ["Tools", "Hand Tools"], "Grip"),
    ("hammer-1", "Fiberglass Claw Hammer 16 oz", ["Tools", "Hand Tools"], "Grip"),
    ("ladder-1", "Aluminium Step Ladder Five Steps", ["Tools", "Ladders"], "Climbo"),
    ("kettle-1", "Electric Glass Kettle with Blue LED", ["Kitchen", "Appliances"], "Brewo"),
    ("toaster-1", "Four Slice Stainless Steel Toaster", ["Kitchen", "Appliances"], "Brewo"),
    ("pan-1", "Cast Iron Skillet Pre-Seasoned 12 inch", ["Kitchen", "Cookware"], "Ironly"),
    ("knife-1", "Japanese Santoku Chef Knife", ["Kitchen", "Cutlery"], "Sharpa"),
    ("mug-1", "Double Wall Insulated Coffee Mug", ["Kitchen", "Drinkware"], "Brewo"),
]


def change(sku: str, title: str, path: list[str], brand: str, ts: int = 0, **extra: object
           ) -> dict:
    return {"op": "UPSERT", "sku": sku, "title": title, "category_path": path, "brand": brand,
            "price": 19.99, "currency": "EUR", "available": True, "attributes": {},
            "updated_at": BASE_TS + ts, "description": None, "image": None, "version": None,
            **extra}


def publish(settings: Settings, records: list[dict | tuple[str, bytes]]) -> None:
    topic = Topics(settings).catalog_changes
    with RecordProducer(settings) as producer:
        for record in records:
            if isinstance(record, tuple):
                producer.send(topic, record[0].encode(), record[1])
            elif record["op"] == "DELETE":
                producer.send_record(topic, "CatalogChange", record["sku"], {
                    "op": "DELETE", "sku": record["sku"], "updated_at": record["updated_at"]})
            else:
                producer.send_record(topic, "CatalogChange", record["sku"], record)


def metric(url: str, name: str) -> float:
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith(name):
            return float(line.split()[-1])
    return 0.0


class Platform:
    """A worker and an API process of this test's deployment, restartable."""

    def __init__(self, start_process: Callable, settings: Settings) -> None:
        self.start_process = start_process
        self.settings = settings
        self.api_port = free_port()
        self.worker_metrics = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.worker = self.api = None
        self.env = {"STREAMREC_INDEX_SNAPSHOT_INTERVAL_S": "1", "STREAMREC_INDEX_ROUTER":
                    "category", "STREAMREC_LEXICAL_REFRESH_S": "0.1"}

    def start(self) -> None:
        self.worker = self.start_process("worker", "--metrics-port", str(self.worker_metrics),
                                         name="worker", env=self.env)
        self.api = self.start_process("api", "--port", str(self.api_port), name="api",
                                      env=self.env)

        def ready() -> bool:
            assert self.api.poll() is None, "the API died"
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 90, what="API ready")

    def kill(self) -> None:
        for proc in (self.worker, self.api):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def search(self, q: str, k: int = 5, category: str | None = None) -> dict:
        params = {"q": q, "k": k} | ({"category": category} if category else {})
        response = httpx.get(f"{self.url}/v1/search", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def skus(self, q: str, k: int = 5, category: str | None = None) -> list[str]:
        return [item["sku"] for item in self.search(q, k, category)["items"]]

    def index_stats(self) -> dict:
        return httpx.get(f"{self.url}/readyz", timeout=5).json()["index"]

    def embedded(self) -> float:
        return metric(f"http://127.0.0.1:{self.worker_metrics}/metrics",
                      'streamrec_catalog_embeddings_total{outcome="embedded"}')


@pytest.fixture
def platform(settings: Settings, topics: dict, start_process) -> Platform:
    running = Platform(start_process, settings)
    running.start()
    return running


def test_products_are_found_updated_deleted_and_moved(platform: Platform, settings: Settings
                                                      ) -> None:
    publish(settings, [change(*p) for p in PRODUCTS])
    wait_for(lambda: platform.index_stats()["searchable"] == len(PRODUCTS), 90,
             what="all products indexed")

    for sku, title, path, _ in PRODUCTS:  # every product is found by its own title
        found = platform.search(title, k=3)
        assert found["rung"] == "hybrid"
        assert found["items"][0]["sku"] == sku, (title, found["items"])
        assert found["items"][0]["category_path"] == path
    kettle = platform.search("kettle", k=3)["items"][0]
    assert kettle["title"] == "Electric Glass Kettle with Blue LED" and kettle["price"] == 19.99

    # category filter
    in_tools = platform.skus("steel", k=10, category="Tools")
    assert in_tools and all(s in {"drill-1", "saw-1", "wrench-1", "hammer-1", "ladder-1"}
                            for s in in_tools)

    # an update changes what is found
    publish(settings, [change("kettle-1", "Retro Copper Whistling Kettle", ["Kitchen",
                                                                             "Appliances"],
                              "Brewo", ts=100)])
    wait_for(lambda: platform.skus("copper whistling", k=1) == ["kettle-1"], 30,
             what="update searchable")
    # only the old title had these words: once it is replaced they match nothing
    wait_for(lambda: platform.search("glass LED", k=3)["rung"] != "hybrid", 10,
             what="old text gone from the lexical index")
    assert platform.search("copper", k=1)["items"][0]["title"] == "Retro Copper Whistling Kettle"

    # a delete removes it everywhere
    publish(settings, [{"op": "DELETE", "sku": "mug-1", "updated_at": BASE_TS + 200}])
    wait_for(lambda: "mug-1" not in platform.skus("insulated coffee mug", k=5), 30,
             what="delete applied")
    wait_for(lambda: httpx.get(f"{platform.url}/v1/items/mug-1/similar").status_code == 404,
             10, what="tombstone applied to the index")
    client = redis.Redis.from_url(settings.redis_url)
    assert client.exists(RedisKeys(settings.redis_key_prefix).item("mug-1")) == 0

    # a category move leaves no stale copy
    publish(settings, [change("ladder-1", "Aluminium Step Ladder Five Steps",
                              ["Outdoor", "Garden"], "Climbo", ts=300)])
    wait_for(lambda: "ladder-1" in platform.skus("step ladder", k=3, category="Outdoor"), 30,
             what="category move")
    assert "ladder-1" not in platform.skus("step ladder", k=5, category="Tools")
    assert platform.skus("step ladder", k=5).count("ladder-1") == 1

    # similar items: same kind first, never itself
    similar = httpx.get(f"{platform.url}/v1/items/tent-1/similar", params={"k": 3}).json()
    assert similar["items"][0]["sku"] == "tent-2"
    assert "tent-1" not in [i["sku"] for i in similar["items"]]


def test_misspelt_and_unmatched_queries_never_return_an_empty_page(platform: Platform,
                                                                   settings: Settings) -> None:
    publish(settings, [change(*p) for p in PRODUCTS])
    wait_for(lambda: platform.index_stats()["searchable"] == len(PRODUCTS), 90)
    wait_for(lambda: bool(platform.skus("santoku")), 10)

    typo = platform.search("santoku chef knfie", k=3)
    assert typo["items"][0]["sku"] == "knife-1"
    assert typo["rung"] in {"hybrid", "spelling"}
    typo = platform.search("santokku", k=3)
    assert typo["rung"] == "spelling" and typo["rewritten"] is True
    assert typo["items"][0]["sku"] == "knife-1"

    nothing = platform.search("qwxzv", k=3)
    assert nothing["items"], "no page is empty"
    assert nothing["fallback"] is True and nothing["rung"].startswith("popular")


def test_snapshot_kill_restart_replays_only_what_is_new(platform: Platform, settings: Settings,
                                                       tmp_path: Path) -> None:
    publish(settings, [change(*p) for p in PRODUCTS])
    wait_for(lambda: platform.index_stats()["searchable"] == len(PRODUCTS), 90)
    queries = ["camping tent", "power tools drill", "kitchen appliance", "hand tools"]
    wait_for(lambda: all(platform.skus(q) for q in queries), 10)
    before = {q: platform.skus(q) for q in queries}
    embedded_before = platform.embedded()
    assert embedded_before == len(PRODUCTS)
    snapshots = settings.state_dir / "index"

    def snapshot_has_everything() -> bool:
        newest = sorted(p for p in snapshots.glob("snapshot-*") if p.is_dir())
        if not newest:
            return False
        offsets = read_manifest(newest[-1]).get("offsets") or {}
        return sum(int(o) for o in offsets.values()) == len(PRODUCTS)

    wait_for(snapshot_has_everything, 30, what="a timed snapshot of every product")

    platform.kill()  # SIGKILL: no clean shutdown, no final snapshot
    publish(settings, [
        change("tent-3", "Ultralight Trekking Pole Tent", ["Outdoor", "Camping", "Tents"],
               "Peakline", ts=500),
        change("saw-1", "Circular Saw with Laser Guide", ["Tools", "Power Tools"], "Boltx",
               ts=501, price=99.0),  # text unchanged: the vector is reused, not re-embedded
        {"op": "DELETE", "sku": "toaster-1", "updated_at": BASE_TS + 502},
    ])
    platform.start()
    stats = platform.index_stats()
    assert stats["restored_from_snapshot"] is True
    assert stats["applied"] <= 3, "a restart replays only what the snapshot lacks"
    wait_for(lambda: "tent-3" in platform.skus("trekking pole tent", k=3), 60,
             what="change made while down applied")
    wait_for(lambda: "toaster-1" not in platform.skus("stainless toaster", k=5), 30)
    for q in ["power tools drill", "hand tools"]:
        assert platform.skus(q) == before[q], q
    saw = next(i for i in platform.search("circular saw", k=3)["items"] if i["sku"] == "saw-1")
    assert saw["price"] == 99.0
    wait_for(lambda: platform.embedded() >= 1, 30)
    assert platform.embedded() == 1, "only the new product was embedded after the restart"


def test_malformed_catalog_records_go_to_the_dlq_and_the_batch_is_indexed(
        platform: Platform, settings: Settings) -> None:
    good = [change(*p) for p in PRODUCTS[:6]]
    bad = [("bad-1", b"\x00garbage"), ("bad-2", orjson.dumps({"sku": "json-not-avro"}))]
    publish(settings, [good[0], bad[0], *good[1:4], bad[1], *good[4:]])
    no_title = {**change("untitled", "x", [], "b"), "title": None}
    with RecordProducer(settings) as producer:
        producer.send_record(Topics(settings).catalog_changes, "CatalogChange", "untitled",
                             no_title)
    wait_for(lambda: platform.index_stats()["searchable"] == 6, 90, what="valid ones indexed")
    names = Topics(settings)
    dead = read_topic(settings, names.dlq(names.catalog_changes), expected=3)
    assert sorted(d.key for d in dead) == [b"bad-1", b"bad-2", b"untitled"]
    reasons = {d.key: d.headers["dlq.error.reason"] for d in dead}
    assert b"title: required for UPSERT" in reasons[b"untitled"]
