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

    def search_log(self) -> str:
        """Stream: search clicks, fields ``q`` (query) and ``s`` (sku), appended by the users
        worker (each event once), followed by every API process (``SearchLogFollower``)."""
        return f"{self.prefix}search-log"

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

    def user_profile(self, user_id: str) -> str:
        """String: the user's profile (``UserProfile.to_bytes``), written by the users worker."""
        return f"{self.prefix}user:{{{user_id}}}:profile"

    def user_event_count(self, user_id: str) -> str:
        return f"{self.prefix}user:{{{user_id}}}:events"

    # --- recommendation path ------------------------------------------------------------
    def user_candidates(self, user_id: str) -> str:
        """Sorted set: sku -> blended candidate score (replaced whole on every refresh)."""
        return f"{self.prefix}user:{{{user_id}}}:candidates"

    def user_candidate_sources(self, user_id: str) -> str:
        """Hash: sku -> JSON ``{"s": [source, ...], "a": anchor}`` of the cached candidates."""
        return f"{self.prefix}user:{{{user_id}}}:candidate-sources"

    def user_candidate_meta(self, user_id: str) -> str:
        """Hash: generated_at (ms), sources, config_hash, event_count of the cached list."""
        return f"{self.prefix}user:{{{user_id}}}:candidate-meta"

    def user_category_affinity(self, user_id: str) -> str:
        """Hash: category path (``"A > B"``) -> affinity share; outlives the candidates."""
        return f"{self.prefix}user:{{{user_id}}}:category-affinity"

    def user_purchased(self, user_id: str) -> str:
        """Set: skus the user bought (never recommended); outlives the candidates."""
        return f"{self.prefix}user:{{{user_id}}}:purchased"

    def co_visitation(self, sku: str) -> str:
        """Sorted set: neighbour sku -> co-visitation weight (bounded to the top M)."""
        return f"{self.prefix}covis:{{{sku}}}"

    def trending(self, scope: str) -> str:
        """Sorted set: sku -> forward-decayed popularity in one scope, relative to the
        scope's epoch. ``scope`` is ``_all`` or a category path prefix (``"A > B"``)."""
        return f"{self.prefix}trending:{{{scope}}}"

    def trending_epoch(self, scope: str) -> str:
        """String: the epoch (ms) the scope's trending scores are relative to."""
        return f"{self.prefix}trending-epoch:{{{scope}}}"

    def refresh_requests(self, partition: int) -> str:
        """List: user ids whose candidates the API asked to refresh, per ``user.events``
        partition, so the worker that owns the partition (and the profile) serves them."""
        return f"{self.prefix}refresh-requests:{partition}"

    # --- search ---------------------------------------------------------------------------
    def query_rewrite(self, digest: str) -> str:
        """String with a TTL: a validated rewrite (JSON) of one query, keyed by the hash of
        the normalised query, the category and the cascade's configuration."""
        return f"{self.prefix}rewrite:{{{digest}}}"
