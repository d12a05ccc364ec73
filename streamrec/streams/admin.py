"""Topic administration with confluent-kafka's AdminClient: reachability and idempotent creation."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from streamrec.settings import Settings
from streamrec.streams.errors import KafkaUnavailableError
from streamrec.streams.topics import Topics

log = logging.getLogger(__name__)


def admin_client(settings: Settings) -> AdminClient:
    timeout_ms = int(settings.kafka_connect_timeout_s * 1000)
    return AdminClient({
        "bootstrap.servers": settings.kafka_bootstrap,
        "socket.connection.setup.timeout.ms": timeout_ms,
        "socket.timeout.ms": max(timeout_ms, 1000),
        "reconnect.backoff.max.ms": 1000,
        "log_level": 0,  # errors reach the caller as exceptions, not as log noise
    })


def check_kafka(settings: Settings, admin: AdminClient | None = None) -> set[str]:
    """Topic names on the cluster, or ``KafkaUnavailableError`` within the connect timeout."""
    admin = admin or admin_client(settings)
    try:
        metadata = admin.list_topics(timeout=settings.kafka_connect_timeout_s)
    except KafkaException as exc:
        raise KafkaUnavailableError(
            f"Kafka at {settings.kafka_bootstrap} did not answer within "
            f"{settings.kafka_connect_timeout_s:.0f}s ({exc.args[0]}); is the broker running? "
            "Start the local platform with `streamrec up` or set STREAMREC_KAFKA_BOOTSTRAP."
        ) from exc
    return set(metadata.topics)


def ensure_topics(settings: Settings) -> dict[str, str]:
    """Create every contract topic (and DLQ) that is missing; safe to run any number of times.

    Returns ``{topic: "created" | "exists"}``.
    """
    admin = admin_client(settings)
    existing = check_kafka(settings, admin)
    topics = Topics(settings)
    result: dict[str, str] = {}
    wanted = []
    for name, spec in topics.all_specs():
        if name in existing:
            result[name] = "exists"
        else:
            wanted.append(NewTopic(name, num_partitions=spec.partitions, replication_factor=1,
                                   config=spec.config))
    if not wanted:
        return result
    futures = admin.create_topics(wanted, operation_timeout=settings.kafka_connect_timeout_s)
    for name, future in futures.items():
        try:
            future.result(timeout=settings.kafka_connect_timeout_s * 2)
            result[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                result[name] = "exists"  # created concurrently by another process
            else:
                raise
    log.info("topics: %s", result)
    return result
