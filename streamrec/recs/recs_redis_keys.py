"""Redis keys of the recommendation path (to be merged into ``RedisKeys``).

User keys carry the ``{user_id}`` hash tag, like ``RedisKeys``' user keys, so one user's
cache is one Redis Cluster slot (a MULTI over them is legal). A trending scope's
set and epoch share the ``{scope}`` tag, so one script updates them atomically.
"""

from __future__ import annotations


class RecsRedisKeys:
    def __init__(self, prefix: str = "sr:") -> None:
        self.prefix = prefix

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
