"""One HNSW graph of product vectors, with upserts, deletes by tombstone, and compaction.

FAISS's HNSW cannot remove a vector, and its ids are the insertion order. So a shard
keeps its own maps: every vector ever added has an *internal id* (its row); a sku
points at one live internal id. A changed vector is added under a new internal id and
the old one becomes a *tombstone*: it stays in the graph (still useful as a routing
node) but an ``IDSelectorBitmap`` keeps it out of every result. ``rebuild()`` compacts
the live vectors into a fresh graph once tombstones pass ``compaction_ratio``.

Vectors are L2-normalised and compared by inner product (= cosine). Storage:

- ``flat``: float32 in the FAISS index, read back from it for exact search, ``vector()``
  and rebuilds (no second copy).
- ``fp16``: half the bytes; vectors are rounded to float16 on insert and read back
  decoded (float16 -> float32 -> float16 is exact, so rebuilds lose nothing more).
- ``sq8``: a quarter of the bytes, but lossy: the shard keeps the raw float32 rows
  beside the index (so it saves no RAM overall) to rescore ``k * refine_factor``
  candidates exactly and to retrain the quantiser on rebuild.

Filtering: ``search(..., allowed=mask)`` takes a boolean mask over internal ids (for
example ``category_mask``). Tombstones are always excluded. When the filter leaves at
most ``exact_search_below`` vectors, or less than ``exact_search_selectivity`` of the
shard, the shard answers by exact search over them: faster for few vectors, and exact
where HNSW's filtered search loses recall (it collapses below ~2% selectivity). A batch
of queries against a small shard (``exact_batch_below``) is answered by one matrix product
over all its vectors, tombstones and filtered-out rows masked. FAISS pads missing results
with id ``-1``; those never reach the caller.

Not thread-safe: ``ShardedIndex`` serialises mutations against searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import faiss
import numpy as np
import orjson

from streamrec.indexer.index_config import IndexConfig
from streamrec.indexer.text_encoder import l2_normalize_rows

FORMAT_VERSION = 1


class SearchHit(NamedTuple):
    sku: str
    score: float
    """Inner product of unit vectors (cosine); exact for flat storage and refined results."""
    shard: str


def _no_hits(queries: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((queries, 0), dtype=np.float32), np.zeros((queries, 0), dtype=np.int64)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows, normalised only where not already of unit length.

    Vectors from ``catalog.vectors`` arrive normalised; keeping their exact bits means
    a replayed, unchanged vector compares equal to the stored one (no new id).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    off = np.abs(norms - 1.0) > 1e-5
    if off.any():
        vectors = vectors.copy()
        vectors[off] = l2_normalize_rows(vectors[off])
    return vectors


def _grow(array: np.ndarray, needed: int) -> np.ndarray:
    """``array`` with room for ``needed`` rows (capacity doubles; new rows are zero)."""
    if needed <= array.shape[0]:
        return array
    capacity = max(needed, 2 * array.shape[0], 1024)
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


EXACT_BATCH_SCORES = 8_000_000
"""Scores (float32) per matrix product of ``_exact_batch``: 32 MB."""


class HnswShard:
    """A FAISS ``IndexHNSWFlat``/``IndexHNSWSQ`` with sku maps and tombstones."""

    def __init__(self, dim: int, config: IndexConfig | None = None, name: str = "") -> None:
        self.dim = dim
        self.config = config or IndexConfig()
        self.name = name
        self._index = self._new_index()
        self._ids: dict[str, int] = {}
        self._skus: list[str | None] = []
        self._live = np.zeros(0, dtype=bool)
        self._codes = np.zeros(0, dtype=np.int32)
        self._paths: list[tuple[str, ...]] = []
        self._path_codes: dict[tuple[str, ...], int] = {}
        self._raw = np.zeros((0, dim), dtype=np.float32) if self._keeps_raw else None
        self._trained_on_data = self.config.storage != "sq8"
        self._cheap_rows = 0
        """Vectors inserted with the small-shard efConstruction (see ``needs_rebuild``)."""
        self._cache: dict[Any, Any] = {}

    # --- building blocks ------------------------------------------------------------------

    @property
    def _lossy(self) -> bool:
        return self.config.storage != "flat"

    @property
    def _keeps_raw(self) -> bool:
        return self.config.storage == "sq8"

    def _as_stored(self, vectors: np.ndarray) -> np.ndarray:
        """What the index returns for these vectors once stored (fp16 rounds them)."""
        if self.config.storage == "fp16":
            return vectors.astype(np.float16).astype(np.float32)
        return vectors

    def _new_index(self) -> faiss.Index:
        config, metric = self.config, faiss.METRIC_INNER_PRODUCT
        if config.storage == "flat":
            index = faiss.IndexHNSWFlat(self.dim, config.hnsw_m, metric)
        else:
            kind = {"fp16": faiss.ScalarQuantizer.QT_fp16, "sq8": faiss.ScalarQuantizer.QT_8bit}
            index = faiss.IndexHNSWSQ(self.dim, kind[config.storage], config.hnsw_m, metric)
        index.hnsw.efConstruction = config.ef_construction
        return index

    def _train(self, vectors: np.ndarray) -> None:
        """Train a lossy quantiser: on real vectors when there are enough, else on [-1, 1]."""
        if len(vectors) >= self.config.sq_min_train or self.config.storage == "fp16":
            self._index.train(vectors)
            self._trained_on_data = True
        else:  # unit vectors lie in [-1, 1] in every dimension: coarse but safe ranges
            bounds = np.stack([-np.ones(self.dim), np.ones(self.dim)]).astype(np.float32)
            self._index.train(bounds)
            self._trained_on_data = False

    def _stored(self, ids: np.ndarray | int) -> np.ndarray:
        """Stored float32 vectors of internal ids (a view for flat storage: read it at once)."""
        if self._raw is not None:
            return self._raw[ids]
        count = self._index.ntotal
        if count == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # The SWIG calls below cost ~50 us each; keep the view until the index object or its
        # size changes (an add may move the buffer, and then ntotal changes too).
        cached = getattr(self, "_view_cache", None)
        if cached is not None and cached[0] is self._index and cached[1] == count:
            return cached[2][ids]
        storage = faiss.downcast_index(self._index.storage)
        if self.config.storage == "fp16":
            keys = np.atleast_1d(np.asarray(ids, dtype=np.int64))
            decoded = storage.reconstruct_batch(keys)
            return decoded if np.ndim(ids) else decoded[0]
        view = faiss.rev_swig_ptr(storage.get_xb(), count * self.dim).reshape(count, self.dim)
        self._view_cache = (self._index, count, view)
        return view[ids]

    def _path_code(self, path: Sequence[str]) -> int:
        key = tuple(path)
        code = self._path_codes.get(key)
        if code is None:
            code = self._path_codes[key] = len(self._paths)
            self._paths.append(key)
        return code

    def _changed(self) -> None:
        self._cache.clear()

    # --- mutation -------------------------------------------------------------------------

    def upsert(self, sku: str, vector: np.ndarray, category_path: Sequence[str] = ()) -> None:
        """Insert or replace one product's vector (see ``upsert_many``)."""
        self.upsert_many([sku], np.asarray(vector, dtype=np.float32)[None, :], [category_path])

    def upsert_many(
        self,
        skus: Sequence[str],
        vectors: np.ndarray,
        category_paths: Sequence[Sequence[str]] | None = None,
    ) -> int:
        """Insert or replace products; returns how many vectors were added to the graph.

        An unchanged vector only updates the category path in place (so replaying a
        topic changes nothing); a changed one gets a new internal id and its old id
        becomes a tombstone. Within one call the last occurrence of a sku wins.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(vectors) != len(skus):
            raise ValueError(f"need {len(skus)} vectors of dim {self.dim}, got {vectors.shape}")
        if not len(skus):
            return 0
        norms = np.linalg.norm(vectors, axis=1)
        if not np.all(np.isfinite(norms) & (norms > 1e-6)):
            raise ValueError("vectors must be finite and non-zero")
        vectors = unit_rows(vectors)
        paths = category_paths if category_paths is not None else [()] * len(skus)
        last = {sku: row for row, sku in enumerate(skus)}
        rows = sorted(last.values())
        add_rows: list[int] = []
        for row in rows:
            sku, code = skus[row], self._path_code(paths[row])
            old = self._ids.get(sku)
            if old is not None and np.array_equal(self._stored(old), self._as_stored(vectors[row])):
                self._codes[old] = code
                continue
            if old is not None:
                self._live[old] = False
                self._skus[old] = None
            add_rows.append(row)
        if add_rows:
            self._add(
                [skus[r] for r in add_rows],
                vectors[add_rows],
                [self._path_code(paths[r]) for r in add_rows],
            )
        self._changed()
        return len(add_rows)

    def _add(self, skus: list[str], vectors: np.ndarray, codes: list[int]) -> None:
        start = self._index.ntotal
        if not self._index.is_trained:
            self._train(vectors)
        end = start + len(skus)
        self._live = _grow(self._live, end)
        self._codes = _grow(self._codes, end)
        if self._raw is not None:
            self._raw = _grow(self._raw, end)
            self._raw[start:end] = vectors
        ef_construction = self.config.ef_construction_at(end)
        if ef_construction < self.config.ef_construction:
            self._cheap_rows += len(skus)
        self._index.hnsw.efConstruction = ef_construction
        self._index.add(vectors)
        self._live[start:end] = True
        self._codes[start:end] = codes
        self._skus.extend(skus)
        for offset, sku in enumerate(skus):
            self._ids[sku] = start + offset

    def delete(self, sku: str) -> bool:
        """Tombstone a product's vector; ``False`` when the shard does not hold the sku."""
        internal = self._ids.pop(sku, None)
        if internal is None:
            return False
        self._live[internal] = False
        self._skus[internal] = None
        self._changed()
        return True

    # --- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, sku: object) -> bool:
        return sku in self._ids

    @property
    def total(self) -> int:
        """Vectors in the graph, tombstones included."""
        return int(self._index.ntotal)

    @property
    def tombstone_ratio(self) -> float:
        total = self.total
        return (total - len(self._ids)) / total if total else 0.0

    @property
    def needs_rebuild(self) -> bool:
        """Too many tombstones, a quantiser still on its coarse start-up ranges, or a shard
        grown big on a graph begun with the small-shard efConstruction: the graph's first
        nodes (its upper layers, where every search starts) stay as cheaply linked as they
        were built, which cost 1M vectors recall@10 0.989 -> 0.960 at efSearch 64
        (bench_ann, the first 200,000 at efConstruction 100). A rebuild links them all at
        the big-shard efConstruction, once."""
        if self.tombstone_ratio >= self.config.compaction_ratio:
            return True
        if self._cheap_rows and len(self) >= self.config.small_shard_below:
            return True
        return not self._trained_on_data and len(self) >= self.config.sq_min_train

    def skus(self) -> list[str]:
        """The live skus."""
        return list(self._ids)

    def vector(self, sku: str) -> np.ndarray | None:
        """The product's stored unit vector (a copy), or ``None``."""
        internal = self._ids.get(sku)
        return None if internal is None else np.array(self._stored(internal), dtype=np.float32)

    def vectors(self, skus: Sequence[str]) -> list[np.ndarray | None]:
        """``vector`` for many skus with one read of the storage (copies, in order)."""
        internal = [self._ids.get(sku) for sku in skus]
        rows = [i for i in internal if i is not None]
        if not rows:
            return [None] * len(skus)
        stored = iter(np.array(self._stored(np.asarray(rows, dtype=np.int64)),
                               dtype=np.float32))
        return [None if i is None else next(stored) for i in internal]

    def category_path(self, sku: str) -> tuple[str, ...] | None:
        internal = self._ids.get(sku)
        return None if internal is None else self._paths[self._codes[internal]]

    def category_mask(self, prefix: Sequence[str]) -> np.ndarray | None:
        """Internal ids whose category path starts with ``prefix``; ``None`` = no restriction."""
        prefix = tuple(prefix)
        if not prefix:
            return None
        key = ("category", prefix)
        if key not in self._cache:
            depth = len(prefix)
            matches = np.array([p[:depth] == prefix for p in self._paths], dtype=bool)
            if matches.all():
                self._cache[key] = None
            else:
                self._cache[key] = matches[self._codes[: self.total]]
        return self._cache[key]

    def count_allowed(self, allowed: np.ndarray | None) -> int:
        """Live vectors a mask lets through (all live vectors for ``None``)."""
        if allowed is None:
            return len(self._ids)
        total = self.total
        return int(np.count_nonzero(allowed[:total] & self._live[:total]))

    def search(
        self,
        queries: np.ndarray,
        k: int,
        ef_search: int | None = None,
        allowed: np.ndarray | None = None,
        *,
        normalized: bool = False,
    ) -> list[list[SearchHit]]:
        """The ``k`` best live neighbours of each query row, best first.

        ``allowed``: a boolean mask over internal ids (``None``: every live vector).
        Fewer than ``k`` come back when fewer qualify; FAISS's ``-1`` padding is dropped.
        ``normalized=True`` skips normalising queries the caller already normalised.
        """
        scores, ids = self.search_arrays(queries, k, ef_search, allowed, normalized=normalized)
        return [self.hits(s, i) for s, i in zip(scores, ids, strict=True)]

    def search_arrays(
        self,
        queries: np.ndarray,
        k: int,
        ef_search: int | None = None,
        allowed: np.ndarray | None = None,
        *,
        normalized: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``search`` as two ``(len(queries), <= k)`` arrays, scores best first and internal
        ids (``-1`` where fewer qualify, score ``-inf``): what a caller merging several
        shards needs, without a Python object per hit (``skus_of`` names the ids)."""
        queries = queries if normalized else unit_rows(queries)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries have shape {queries.shape}, the shard dim {self.dim}")
        total = self.total
        if k <= 0 or not self._ids or not len(queries):
            return _no_hits(len(queries))
        mask = None
        if allowed is not None:
            mask = allowed[:total] & self._live[:total]
        elif len(self._ids) < total:
            mask = self._live[:total]
        count = len(self._ids) if mask is None else int(np.count_nonzero(mask))
        if count == 0:
            return _no_hits(len(queries))
        if len(queries) >= self.config.exact_batch_min and total <= self.config.exact_batch_below:
            scores, ids = self._exact_batch(queries, min(k, count), mask)
        else:
            selective = count < self.config.exact_search_selectivity * len(self._ids)
            if mask is not None and (count <= self.config.exact_search_below or selective):
                scores, ids = self._exact_search(queries, k, np.flatnonzero(mask))
            else:
                scores, ids = self._graph_search(queries, k, mask, allowed is None, ef_search)
        # FAISS's padding, and (defensively) any id no longer live
        valid = (ids >= 0) & self._live[np.maximum(ids, 0)]
        if not valid.all():
            scores = np.where(valid, scores, -np.inf).astype(np.float32, copy=False)
            ids = np.where(valid, ids, -1)
        return scores, ids

    def _graph_search(self, queries: np.ndarray, k: int, mask: np.ndarray | None,
                      tombstones_only: bool, ef_search: int | None
                      ) -> tuple[np.ndarray, np.ndarray]:
        wanted = k * self.config.refine_factor if self._raw is not None else k
        ef = max(ef_search or self.config.ef_search, wanted)
        bits = None
        if mask is None:
            params = faiss.SearchParametersHNSW(efSearch=ef)
        else:
            if tombstones_only:  # the same bitmap until the next mutation
                bits = self._cache.get("live_bits")
                if bits is None:
                    bits = self._cache["live_bits"] = np.packbits(mask, bitorder="little")
            else:
                bits = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            params = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)
        scores, ids = self._index.search(queries, wanted, params=params)
        del bits  # the selector points into it: kept alive until the search returned
        if wanted > k:
            scores, ids = self._refine(queries, ids, k)
        return scores, ids

    def skus_of(self, ids: Sequence[int]) -> list[str | None]:
        """The skus of internal ids (None for a deleted one)."""
        skus = self._skus
        return [skus[i] for i in ids]

    def _refine(
        self, queries: np.ndarray, ids: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rescore quantised candidates with the raw vectors; keep the best ``k``, exact."""
        assert self._raw is not None
        safe = np.maximum(ids, 0)
        exact = np.einsum("qd,qcd->qc", queries, self._raw[safe])
        exact[ids < 0] = -np.inf
        order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(exact, order, axis=1)
        best_ids = np.take_along_axis(ids, order, axis=1)
        return best_scores, np.where(np.isfinite(best_scores), best_ids, -1)

    def hits(self, scores: np.ndarray, ids: np.ndarray) -> list[SearchHit]:
        """One query's ``search_arrays`` row as hits; FAISS's -1 padding (fewer than k
        qualify) and tombstones dropped."""
        skus, name = self._skus, self.name
        return [
            SearchHit(skus[i], score, name)
            for score, i in zip(scores.tolist(), ids.tolist(), strict=True)
            if i >= 0 and skus[i] is not None
        ]

    def _exact_batch(self, queries: np.ndarray, k: int, mask: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` (<= the rows ``mask`` allows) of every query over the whole shard."""
        total = self.total
        stored = self._stored(np.arange(total)) if self.config.storage == "fp16" else \
            self._stored(slice(0, total))  # a view for flat storage and sq8's raw rows
        all_scores: list[np.ndarray] = []
        all_ids: list[np.ndarray] = []
        step = max(1, EXACT_BATCH_SCORES // total)  # bounds the score matrix's memory
        for start in range(0, len(queries), step):
            scores = queries[start:start + step] @ stored.T
            if mask is not None:
                scores[:, ~mask] = -np.inf  # k never exceeds the allowed rows: none returned
            if k < total:
                top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            else:
                top = np.broadcast_to(np.arange(total), scores.shape)
            top_scores = np.take_along_axis(scores, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            all_scores.append(np.take_along_axis(top_scores, order, axis=1))
            all_ids.append(np.take_along_axis(top, order, axis=1))
        return np.concatenate(all_scores), np.concatenate(all_ids)

    def _exact_search(self, queries: np.ndarray, k: int, ids: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over a few internal ids (faiss.knn: no BLAS thread pile-up)."""
        vectors = np.ascontiguousarray(self._stored(ids), dtype=np.float32)
        metric = faiss.METRIC_INNER_PRODUCT
        scores, rows = faiss.knn(queries, vectors, min(k, len(ids)), metric=metric)
        return scores, np.where(rows >= 0, ids[np.maximum(rows, 0)], -1)

    # --- compaction -----------------------------------------------------------------------

    def live_items(self) -> tuple[list[str], np.ndarray, list[tuple[str, ...]]]:
        """Copies of the live skus, vectors and category paths, in internal-id order."""
        ids = np.flatnonzero(self._live[: self.total])
        skus = [self._skus[i] for i in ids.tolist()]
        paths = [self._paths[c] for c in self._codes[ids].tolist()]
        return skus, np.array(self._stored(ids), dtype=np.float32), paths

    @classmethod
    def build(
        cls,
        dim: int,
        config: IndexConfig,
        name: str,
        skus: list[str],
        vectors: np.ndarray,
        paths: Sequence[Sequence[str]],
    ) -> HnswShard:
        """A fresh shard holding exactly these products (quantiser trained on them)."""
        shard = cls(dim, config, name)
        if skus:
            if shard._lossy:
                shard._train(unit_rows(vectors))
            shard.upsert_many(skus, vectors, paths)
        return shard

    def rebuild(self) -> None:
        """Compact in place: live vectors into a fresh graph, tombstones gone, ids renumbered."""
        fresh = HnswShard.build(self.dim, self.config, self.name, *self.live_items())
        self.__dict__.update(fresh.__dict__)

    # --- persistence ----------------------------------------------------------------------

    def save(self, directory: Path, stem: str) -> list[Path]:
        """Write ``<stem>.faiss``, ``<stem>.npz`` and ``<stem>.json``; the caller fsyncs them."""
        total = self.total
        graph, arrays, meta = (directory / f"{stem}{ext}" for ext in (".faiss", ".npz", ".json"))
        faiss.write_index(self._index, str(graph))
        columns = {"live": self._live[:total], "codes": self._codes[:total]}
        if self._raw is not None:
            columns["raw"] = self._raw[:total]
        with arrays.open("wb") as fh:
            np.savez(fh, **columns)
        meta.write_bytes(
            orjson.dumps(
                {
                    "format": FORMAT_VERSION,
                    "name": self.name,
                    "dim": self.dim,
                    "storage": self.config.storage,
                    "hnsw_m": self.config.hnsw_m,
                    "trained_on_data": self._trained_on_data,
                    "cheap_rows": self._cheap_rows,
                    "paths": self._paths,
                    "skus": self._skus,
                }
            )
        )
        return [graph, arrays, meta]

    @classmethod
    def load(cls, directory: Path, stem: str, config: IndexConfig | None = None) -> HnswShard:
        """The shard ``save`` wrote; storage and M come from the files, the rest from config."""
        meta = orjson.loads((directory / f"{stem}.json").read_bytes())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{stem}: unsupported shard format {meta.get('format')!r}")
        config = replace(config or IndexConfig(), storage=meta["storage"], hnsw_m=meta["hnsw_m"])
        shard = cls(meta["dim"], config, meta["name"])
        shard._index = faiss.read_index(str(directory / f"{stem}.faiss"))
        with np.load(directory / f"{stem}.npz") as arrays:
            shard._live = arrays["live"].copy()
            shard._codes = arrays["codes"].copy()
            if shard._raw is not None:
                shard._raw = arrays["raw"].copy()
        shard._paths = [tuple(p) for p in meta["paths"]]
        shard._path_codes = {p: code for code, p in enumerate(shard._paths)}
        shard._skus = meta["skus"]
        shard._ids = {sku: i for i, sku in enumerate(shard._skus) if sku is not None}
        shard._trained_on_data = meta["trained_on_data"]
        shard._cheap_rows = int(meta.get("cheap_rows", 0))  # absent in older snapshots
        if shard.total != len(shard._skus) or len(shard._live) != shard.total:
            raise ValueError(f"{stem}: graph, id map and tombstones disagree on the count")
        return shard
