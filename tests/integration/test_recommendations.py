"""The user path end to end: events over HTTP → users worker (profiles in a Faust table,
co-visitation, trending, debounced candidate refresh) → /v1/recommendations."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import httpx
import pytest

from streamrec.platform.processes import free_port
from streamrec.recs.feature_reranker import FEATURE_NAMES
from streamrec.schemas.codec import codec_for
from streamrec.serving.refresh_requests import user_partition
from streamrec.settings import Settings
from streamrec.streams.topics import Topics
from tests.integration.kafka_helpers import read_topic, wait_for
from tests.integration.test_catalog_search import change, publish

pytestmark = pytest.mark.integration

KINDS = {
    "tent": (["Outdoor", "Camping"], ["Dome Tent", "Tunnel Tent", "Pop-up Beach Tent",
                                      "Backpacking Tent", "Family Cabin Tent", "Bivy Tent",
                                      "Canvas Bell Tent", "Trekking Pole Tent"]),
    "drill": (["Tools", "Power Tools"], ["Cordless Drill", "Hammer Drill", "Impact Driver",
                                         "Right Angle Drill", "Drill Press", "Rotary Hammer",
                                         "Brushless Drill Driver", "Mini Drill"]),
    "kettle": (["Kitchen", "Appliances"], ["Electric Kettle", "Gooseneck Kettle",
                                           "Glass Kettle", "Stovetop Whistling Kettle",
                                           "Travel Kettle", "Smart Kettle", "Cordless Kettle",
                                           "Retro Kettle"]),
    "watch": (["Accessories", "Watches"], ["Diver Watch", "Chronograph Watch",
                                           "Smart Watch", "Field Watch", "Dress Watch",
                                           "Pilot Watch", "Digital Sports Watch",
                                           "Skeleton Watch"]),
}
CATEGORY_OF = {f"{kind}-{i}": path for kind, (path, names) in KINDS.items()
               for i in range(len(names))}


def catalog() -> list[dict]:
    return [change(f"{kind}-{i}", f"Acme {name}", path, "Acme")
            for kind, (path, names) in KINDS.items() for i, name in enumerate(names)]


class RecsPlatform:
    def __init__(self, start_process, settings: Settings, users_workers: int = 1) -> None:
        self.start_process = start_process
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"STREAMREC_INDEX_SNAPSHOT_INTERVAL_S": "0"}
        self.catalog_worker = start_process("worker", "--role", "catalog", name="catalog",
                                            env=env)
        self.metrics_ports = [free_port() for _ in range(users_workers)]
        self.users_workers = [
            start_process("worker", "--role", "users", "--metrics-port", str(port),
                          name=f"users-{n}", env=env)
            for n, port in enumerate(self.metrics_ports)]
        self.api = start_process("api", "--port", str(self.port), name="api", env=env)
        self.events_sent = 0

        def ready() -> bool:
            assert self.api.poll() is None, "the API died"
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 90, what="API ready")

    def load_catalog(self) -> None:
        publish(self.settings, catalog())
        wait_for(lambda: httpx.get(f"{self.url}/readyz").json()["index"]["searchable"]
                 == len(CATEGORY_OF), 120, what="catalog indexed")
        time.sleep(1.0)  # the users workers' replicas follow the same topic

    def send(self, user: str, skus: list[str], kind: str = "VIEW", session: str = "s1") -> None:
        events = []
        for sku in skus:
            self.events_sent += 1
            events.append({"event_id": f"{user}-{self.events_sent}", "user_id": user,
                           "session_id": f"{user}-{session}", "type": kind, "sku": sku,
                           "ts": int(time.time() * 1000)})
        response = httpx.post(f"{self.url}/v1/events", json=events, timeout=10)
        assert response.status_code == 200 and response.json()["accepted"] == len(events)

    def recs(self, user: str, k: int = 5, **params: str) -> dict:
        response = httpx.get(f"{self.url}/v1/recommendations/{user}",
                             params={"k": k, **params}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_personalised(self, user: str, events: int, timeout_s: float = 30,
                          full: bool = False) -> dict:
        """Recommendations from a cache that has seen ``events`` of the user's events
        (``full``: through a full regeneration, not only the in-place fast path, which
        follows within ``recs_full_refresh_min_interval_s``)."""
        found: dict = {}

        def check() -> bool:
            # metadata first: a refresh landing between the two reads then makes the page
            # newer than the count, never older
            meta_events = self.cache_events(user)
            full_ok = not full or self.cache_mode(user) == "full"
            body = self.recs(user, k=6)
            found.update(body)
            return body["served_from"] == "cache" and meta_events >= events and full_ok

        wait_for(check, timeout_s, what=f"{user}'s cache with {events} events")
        return found

    def owned_partitions(self, worker: int) -> set[int]:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_ports[worker]}/metrics").text
        prefix = "streamrec_user_partitions_owned{partition="
        return {int(line.split('"')[1]) for line in text.splitlines()
                if line.startswith(prefix) and float(line.split()[-1]) == 1.0}

    def cache_mode(self, user: str) -> str:
        import redis

        from streamrec.redis_keys import RedisKeys

        client = redis.Redis.from_url(self.settings.redis_url, decode_responses=True)
        return client.hget(RedisKeys(self.settings.redis_key_prefix)
                           .user_candidate_meta(user), "mode") or "full"

    def cache_events(self, user: str) -> int:
        import redis

        from streamrec.redis_keys import RedisKeys

        client = redis.Redis.from_url(self.settings.redis_url, decode_responses=True)
        meta = client.hgetall(RedisKeys(self.settings.redis_key_prefix)
                              .user_candidate_meta(user))
        return int(meta.get("event_count", 0))


def categories(body: dict) -> Counter:
    return Counter(CATEGORY_OF[item["sku"]][0] for item in body["items"])


@pytest.fixture
def recs_platform(settings: Settings, topics: dict, start_process) -> RecsPlatform:
    platform = RecsPlatform(start_process, settings)
    platform.load_catalog()
    # background traffic: other users make co-visitation and trending
    for n in range(6):
        kind = ["tent", "drill", "kettle", "watch"][n % 4]
        platform.send(f"bg-{n}", [f"{kind}-{i}" for i in range(8)])
    return platform


def test_interest_purchase_and_switch(recs_platform: RecsPlatform) -> None:
    p = recs_platform
    cold = p.recs("alice")
    assert cold["served_from"] == "fallback" and cold["refresh_requested"] is True
    assert cold["items"], "a cold user still gets a page"
    assert all(item["reason"] for item in cold["items"])

    p.send("alice", ["tent-0", "tent-1", "tent-2"])
    p.send("alice", ["tent-3"], kind="CLICK")
    body = p.wait_personalised("alice", 4, full=True)
    assert categories(body)["Outdoor"] >= 4, body["items"]
    assert all(item["reason"] for item in body["items"])
    seen = {f"tent-{i}" for i in range(4)}  # recently seen items are not recommended
    assert not seen & {item["sku"] for item in body["items"]}, body["items"]

    p.send("alice", ["tent-5"], kind="PURCHASE")
    body = p.wait_personalised("alice", 5)
    assert "tent-5" not in [item["sku"] for item in body["items"]]
    assert "tent-5" not in [i["sku"] for i in p.recs("alice", k=20)["items"]]

    # switching interest shifts the list within one refresh
    p.send("alice", [f"kettle-{i}" for i in range(6)], session="s2")
    body = p.wait_personalised("alice", 11, full=True)
    # the six kettles just seen are left out: the two others lead the list
    skus = [item["sku"] for item in body["items"]]
    assert set(skus[:3]) >= {"kettle-6", "kettle-7"}, body["items"]
    assert not {f"kettle-{i}" for i in range(6)} & set(skus), body["items"]

    # the item on screen biases the list toward its kind, and is never itself recommended
    context = p.recs("alice", k=5, context_sku="watch-0")
    skus = [item["sku"] for item in context["items"]]
    assert "watch-0" not in skus and any(s.startswith("watch-") for s in skus)
    in_category = p.recs("alice", k=5, category="Tools")
    assert in_category["items"] and all(CATEGORY_OF[i["sku"]][0] == "Tools"
                                        for i in in_category["items"])


def test_duplicates_change_nothing_and_impressions_are_logged(recs_platform: RecsPlatform,
                                                              settings: Settings) -> None:
    p = recs_platform
    events = [{"event_id": f"dup-{i}", "user_id": "bob", "session_id": "b", "type": "VIEW",
               "sku": f"drill-{i}", "ts": int(time.time() * 1000)} for i in range(3)]
    for _ in range(3):
        assert httpx.post(f"{p.url}/v1/events", json=events).json()["accepted"] == 3
    p.wait_personalised("bob", 3)
    time.sleep(1.5)
    assert p.cache_events("bob") == 3, "redelivered events were not counted again"

    body = p.recs("bob", k=4)
    impressions = read_topic(settings, Topics(settings).impressions, expected=1, timeout_s=30)
    decoded = [codec_for("Impression").decode(r.value) for r in impressions]
    mine = next(d for d in decoded if d["request_id"] == body["request_id"])
    assert mine["user_id"] == "bob" and mine["variant"] == body["variant"] == "default"
    assert [i["position"] for i in mine["items"]] == list(range(len(body["items"])))
    assert [i["sku"] for i in mine["items"]] == [i["sku"] for i in body["items"]]
    # the rerank stage's inputs, for `streamrec train reranker --from impressions`
    assert mine["feature_names"] == list(FEATURE_NAMES)
    assert all(len(i["features"]) == len(FEATURE_NAMES) for i in mine["items"])


def test_two_workers_share_users_and_a_rebalance_loses_no_profile(
        settings: Settings, topics: dict, start_process) -> None:
    p = RecsPlatform(start_process, settings, users_workers=2)
    p.load_catalog()

    def split() -> bool:  # the group has settled with both members
        try:
            owned = [p.owned_partitions(0), p.owned_partitions(1)]
        except httpx.HTTPError:
            return False
        return bool(owned[0] and owned[1]) and \
            owned[0] | owned[1] == set(range(settings.topic_partitions))

    wait_for(split, 90, what="both users workers own partitions")
    users = [f"user-{n}" for n in range(12)]
    kinds = ["tent", "drill", "kettle", "watch"]
    for n, user in enumerate(users):
        p.send(user, [f"{kinds[n % 4]}-{i}" for i in range(3)])
    for user in users:
        p.wait_personalised(user, 3, timeout_s=60)

    # each user has exactly one owner: the two workers split the partitions between them
    owned = [p.owned_partitions(0), p.owned_partitions(1)]
    assert owned[0] and owned[1] and not owned[0] & owned[1]
    assert owned[0] | owned[1] == set(range(settings.topic_partitions))
    owners = {u: [n for n in (0, 1) if user_partition(u, settings.topic_partitions) in owned[n]]
              for u in users}
    assert all(len(o) == 1 for o in owners.values())

    os.killpg(p.users_workers[0].pid, signal.SIGTERM)  # one worker leaves: a rebalance
    p.users_workers[0].wait(timeout=30)
    for n, user in enumerate(users):
        p.send(user, [f"{kinds[n % 4]}-{i}" for i in range(3, 5)], session="s2")
    wait_for(lambda: p.owned_partitions(1) == set(range(settings.topic_partitions)), 60,
             what="the survivor owns every partition")
    for user in users:  # the survivor continues every profile where it was
        p.wait_personalised(user, 5, timeout_s=90)
        assert p.cache_events(user) == 5


def test_warm_refreshes_expired_caches(recs_platform: RecsPlatform, settings: Settings,
                                       run_cli) -> None:
    import redis

    from streamrec.redis_keys import RedisKeys

    p = recs_platform
    p.send("carol", ["watch-0", "watch-1"])
    p.send("dave", ["drill-0", "drill-1"])
    p.wait_personalised("carol", 2)
    p.wait_personalised("dave", 2)
    client = redis.Redis.from_url(settings.redis_url)
    keys = RedisKeys(settings.redis_key_prefix)
    time.sleep(1.5)  # let refreshes still in flight (debounced, requested) land first
    for user in ("carol", "dave"):  # then the caches expire
        client.delete(keys.user_candidates(user), keys.user_candidate_meta(user))
    time.sleep(1.0)
    assert p.cache_events("carol") == 0 and p.cache_events("dave") == 0

    result = run_cli("warm", "dave")
    assert result.returncode == 0 and "refresh requested for 1 users" in result.stdout
    wait_for(lambda: p.cache_events("dave") == 2, 20, what="dave warmed")
    assert p.cache_events("carol") == 0, "only the named user"
    result = run_cli("warm", "--since", "2020-01-01T00:00:00Z")
    assert result.returncode == 0, result.stdout + result.stderr
    wait_for(lambda: p.cache_events("carol") == 2, 20, what="active users warmed")
    assert p.recs("carol")["served_from"] == "cache"
