"""Snapshots of a ``ShardedIndex`` with the ``catalog.vectors`` offsets they contain.

Kafka is the source of truth; a snapshot only makes a restart fast. An index replica
restores the latest snapshot, seeks every ``catalog.vectors`` partition to the
snapshot's offset and replays the rest (upserts are idempotent, so overlap is harmless).

Layout: ``<directory>/snapshot-<seq>/`` holds, per shard, the serialised FAISS graph
(``shard-NNNN.faiss``, loaded as is: restore never re-inserts vectors), its tombstone
and category columns (``.npz``) and its id map (``.json``); ``metadata.json``; and
``manifest.json`` (model id, dim, router, offsets ``{"<partition>": next_offset}``, the
files and their sizes), written last.

Atomicity: everything is written into ``.tmp-snapshot-*`` in the same directory, each
file fsynced, the folder fsynced, renamed to ``snapshot-<seq>`` and the parent fsynced.
A crash leaves at worst a temporary folder, which loading ignores and a later write
deletes. Loading checks the manifest's file sizes and falls back to the previous
snapshot when the newest is unreadable. ``keep`` (default ``IndexConfig.snapshot_keep``)
snapshots survive each write.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from streamrec.indexer.hnsw_shard import HnswShard
from streamrec.indexer.index_config import IndexConfig
from streamrec.indexer.shard_router import router_from_spec
from streamrec.indexer.sharded_index import ShardedIndex

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
METADATA = "metadata.json"
TEMP_PREFIX = ".tmp-snapshot-"
STALE_TEMP_S = 3600.0
"""A temporary folder older than this is a crashed write, deleted by the next write."""
_SNAPSHOT = re.compile(r"^snapshot-(\d{10})$")


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _snapshots(directory: Path) -> list[tuple[int, Path]]:
    """Complete snapshots, newest first."""
    if not directory.is_dir():
        return []
    found = []
    for child in directory.iterdir():
        match = _SNAPSHOT.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found, reverse=True)


def write_snapshot(
    index: ShardedIndex,
    directory: str | Path,
    offsets: Mapping[str | int, int],
    keep: int | None = None,
) -> Path:
    """Write ``index`` with the offsets it contains; returns the new snapshot's folder.

    ``offsets``: for each ``catalog.vectors`` partition, the offset of the next record
    not yet applied to ``index``. Mutations wait while the files are written (searches
    do not), so the contents match the offsets exactly.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    offsets = {str(int(p)): int(o) for p, o in offsets.items()}
    if any(o < 0 for o in offsets.values()):
        raise ValueError(f"offsets must be >= 0: {offsets}")
    existing = _snapshots(directory)
    sequence = existing[0][0] + 1 if existing else 1
    final = directory / f"snapshot-{sequence:010d}"
    temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=directory))
    try:
        started = time.perf_counter()
        shards = []
        with index.read_lock():
            for number, (name, shard) in enumerate(sorted(index.shards.items())):
                stem = f"shard-{number:04d}"
                shard.save(temp, stem)
                shards.append(
                    {"name": name, "stem": stem, "live": len(shard), "total": shard.total}
                )
            (temp / METADATA).write_bytes(orjson.dumps(index.all_metadata()))
            count = len(index)
        files = {p.name: p.stat().st_size for p in sorted(temp.iterdir())}
        manifest = {
            "format": FORMAT_VERSION,
            "sequence": sequence,
            "created_at_ms": int(time.time() * 1000),
            "model_id": index.model_id,
            "dim": index.dim,
            "router": index.router.spec(),
            "count": count,
            "offsets": offsets,
            "shards": shards,
            "files": files,
        }
        (temp / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        for path in temp.iterdir():
            _fsync_path(path)
        _fsync_path(temp)
        temp.rename(final)
        _fsync_path(directory)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    log.info(
        "snapshot %s: %d products, offsets %s, %.2fs",
        final.name,
        count,
        offsets,
        time.perf_counter() - started,
    )
    prune_snapshots(directory, keep if keep is not None else index.config.snapshot_keep)
    return final


def prune_snapshots(directory: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` snapshots, and stale temporary folders."""
    directory = Path(directory)
    removed = [path for _, path in _snapshots(directory)[max(keep, 1) :]]
    now = time.time()
    for child in directory.glob(f"{TEMP_PREFIX}*"):
        if now - child.stat().st_mtime > STALE_TEMP_S:
            removed.append(child)
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def read_manifest(snapshot: Path) -> dict[str, Any]:
    """A snapshot's manifest, after checking that its files are all there, whole."""
    manifest = orjson.loads((snapshot / MANIFEST).read_bytes())
    if manifest.get("format") != FORMAT_VERSION:
        raise ValueError(f"unsupported snapshot format {manifest.get('format')!r}")
    for name, size in manifest["files"].items():
        actual = (snapshot / name).stat().st_size
        if actual != size:
            raise ValueError(f"{name} has {actual} bytes, the manifest says {size}")
    return manifest


def load_snapshot(
    snapshot: str | Path, config: IndexConfig | None = None
) -> tuple[ShardedIndex, dict[str, int]]:
    """The index and offsets in one snapshot folder (the router comes from the manifest)."""
    snapshot = Path(snapshot)
    manifest = read_manifest(snapshot)
    config = config or IndexConfig()
    shards = [HnswShard.load(snapshot, s["stem"], config) for s in manifest["shards"]]
    for shard, entry in zip(shards, manifest["shards"], strict=True):
        if shard.name != entry["name"] or len(shard) != entry["live"]:
            raise ValueError(f"{entry['stem']} does not match the manifest")
    metadata = orjson.loads((snapshot / METADATA).read_bytes())
    index = ShardedIndex.from_shards(
        manifest["dim"],
        manifest["model_id"],
        router_from_spec(manifest["router"]),
        config,
        shards,
        metadata,
    )
    return index, {str(p): int(o) for p, o in manifest["offsets"].items()}


def load_latest_snapshot(
    directory: str | Path,
    config: IndexConfig | None = None,
    model_id: str | None = None,
) -> tuple[ShardedIndex, dict[str, int]] | None:
    """The newest readable snapshot (of ``model_id`` when given) and its offsets, or None.

    ``None`` means: start empty and replay ``catalog.vectors`` from the beginning.
    """
    for _, snapshot in _snapshots(Path(directory)):
        try:
            if model_id is not None:
                found = read_manifest(snapshot)["model_id"]
                if found != model_id:
                    log.info("snapshot %s is of model %s, skipped", snapshot.name, found)
                    continue
            started = time.perf_counter()
            index, offsets = load_snapshot(snapshot, config)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("snapshot %s is unreadable (%s); trying an older one", snapshot, exc)
            continue
        log.info(
            "restored %s: %d products in %.2fs",
            snapshot.name,
            len(index),
            time.perf_counter() - started,
        )
        return index, offsets
    return None
