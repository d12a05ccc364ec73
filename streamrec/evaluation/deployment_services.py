"""Kafka and Redis for an evaluation run: the ones given, or fresh ones on free ports."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from streamrec.platform.kafka_server import KafkaJars, KafkaServer
from streamrec.platform.processes import free_port
from streamrec.platform.redis_server import RedisServer
from streamrec.settings import Settings, load_settings


@contextlib.contextmanager
def deployment_settings(bootstrap: str | None, redis_url: str | None, *,
                        redis_maxmemory: str = "2gb", base: Settings | None = None,
                        **overrides: object) -> Iterator[Settings]:
    """Settings with a unique topic and key prefix and a temporary state folder; starts
    Kafka and/or Redis on free ports when none is given (stopped on exit)."""
    tag = uuid.uuid4().hex[:8]
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="streamrec-eval-")))
        base = base or load_settings()
        if bootstrap is None:
            kafka = KafkaServer(KafkaJars(base.cache_dir, base.kafka_version), work / "kafka",
                                free_port(), free_port(), heap="512m")
            kafka.start(timeout_s=120)
            stack.callback(kafka.stop)
            bootstrap = kafka.bootstrap
        if redis_url is None:
            redis = RedisServer(work / "redis", free_port(), maxmemory=redis_maxmemory)
            redis.start()
            stack.callback(redis.stop)
            redis_url = redis.url
        yield base.model_copy(update={
            "kafka_bootstrap": bootstrap, "redis_url": redis_url,
            "topic_prefix": f"eval{tag}.", "redis_key_prefix": f"eval{tag}:",
            "state_dir": work / "state", **overrides,
        })
