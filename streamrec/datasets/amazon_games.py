"""Amazon video-games reviews (LLMRank Games-6k split) as catalog changes and VIEW events.

Raw: ``<data_dir>/amazon_games/items.csv`` (item_id, title) and ``sequences_dev.csv``
(user_id, history = space-separated item ids in time order, target = the next item).
There are no timestamps: order within a history is the time order, so events get
``DATASET_EPOCH_MS + i`` seconds.

Ids, the same everywhere (events, catalog, evaluation cases):

- sku ``ag-<item_id>``; user ``ag-user-<user_id>``; session ``ag-session-<user_id>``;
- event id ``ag-<user_id>-<i>``, ``i`` the position in the history (the target, when
  included, is position ``len(history)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

from streamrec.datasets.errors import DatasetFormatError
from streamrec.datasets.source_files import DATASET_EPOCH_MS, read_table_rows, title_only_change
from streamrec.datasets.title_text import clean_title

DATASET = "amazon_games"
ITEMS_FILE = "items.csv"
SEQUENCES_FILE = "sequences_dev.csv"
SKU_PREFIX = "ag-"
EVENT_SOURCE = "amazon-games"
STEP_MS = 1_000


class NextItemCase(NamedTuple):
    """One evaluation case: after streaming ``history``, is ``target`` recommended?"""

    user_id: str
    history: list[str]
    """Skus in time order."""
    target: str
    """The sku that came next (never in ``history`` in this data)."""


def amazon_games_dir(data_dir: Path) -> Path:
    return Path(data_dir) / DATASET


def amazon_games_sku(item_id: str) -> str:
    return f"{SKU_PREFIX}{item_id.strip()}"


def amazon_games_user_id(raw_user_id: str) -> str:
    return f"ag-user-{raw_user_id.strip()}"


def amazon_games_catalog_changes(
    data_dir: Path, *, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Stream the items as ``CatalogChangeIn``-shaped dicts, in file order."""
    rows = read_table_rows(DATASET, amazon_games_dir(data_dir) / ITEMS_FILE, ("item_id", "title"))
    changes = (
        title_only_change(amazon_games_sku(row["item_id"]), clean_title(row["title"]), index)
        for index, row in enumerate(rows)
        if clean_title(row["title"])
    )
    return islice(changes, limit) if limit is not None else changes


def amazon_games_cases(data_dir: Path, *, limit_users: int | None = None) -> Iterator[NextItemCase]:
    """Stream ``(user_id, history skus, target sku)`` per user, in file order."""
    path = amazon_games_dir(data_dir) / SEQUENCES_FILE
    rows = read_table_rows(DATASET, path, ("user_id", "history", "target"))
    cases = (_case(row, path) for row in rows)
    return islice(cases, limit_users) if limit_users is not None else cases


def amazon_games_user_events(
    data_dir: Path,
    *,
    include_target: bool = False,
    limit_users: int | None = None,
    base_ms: int = DATASET_EPOCH_MS,
) -> Iterator[dict[str, Any]]:
    """Stream one VIEW ``UserEventIn``-shaped dict per history item, user after user.

    ``include_target=False`` (the default) leaves each user's target out, as evaluation
    needs; ``True`` appends it as the last VIEW (to train on everything). Every user's
    first event is at ``base_ms`` (fixed by default, so output is deterministic; pass
    the current time to replay into a topic whose retention counts from the record time).
    """
    path = amazon_games_dir(data_dir) / SEQUENCES_FILE
    rows = read_table_rows(DATASET, path, ("user_id", "history", "target"))
    if limit_users is not None:
        rows = islice(rows, limit_users)
    return _events(rows, path, include_target, base_ms)


def _events(
    rows: Iterator[dict[str, str]], path: Path, include_target: bool, base_ms: int
) -> Iterator[dict[str, Any]]:
    for row in rows:
        raw_user = row["user_id"].strip()
        case = _case(row, path)
        skus = [*case.history, case.target] if include_target else case.history
        for position, sku in enumerate(skus):
            yield {
                "event_id": f"ag-{raw_user}-{position}",
                "user_id": case.user_id,
                "session_id": f"ag-session-{raw_user}",
                "type": "VIEW",
                "sku": sku,
                "query": None,
                "ts": base_ms + position * STEP_MS,
                "context": {"source": EVENT_SOURCE},
            }


def _case(row: dict[str, str], path: Path) -> NextItemCase:
    raw_user = row["user_id"].strip()
    history = row["history"].split()
    target = row["target"].strip()
    if not raw_user or not target:
        raise DatasetFormatError(f"{DATASET}: {path}: a row lacks user_id or target: {row}")
    return NextItemCase(
        amazon_games_user_id(raw_user),
        [amazon_games_sku(item) for item in history],
        amazon_games_sku(target),
    )
