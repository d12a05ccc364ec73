"""All HNSW shards of one model behind one index: routing, filtered search, similar items.

The index agent applies ``catalog.vectors`` with ``upsert``/``delete``; the serving tier
calls ``search`` and ``similar``. A ``ShardRouter`` picks each product's shard; a product
whose category moves it to another shard is removed from the old one in the same call.

Category filters are exact prefix matches on the category path (``["Apparel",
"Topwear"]`` matches ``["Apparel", "Topwear", "Tshirts"]``, not ``["Apparel", "Top"]``).
The router says which shards can hold the category (the category router: one shard,
often without any filter left to apply); in each shard, efSearch grows as the filter
gets more selective (``choose_ef_search``) and a filter that leaves few vectors is
answered by exact search. Results of all shards are merged by score.

Thread-safety: a readers-writer lock lets searches run in parallel (FAISS releases the
GIL) while a mutation waits for them; ``compact`` rebuilds a shard outside the lock
and replays the mutations that arrived meanwhile before it swaps the new graph in.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from streamrec.indexer.hnsw_shard import HnswShard, SearchHit, unit_rows
from streamrec.indexer.index_config import IndexConfig
from streamrec.indexer.shard_router import ShardRouter, router_from_spec

__all__ = ["SearchHit", "ShardedIndex", "choose_ef_search", "parse_category"]

Category = str | Sequence[str] | None


def choose_ef_search(k: int, selectivity: float, base: int = 64, ceiling: int = 1024) -> int:
    """efSearch for one request: ``base`` for k=10 unfiltered, deeper for larger k and filters.

    ``selectivity`` = vectors the filter allows / live vectors in the shard. HNSW's
    filtered search keeps only allowed nodes in its result list, so a selective filter
    needs a longer candidate list. Measured (bench/bench_ann.py data, 100k x 384, M=32,
    efConstruction=80, random filters): about ``1/sqrt(s)`` times the unfiltered efSearch
    restores the unfiltered recall (s=0.1: recall@10 0.967 at ef 64, 0.998 at the rule's
    202; s=0.02: 0.997 at 452). Below ~2% no affordable ef helps (s=0.01: 0.84 at ef
    640), which is why the shard answers such filters by exact search instead
    (``IndexConfig.exact_search_selectivity``). ``ceiling`` bounds the cost, never below k.

    Deeper lists grow with ``sqrt(k / 10)``, not with k: on the Home Depot title vectors,
    k=100 unfiltered, efSearch 203 gives recall@100 0.992 at p50 0.67 ms where 640 (the
    linear rule) gave 0.999 at 2.16 ms (``bench_ann --k 100``), and the live search
    page's NDCG@10 did not drop (docs/benchmarks.md).
    """
    selectivity = min(max(selectivity, 1e-4), 1.0)
    ef = base * math.sqrt(max(1.0, k / 10)) / math.sqrt(selectivity)
    return int(min(max(math.ceil(ef), k), max(ceiling, k)))


def parse_category(category: Category) -> tuple[str, ...]:
    """A category filter as path levels: a list as given, or ``"A > B"`` split on ``>``."""
    if category is None:
        return ()
    levels = category.split(">") if isinstance(category, str) else category
    return tuple(level.strip() for level in levels if level and level.strip())


def merge_shard_results(found: Sequence[tuple[HnswShard, np.ndarray, np.ndarray]], k: int,
                        queries: int) -> list[list[SearchHit]]:
    """Each query's best ``k`` over several shards' ``search_arrays`` results, best first
    (ties keep shard order). The merge runs on the score arrays: only the ``k`` winners
    become ``SearchHit`` objects, not every shard's ``k``."""
    if not found:
        return [[] for _ in range(queries)]
    if len(found) == 1:  # one shard's results are already best first
        shard, scores, ids = found[0]
        return [shard.hits(s, i) for s, i in zip(scores, ids, strict=True)]
    scores = np.concatenate([s for _, s, _ in found], axis=1)
    ids = np.concatenate([i for _, _, i in found], axis=1)
    owner = np.concatenate([np.full(i.shape[1], n, dtype=np.int32)
                            for n, (_, _, i) in enumerate(found)])
    if scores.shape[1] > k:
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        # best first; among equal scores, the earlier column (shard order, then rank)
        order = np.lexsort((top, -top_scores), axis=1)
        top = np.take_along_axis(top, order, axis=1)
    else:
        top = np.argsort(-scores, axis=1, kind="stable")
    top_ids = np.take_along_axis(ids, top, axis=1)
    top_owner = owner[top]
    skus = np.full(top.shape, None, dtype=object)
    for n, (shard, _, _) in enumerate(found):  # one lookup call per shard, not per hit
        chosen = (top_owner == n) & (top_ids >= 0)
        if chosen.any():
            skus[chosen] = shard.skus_of(top_ids[chosen].tolist())
    names = [shard.name for shard, _, _ in found]
    return [
        [SearchHit(sku, score, names[n])
         for sku, score, n in zip(row_skus, row_scores, row_owner, strict=True)
         if sku is not None]
        for row_skus, row_scores, row_owner in zip(
            skus.tolist(), np.take_along_axis(scores, top, axis=1).tolist(),
            top_owner.tolist(), strict=True)
    ]


class _ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class ShardedIndex:
    """Product vectors of one model in HNSW shards, with filtered search and similar items."""

    def __init__(
        self,
        dim: int,
        model_id: str,
        router: ShardRouter | None = None,
        config: IndexConfig | None = None,
    ) -> None:
        self.dim = dim
        self.model_id = model_id
        self.config = config or IndexConfig()
        self.router = router or router_from_spec(
            {"kind": self.config.router, "shards": self.config.hash_shards}
        )
        self._shards: dict[str, HnswShard] = {}
        self._shard_of: dict[str, str] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        self._lock = _ReadWriteLock()
        self._journals: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        self._compaction = threading.Lock()

    @classmethod
    def from_shards(
        cls,
        dim: int,
        model_id: str,
        router: ShardRouter,
        config: IndexConfig,
        shards: Sequence[HnswShard],
        metadata: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> ShardedIndex:
        """An index around existing shards (a restored snapshot)."""
        index = cls(dim, model_id, router, config)
        for shard in shards:
            if shard.dim != dim:
                raise ValueError(f"shard {shard.name!r} has dim {shard.dim}, the index {dim}")
            index._shards[shard.name] = shard
            index._shard_of.update(dict.fromkeys(shard.skus(), shard.name))
        index._metadata = {sku: dict(m) for sku, m in (metadata or {}).items()}
        return index

    # --- mutation -------------------------------------------------------------------------

    def upsert(
        self,
        sku: str,
        vector: np.ndarray,
        category_path: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Insert or replace one product; returns the name of the shard that now holds it."""
        vectors = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        return self.upsert_many([sku], vectors, [category_path], [metadata])[0]

    def upsert_many(
        self,
        skus: Sequence[str],
        vectors: np.ndarray,
        category_paths: Sequence[Sequence[str]] | None = None,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[str]:
        """Insert or replace a batch (one FAISS add per shard); the shard of each sku.

        ``metadata`` (small JSON-able dicts, e.g. title, brand, price, available) replaces
        what was stored for the sku; ``None`` stores nothing.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(vectors) != len(skus):
            raise ValueError(f"need {len(skus)} vectors of dim {self.dim}, got {vectors.shape}")
        paths = [tuple(p) for p in category_paths] if category_paths else [()] * len(skus)
        shards = [self.router.shard_for(sku, path) for sku, path in zip(skus, paths, strict=True)]
        last = {sku: row for row, sku in enumerate(skus)}  # a sku twice in a batch: last wins
        groups: dict[str, list[int]] = {}
        for row in sorted(last.values()):
            groups.setdefault(shards[row], []).append(row)
        with self._lock.write():
            for sku, row in last.items():
                old = self._shard_of.get(sku)
                if old is not None and old != shards[row]:
                    self._apply(old, "delete", (sku,))
                self._shard_of[sku] = shards[row]
                item_metadata = metadata[row] if metadata is not None else None
                if item_metadata is None:
                    self._metadata.pop(sku, None)
                else:
                    self._metadata[sku] = dict(item_metadata)
            for name, rows in groups.items():
                args = ([skus[r] for r in rows], vectors[rows], [paths[r] for r in rows])
                self._apply(name, "upsert_many", args)
        return shards

    def delete(self, sku: str) -> bool:
        """Remove a product; ``False`` when the index does not hold it."""
        with self._lock.write():
            shard = self._shard_of.pop(sku, None)
            self._metadata.pop(sku, None)
            if shard is None:
                return False
            self._apply(shard, "delete", (sku,))
            return True

    def _apply(self, name: str, operation: str, args: tuple[Any, ...]) -> None:
        """Run a shard mutation (write lock held), journaled while the shard is compacting."""
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = HnswShard(self.dim, self.config, name)
        getattr(shard, operation)(*args)
        journal = self._journals.get(name)
        if journal is not None:
            journal.append((operation, args))

    # --- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._shard_of)

    def __contains__(self, sku: object) -> bool:
        return sku in self._shard_of

    @property
    def shards(self) -> Mapping[str, HnswShard]:
        """The shards by name (read them under ``read_lock``)."""
        return self._shards

    def shard_of(self, sku: str) -> str | None:
        return self._shard_of.get(sku)

    def metadata(self, sku: str) -> dict[str, Any] | None:
        """What ``upsert`` stored with the product (for filters and hydration), if anything."""
        return self._metadata.get(sku)

    def all_metadata(self) -> dict[str, dict[str, Any]]:
        """Every product's stored metadata (read it under ``read_lock``; do not modify)."""
        return self._metadata

    def vector(self, sku: str) -> np.ndarray | None:
        with self._lock.read():
            shard = self._shard_of.get(sku)
            return None if shard is None else self._shards[shard].vector(sku)

    def vectors(self, skus: Sequence[str]) -> list[np.ndarray | None]:
        """``vector`` for many skus under one lock and one storage read per shard, instead
        of one of each per sku (the rerank and diversify stages look up up to 100)."""
        out: list[np.ndarray | None] = [None] * len(skus)
        with self._lock.read():
            by_shard: dict[str, list[int]] = {}
            for position, sku in enumerate(skus):
                shard = self._shard_of.get(sku)
                if shard is not None:
                    by_shard.setdefault(shard, []).append(position)
            for shard, positions in by_shard.items():
                found = self._shards[shard].vectors([skus[i] for i in positions])
                for position, vector in zip(positions, found, strict=True):
                    out[position] = vector
        return out

    def stats(self) -> dict[str, dict[str, float]]:
        """Per shard: live vectors, vectors in the graph and the tombstone ratio."""
        with self._lock.read():
            return {
                name: {"live": len(s), "total": s.total, "tombstone_ratio": s.tombstone_ratio}
                for name, s in sorted(self._shards.items())
            }

    @contextmanager
    def read_lock(self) -> Iterator[None]:
        """Hold off mutations (searches still run), e.g. while a snapshot is written."""
        with self._lock.read():
            yield

    def search(
        self,
        query: np.ndarray,
        k: int = 10,
        category: Category = None,
        ef_search: int | None = None,
    ) -> list[SearchHit]:
        """The ``k`` nearest products to one query vector, best first, optionally in a category."""
        return self.search_many(
            np.asarray(query, dtype=np.float32).reshape(1, -1), k, category, ef_search
        )[0]

    def search_many(
        self,
        queries: np.ndarray,
        k: int = 10,
        category: Category = None,
        ef_search: int | None = None,
    ) -> list[list[SearchHit]]:
        """``search`` for each row of ``queries``; ``ef_search`` overrides the per-request rule."""
        queries = unit_rows(queries)
        if queries.shape[1] != self.dim:
            raise ValueError(f"queries have dim {queries.shape[1]}, the index {self.dim}")
        prefix = parse_category(category)
        if k <= 0:
            return [[] for _ in range(len(queries))]
        with self._lock.read():
            candidates = self.router.shards_for_category(prefix) if prefix else None
            names = [n for n in self._shards if candidates is None or n in candidates]
            found: list[tuple[HnswShard, np.ndarray, np.ndarray]] = []
            for name in names:
                shard = self._shards[name]
                allowed = shard.category_mask(prefix)
                count = shard.count_allowed(allowed)
                if count == 0:
                    continue
                ef = ef_search or choose_ef_search(
                    k, count / len(shard), self.config.ef_search, self.config.max_ef_search
                )
                found.append((shard, *shard.search_arrays(queries, k, ef, allowed,
                                                          normalized=True)))
            return merge_shard_results(found, k, len(queries))

    def similar(self, sku: str, k: int = 10, category: Category = None) -> list[SearchHit]:
        """The ``k`` products nearest to ``sku``, never ``sku`` itself; KeyError if unknown."""
        vector = self.vector(sku)
        if vector is None:
            raise KeyError(f"the index has no product {sku!r}")
        hits = self.search(vector, k + 1, category)
        return [hit for hit in hits if hit.sku != sku][:k]

    # --- compaction -----------------------------------------------------------------------

    def shards_needing_compaction(self) -> list[str]:
        with self._lock.read():
            return sorted(name for name, s in self._shards.items() if s.needs_rebuild)

    def compact(self, names: Sequence[str] | None = None) -> list[str]:
        """Rebuild shards (default: those that need it) without blocking searches.

        The new graph is built outside the lock; mutations meanwhile go to the old shard
        and to a journal that is replayed on the new one before the swap. Run it from a
        worker thread (it takes as long as building the shard). Returns the shards rebuilt.
        """
        with self._compaction:
            names = list(names) if names is not None else self.shards_needing_compaction()
            for name in names:
                with self._lock.read():  # copies the live vectors; searches go on
                    shard = self._shards.get(name)
                    if shard is None:
                        continue
                    items = shard.live_items()
                    self._journals[name] = []
                try:
                    fresh = HnswShard.build(self.dim, self.config, name, *items)
                    with self._lock.write():
                        for operation, args in self._journals[name]:
                            getattr(fresh, operation)(*args)
                        self._shards[name] = fresh
                finally:
                    with self._lock.write():
                        self._journals.pop(name, None)
            return names
