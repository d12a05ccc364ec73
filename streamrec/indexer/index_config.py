"""Tunables of the vector index (the lead maps these onto ``Settings``).

Defaults come from ``bench/bench_ann.py`` (see docs/ or the bench's output): HNSW with
M=32 on flat float32 storage reaches recall@10 >= 0.95 on 384-d MiniLM-like data at
efSearch 64 while a single thread answers thousands of queries a second.
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
        if self.hnsw_m < 2 or self.ef_construction < 1 or self.ef_search < 1:
            raise ValueError("hnsw_m must be >= 2 and ef_construction, ef_search >= 1")
        if self.refine_factor < 1:
            raise ValueError("refine_factor must be >= 1")
        if not 0.0 < self.compaction_ratio <= 1.0:
            raise ValueError("compaction_ratio must be in (0, 1]")
