"""RecSys Challenge 2015 (YOOCHOOSE) click sessions as CLICK events, plus a stub catalog.

Raw: ``<data_dir>/yoochoose_100k/clicks_train_full.tsv`` and ``clicks_test.tsv``, tab
separated with a header ``SessionId ItemId Time`` (Time in unix seconds, fractional).
A session's rows are contiguous and in time order; the file as a whole is not.

Ids: user and session ``yc-session-<SessionId>``; sku ``yc-<ItemId>``; event id
``yc-<SessionId>-<i>`` with ``i`` the click's position in its session (unique across
both splits: they share no session). The data set names no product, so the catalog
holds ``Item <ItemId>`` titles only, enough for the events' skus to resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal, NamedTuple

from streamrec.datasets.errors import DatasetFormatError
from streamrec.datasets.source_files import (
    check_table_header,
    read_table_rows,
    title_only_change,
)

DATASET = "yoochoose_100k"
SPLIT_FILES = {"train": "clicks_train_full.tsv", "test": "clicks_test.tsv"}
COLUMNS = ("SessionId", "ItemId", "Time")
SKU_PREFIX = "yc-"
EVENT_SOURCE = "yoochoose"

YoochooseSplit = Literal["train", "test"]
ClickOrder = Literal["time", "file"]


class Click(NamedTuple):
    ts_ms: int
    session: str
    position: int
    """Index of the click within its session."""
    item: str


class ClickSession(NamedTuple):
    """One session for session-based evaluation: predict ``skus[i + 1]`` from ``skus[: i + 1]``."""

    user_id: str
    skus: list[str]
    timestamps_ms: list[int]


def yoochoose_dir(data_dir: Path) -> Path:
    return Path(data_dir) / DATASET


def yoochoose_sku(item_id: str) -> str:
    return f"{SKU_PREFIX}{item_id}"


def yoochoose_user_id(session_id: str) -> str:
    return f"yc-session-{session_id}"


def yoochoose_clicks_path(data_dir: Path, split: YoochooseSplit) -> Path:
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {sorted(SPLIT_FILES)}, not {split!r}")
    return yoochoose_dir(data_dir) / SPLIT_FILES[split]


def yoochoose_click_events(
    data_dir: Path,
    *,
    split: YoochooseSplit = "train",
    order: ClickOrder = "time",
    limit_sessions: int | None = None,
    start_ms: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream the clicks of one split as CLICK ``UserEventIn``-shaped dicts.

    ``order="time"`` (default) sorts all clicks of the split by time, as a replay at the
    real pace needs; it holds one small tuple per click (~70k for train) in memory.
    ``order="file"`` streams session after session without holding anything.
    ``limit_sessions`` keeps the first N sessions of the file. ``start_ms`` shifts every
    timestamp so the earliest click is at that time, gaps kept (the real ones are in
    April 2014, older than a short topic retention).
    """
    if order not in ("time", "file"):
        raise ValueError(f"order must be 'time' or 'file', not {order!r}")
    path = yoochoose_clicks_path(data_dir, split)
    check_table_header(DATASET, path, COLUMNS, delimiter="\t")
    return _events(path, split, order, limit_sessions, start_ms)


def _events(
    path: Path,
    split: str,
    order: ClickOrder,
    limit_sessions: int | None,
    start_ms: int | None,
) -> Iterator[dict[str, Any]]:
    clicks: Iterable[Click] = _clicks(path, limit_sessions)
    if order == "time":
        clicks = sorted(clicks)
    shift = 0
    if start_ms is not None:
        first = min((click.ts_ms for click in _clicks(path, limit_sessions)), default=start_ms)
        shift = start_ms - first
    context = {"source": EVENT_SOURCE, "split": split}
    for click in clicks:
        user_id = yoochoose_user_id(click.session)
        yield {
            "event_id": f"yc-{click.session}-{click.position}",
            "user_id": user_id,
            "session_id": user_id,
            "type": "CLICK",
            "sku": yoochoose_sku(click.item),
            "query": None,
            "ts": click.ts_ms + shift,
            "context": dict(context),
        }


def yoochoose_sessions(
    data_dir: Path, *, split: YoochooseSplit = "test", limit_sessions: int | None = None
) -> Iterator[ClickSession]:
    """Stream whole sessions in file order, clicks in time order."""
    path = yoochoose_clicks_path(data_dir, split)
    check_table_header(DATASET, path, COLUMNS, delimiter="\t")
    return _sessions(path, limit_sessions)


def _sessions(path: Path, limit_sessions: int | None) -> Iterator[ClickSession]:
    current: str | None = None
    skus: list[str] = []
    times: list[int] = []
    for click in _clicks(path, limit_sessions):
        if click.session != current:
            if current is not None:
                yield ClickSession(yoochoose_user_id(current), skus, times)
            current, skus, times = click.session, [], []
        skus.append(yoochoose_sku(click.item))
        times.append(click.ts_ms)
    if current is not None:
        yield ClickSession(yoochoose_user_id(current), skus, times)


def yoochoose_catalog_changes(
    data_dir: Path,
    *,
    splits: tuple[YoochooseSplit, ...] = ("train", "test"),
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """One UPSERT per distinct item of the given splits, in order of first appearance."""
    paths = [yoochoose_clicks_path(data_dir, split) for split in splits]
    for path in paths:
        check_table_header(DATASET, path, COLUMNS, delimiter="\t")
    changes = _catalog(paths)
    return islice(changes, limit) if limit is not None else changes


def _catalog(paths: list[Path]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for path in paths:
        for row in read_table_rows(DATASET, path, COLUMNS, delimiter="\t"):
            item = row["ItemId"].strip()
            if not item or item in seen:
                continue
            seen.add(item)
            yield title_only_change(yoochoose_sku(item), f"Item {item}", len(seen) - 1)


def _clicks(path: Path, limit_sessions: int | None) -> Iterator[Click]:
    """The clicks of a file, each with its position in its session; the first N sessions."""
    positions: dict[str, int] = {}
    for line, row in enumerate(read_table_rows(DATASET, path, COLUMNS, delimiter="\t"), start=2):
        session, item = row["SessionId"].strip(), row["ItemId"].strip()
        if not session or not item:
            raise DatasetFormatError(f"{DATASET}: {path}:{line}: empty SessionId or ItemId")
        if session not in positions:
            if limit_sessions is not None and len(positions) >= limit_sessions:
                continue
            positions[session] = 0
        try:
            ts_ms = round(float(row["Time"]) * 1000)
        except ValueError:
            problem = f"{DATASET}: {path}:{line}: bad Time {row['Time']!r}"
            raise DatasetFormatError(problem) from None
        yield Click(ts_ms, session, positions[session], item)
        positions[session] += 1
