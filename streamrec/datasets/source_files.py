"""Reading the raw files of the public data sets: where they are, their header, their rows.

Rows are streamed one at a time; no adapter holds a whole file in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError

DATASET_EPOCH_MS = 1_704_067_200_000
"""2024-01-01T00:00:00Z: the fixed base time of data sets that carry no timestamps, so
that every conversion of the same file gives the same records."""


def require_file(dataset: str, path: Path) -> Path:
    """``path`` if it is a file, else a ``DatasetMissingError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DatasetMissingError(dataset, path)
    return path


def check_table_header(
    dataset: str, path: Path, columns: Sequence[str], *, delimiter: str = ","
) -> Path:
    """Fail now, with a clear error, if the file is absent or lacks one of ``columns``."""
    path = require_file(dataset, path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), [])
    missing = [name for name in columns if name not in header]
    if missing:
        raise DatasetFormatError(
            f"{dataset}: {path} has columns {header}, expected {list(columns)} (missing {missing})"
        )
    return path


def read_table_rows(
    dataset: str,
    path: Path,
    columns: Sequence[str],
    *,
    delimiter: str = ",",
) -> Iterator[dict[str, str]]:
    """Stream the rows of a CSV/TSV file as dicts, after checking its header.

    The header must hold every name in ``columns`` (extra columns are ignored). The check
    runs at the call, so a missing file fails there and not at the first ``next()``; the
    file itself is opened on the first ``next()`` and closed when the rows run out.
    """
    path = check_table_header(dataset, path, columns, delimiter=delimiter)
    return _rows(path, delimiter)


def _rows(path: Path, delimiter: str) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle, delimiter=delimiter):
            yield {key: (value or "") for key, value in row.items() if key is not None}


def title_only_change(sku: str, title: str, index: int) -> dict[str, Any]:
    """A ``CatalogChangeIn``-shaped upsert for data sets that only know a title; the
    ``index``-th product gets ``DATASET_EPOCH_MS + index`` (deterministic output)."""
    return {
        "op": "UPSERT", "sku": sku, "title": title, "description": None,
        "category_path": [], "brand": None, "price": None, "currency": None,
        "available": True, "image": None, "attributes": {},
        "updated_at": DATASET_EPOCH_MS + index, "version": None,
    }
