"""Home Depot products (Kaggle search relevance) as catalog changes, and its judgments.

Raw: ``<data_dir>/homedepot/products.csv`` (product_uid, title) and ``judgments_dev.csv``
(query, product_uid, relevance 1.0-3.0). Titles only: no category, brand or price.
Titles are repaired by ``clean_title`` (HTML entities, a known mojibake).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

from streamrec.datasets.errors import DatasetFormatError
from streamrec.datasets.source_files import read_table_rows, title_only_change
from streamrec.datasets.title_text import clean_title

DATASET = "homedepot"
PRODUCTS_FILE = "products.csv"
JUDGMENTS_FILE = "judgments_dev.csv"
SKU_PREFIX = "hd-"


class SearchJudgment(NamedTuple):
    query: str
    sku: str
    relevance: float
    """Mean of at least three raters, 1.0 (irrelevant) to 3.0 (exact)."""


def homedepot_dir(data_dir: Path) -> Path:
    return Path(data_dir) / DATASET


def homedepot_sku(product_uid: str) -> str:
    return f"{SKU_PREFIX}{product_uid.strip()}"


def homedepot_catalog_changes(
    data_dir: Path, *, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Stream the products as ``CatalogChangeIn``-shaped dicts, in file order."""
    path = homedepot_dir(data_dir) / PRODUCTS_FILE
    rows = read_table_rows(DATASET, path, ("product_uid", "title"))
    changes = (
        homedepot_row_to_change(row, index)
        for index, row in enumerate(rows)
        if clean_title(row["title"])
    )
    return islice(changes, limit) if limit is not None else changes


def homedepot_row_to_change(row: dict[str, str], index: int) -> dict[str, Any]:
    return title_only_change(homedepot_sku(row["product_uid"]), clean_title(row["title"]), index)


def homedepot_judgments(data_dir: Path, *, limit: int | None = None) -> Iterator[SearchJudgment]:
    """Stream the relevance judgments, skus already in the catalog's ``hd-<uid>`` form."""
    path = homedepot_dir(data_dir) / JUDGMENTS_FILE
    rows = read_table_rows(DATASET, path, ("query", "product_uid", "relevance"))
    judgments = (_judgment(row, path) for row in rows)
    return islice(judgments, limit) if limit is not None else judgments


def _judgment(row: dict[str, str], path: Path) -> SearchJudgment:
    try:
        relevance = float(row["relevance"])
    except ValueError:
        raise DatasetFormatError(f"{DATASET}: {path}: bad relevance {row['relevance']!r}") from None
    return SearchJudgment(row["query"].strip(), homedepot_sku(row["product_uid"]), relevance)
