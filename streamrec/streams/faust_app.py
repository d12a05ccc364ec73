"""The one Faust app factory. Broker, store and tuning come from Settings, applied at call time."""

from __future__ import annotations

import faust

from streamrec.settings import Settings


def create_faust_app(settings: Settings, *, app_id: str | None = None) -> faust.App:
    """A Faust app for this deployment; agents register themselves on it (see ``agents/``).

    The app id carries the topic prefix so that deployments (and tests) sharing a broker
    never share consumer groups or changelog topics.
    """
    app_id = app_id or f"{settings.topic_prefix}{settings.app_id}"
    datadir = settings.state_dir / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return faust.App(
        app_id,
        # Faust's default is "<id>-data" in the working directory: keep it with our state
        datadir=str(datadir),
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.faust_store,
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=settings.worker_batch_size,
        stream_buffer_maxsize=max(4096, settings.worker_batch_size * 2),
        producer_acks=-1,
        producer_linger=settings.producer_linger_ms / 1000,
        broker_commit_every=10_000,
        broker_commit_interval=1.0,
        web_enabled=False,
        # tables and topics carry bytes we encode ourselves (Avro, profile bytes)
        key_serializer="raw",
        value_serializer="raw",
        table_cleanup_interval=60.0,
        logging_config=None,
    )
