"""Every topic of the contract, defined once: name, key, record type and Kafka config."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamrec.settings import Settings

DLQ_SUFFIX = ".dlq"
WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    base_name: str
    record: str | None
    """Avro record type of the values (None for DLQs: they keep the original bytes)."""
    key: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    has_dlq: bool = False


def contract_topics(partitions: int) -> list[TopicSpec]:
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
    return [
        TopicSpec("catalog.changes", "CatalogChange", "sku", partitions, compacted, has_dlq=True),
        TopicSpec(
            "user.events", "UserEvent", "user_id", partitions,
            {"cleanup.policy": "delete", "retention.ms": str(WEEK_MS)}, has_dlq=True,
        ),
        TopicSpec("catalog.vectors", "ItemVector", "sku", partitions, compacted),
        TopicSpec(
            "recs.impressions", "Impression", "user_id", partitions,
            {"cleanup.policy": "delete", "retention.ms": str(4 * WEEK_MS)},
        ),
    ]


class Topics:
    """Resolved topic names for one deployment (prefix applied)."""

    def __init__(self, settings: Settings) -> None:
        self.prefix = settings.topic_prefix
        self.specs = contract_topics(settings.topic_partitions)
        self.catalog_changes = self.name("catalog.changes")
        self.user_events = self.name("user.events")
        self.catalog_vectors = self.name("catalog.vectors")
        self.impressions = self.name("recs.impressions")

    def name(self, base_name: str) -> str:
        return f"{self.prefix}{base_name}"

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}{DLQ_SUFFIX}"

    def all_specs(self) -> list[tuple[str, TopicSpec]]:
        """Every topic to create, DLQs included, as (full name, spec)."""
        out: list[tuple[str, TopicSpec]] = []
        for spec in self.specs:
            out.append((self.name(spec.base_name), spec))
            if spec.has_dlq:
                dlq = TopicSpec(
                    spec.base_name + DLQ_SUFFIX, None, spec.key, 1,
                    {"cleanup.policy": "delete", "retention.ms": str(4 * WEEK_MS)},
                )
                out.append((self.dlq(self.name(spec.base_name)), dlq))
        return out
