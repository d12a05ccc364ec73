"""Fashion product catalog (Kaggle "Fashion Product Images (Small)") as catalog changes.

Raw: ``<data_dir>/fashion/catalog.csv`` with columns id, gender, masterCategory,
subCategory, articleType, baseColour, season, year, usage, productDisplayName, image,
and ``images.tar`` holding ``images/<image>`` (one 60x80 JPEG per product).

Each row becomes one UPSERT:

- ``sku`` ``fashion-<id>``; ``title`` the display name (one row has none: its title is
  made from gender, colour and article type instead, so the record stays valid);
- ``category_path`` ``[masterCategory, subCategory, articleType]``;
- ``brand`` None: the brand is the first one to four words of the name
  ("United Colors of Benetton", "U.S. Polo Assn.") and no rule recovers it reliably;
- ``attributes`` gender, base_colour, season, year, usage (empty values left out);
- ``image`` ``images.tar#images/<file>``, relative to the fashion folder
  (``FashionImageArchive`` reads it);
- ``updated_at`` ``DATASET_EPOCH_MS`` + row index, so a conversion is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from streamrec.datasets.source_files import DATASET_EPOCH_MS, read_table_rows
from streamrec.datasets.title_text import clean_title

DATASET = "fashion"
CATALOG_FILE = "catalog.csv"
IMAGES_ARCHIVE = "images.tar"
SKU_PREFIX = "fashion-"
COLUMNS = (
    "id", "gender", "masterCategory", "subCategory", "articleType", "baseColour",
    "season", "year", "usage", "productDisplayName", "image",
)
ATTRIBUTE_COLUMNS = {
    "gender": "gender",
    "baseColour": "base_colour",
    "season": "season",
    "year": "year",
    "usage": "usage",
}
"""CSV column -> attribute key in the catalog record."""


def fashion_dir(data_dir: Path) -> Path:
    return Path(data_dir) / DATASET


def fashion_image_uri(image_file: str) -> str:
    """The record's image URI for a file named in the csv's image column."""
    return f"{IMAGES_ARCHIVE}#images/{image_file}"


def fashion_catalog_changes(
    data_dir: Path, *, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Stream the fashion catalog as ``CatalogChangeIn``-shaped dicts, in file order."""
    rows = read_table_rows(DATASET, fashion_dir(data_dir) / CATALOG_FILE, COLUMNS)
    changes = (fashion_row_to_change(row, index) for index, row in enumerate(rows))
    return islice(changes, limit) if limit is not None else changes


def fashion_row_to_change(row: dict[str, str], index: int) -> dict[str, Any]:
    category_path = [
        part for part in (row["masterCategory"].strip(), row["subCategory"].strip(),
                          row["articleType"].strip()) if part
    ]
    attributes = {
        key: row[column].strip() for column, key in ATTRIBUTE_COLUMNS.items()
        if row[column].strip()
    }
    title = clean_title(row["productDisplayName"]) or _fallback_title(row)
    image = row["image"].strip()
    return {
        "op": "UPSERT",
        "sku": f"{SKU_PREFIX}{row['id'].strip()}",
        "title": title,
        "description": None,
        "category_path": category_path,
        "brand": None,
        "price": None,
        "currency": None,
        "available": True,
        "image": fashion_image_uri(image) if image else None,
        "attributes": attributes,
        "updated_at": DATASET_EPOCH_MS + index,
        "version": None,
    }


def _fallback_title(row: dict[str, str]) -> str:
    words = (row["gender"], row["baseColour"], row["articleType"] or row["subCategory"])
    return " ".join(word.strip() for word in words if word.strip()) or f"Product {row['id']}"
