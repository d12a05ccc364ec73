"""Tunables of the vector index (the lead maps these onto ``Settings``).

Defaults come from ``bench/bench_ann.py`` (2-core shared VM, FAISS 1.15.1, 384-d
clustered synthetic vectors calibrated on MiniLM title embeddings): with M=32 and
efConstruction=200, recall@10 is 0.989 at efSearch 64 and 0.995 at 96 on 1M vectors
(0.999 at 64 on 100k, ~3,100 queries/s on one thread through ``ShardedIndex.search``).
efConstruction=80 builds 2-3x faster but reaches only 0.921 at ef 64 / 0.965 at ef 128
on 1M. Flat storage costs 1.81 GB per million 384-d vectors (graph included).
"""

from __future__ import annotations

from dataclasses import dataclass

STORAGES = ("flat", "fp16", "sq8")


@dataclass(frozen=True)
class IndexConfig:
    hnsw_m: int = 32
    """Graph degree (2*M links on layer 0): higher is better recall, more memory, slower build."""
    ef_construction: int = 200
    """Candidate list while inserting: higher is a better graph and a slower build."""
    small_shard_ef_construction: int = 100
    """efConstruction (at most ``ef_construction``) while a shard holds fewer than
    ``small_shard_below`` vectors. Every product change pays one insert in each replica
    (API processes, users worker): on 53,667 real MiniLM Home Depot title vectors, 100
    inserts 2.1x faster than 200 (0.30 vs 0.63 ms a vector on one thread) for recall@10
    at efSearch 64 of 0.994 vs 0.996 (bench_ann --vectors); on big shards the graph's
    quality matters more (1M synthetic: 0.921 at efConstruction 80 vs 0.989 at 200)."""
    small_shard_below: int = 250_000
    ef_search: int = 64
    """Base efSearch for k=10 on an unfiltered shard; ``choose_ef_search`` scales it."""
    max_ef_search: int = 1024
    """Ceiling of the per-request efSearch."""
    storage: str = "flat"
    """``flat`` (float32), ``fp16`` (half the bytes, ~lossless) or ``sq8`` (index a quarter,
    plus a raw float32 copy in RAM for refining and rebuilds; see ``HnswShard``)."""
    refine_factor: int = 3
    """sq8: fetch ``k * refine_factor`` candidates, rescore them with the raw vectors."""
    exact_search_below: int = 2048
    """A filter leaving at most this many vectors in a shard is answered by exact search."""
    exact_search_selectivity: float = 0.02
    """...and so is one leaving less than this fraction: HNSW's filtered search falls off a
    cliff below ~2% (100k bench: recall@10 0.997 at 2%, 0.84 at 1%, 0.54 at 0.5%)."""
    exact_batch_below: int = 65_536
    """A batch of at least ``exact_batch_min`` queries against a shard of at most this many
    vectors is answered by matrix products: exact, and cheaper than the graph at these
    sizes (256 queries, k=120, the per-request efSearch, one core: 0.12 vs 0.70 CPU ms a
    query at 3k vectors, 0.31 vs 2.3 at 12.5k, 0.74 vs 2.0 at 30k, 1.2 vs 2.0 at 55k, where
    the graph's recall@120 is 0.97; measured with the earlier efSearch rule, 768 at
    k=120, where ``choose_ef_search`` now gives 222). The users worker's candidate
    refreshes search in such batches; single API queries never take this path."""
    exact_batch_min: int = 8
    compaction_ratio: float = 0.2
    """Tombstones / vectors above which a shard is rebuilt from its live vectors."""
    sq_min_train: int = 10_000
    """sq8 trains its ranges on real vectors once a shard holds this many (before: [-1, 1])."""
    router: str = "category"
    """``category`` (by top-level category) or ``hash`` (by sku, ``hash_shards`` shards)."""
    hash_shards: int = 4
    snapshot_keep: int = 2
    """How many snapshots ``write_snapshot`` keeps; older ones are deleted."""

    def __post_init__(self) -> None:
        if self.storage not in STORAGES:
            raise ValueError(f"storage must be one of {STORAGES}, not {self.storage!r}")
        if self.hnsw_m < 2 or min(self.ef_construction, self.small_shard_ef_construction,
                                  self.ef_search) < 1:
            raise ValueError("hnsw_m must be >= 2 and ef_construction, "
                             "small_shard_ef_construction, ef_search >= 1")
        if self.refine_factor < 1:
            raise ValueError("refine_factor must be >= 1")
        if not 0.0 < self.compaction_ratio <= 1.0:
            raise ValueError("compaction_ratio must be in (0, 1]")

    def ef_construction_at(self, size: int) -> int:
        """The efConstruction for inserts into a shard that will hold ``size`` vectors."""
        if size < self.small_shard_below:
            return min(self.ef_construction, self.small_shard_ef_construction)
        return self.ef_construction
