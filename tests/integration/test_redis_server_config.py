"""The project's Redis starts with streamrec's tuning, and a caller's directives win."""

from pathlib import Path

import redis

from streamrec.platform.processes import free_port
from streamrec.platform.redis_server import TUNED_CONFIG, RedisServer


def test_suite_redis_runs_with_the_tuned_config(redis_server: RedisServer) -> None:
    client = redis.Redis(port=redis_server.port)
    for name, value in TUNED_CONFIG.items():
        assert client.config_get(name) == {name: value}
    # a candidate list (top_n 100) is a skiplist: updated in place without linear scans
    client.delete("t:list")
    client.zadd("t:list", {f"sku-{n}": n for n in range(100)})
    assert client.object("encoding", "t:list") == b"skiplist"
    client.zadd("t:short", {f"sku-{n}": n for n in range(50)})
    assert client.object("encoding", "t:short") == b"listpack"
    client.delete("t:list", "t:short")


def test_given_directives_override_the_tuning(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, free_port(), maxmemory="64mb",
                         config={"zset-max-listpack-entries": "128", "hz": "20"})
    server.start()
    try:
        client = redis.Redis(port=server.port)
        assert client.config_get("zset-max-listpack-entries") == {
            "zset-max-listpack-entries": "128"}
        assert client.config_get("hz") == {"hz": "20"}
    finally:
        server.stop()
