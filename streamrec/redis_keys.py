"""Every Redis key streamrec writes, defined once. All keys share the configured prefix."""

from __future__ import annotations


class RedisKeys:
    def __init__(self, prefix: str = "sr:") -> None:
        self.prefix = prefix

    def item(self, sku: str) -> str:
        """Hash: the product document used for hydration and filters."""
        return f"{self.prefix}item:{{{sku}}}"

    def item_deleted(self, sku: str) -> str:
        """String: the (version, updated_at) order of a delete, so an older upsert stays dead."""
        return f"{self.prefix}item-deleted:{{{sku}}}"

    def item_vector(self, sku: str) -> str:
        """Hash: ``content_hash``, ``model_id`` and ``vector`` (float32 bytes) of the product,
        so unchanged text is never embedded twice, even after a restart."""
        return f"{self.prefix}item-vector:{{{sku}}}"

    def popular(self) -> str:
        """Sorted set: sku -> event-weighted popularity (the user-events agent increments it)."""
        return f"{self.prefix}popular"

    def event_seen(self, user_id: str, event_id: str) -> str:
        """String with a TTL: an event id already applied (de-duplication).

        Tagged with the user so that it shares a Redis Cluster slot with the user's keys.
        """
        return f"{self.prefix}user:{{{user_id}}}:seen:{event_id}"

    def user_recent(self, user_id: str) -> str:
        """List, newest first: the user's recent events as JSON."""
        return f"{self.prefix}user:{{{user_id}}}:recent"

    def user_event_count(self, user_id: str) -> str:
        return f"{self.prefix}user:{{{user_id}}}:events"
