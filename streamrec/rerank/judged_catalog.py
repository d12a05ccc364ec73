"""A catalog with search relevance judgments, as training and the bench read it.

Home Depot: ``products.csv`` (titles) and a judgments file (query, product_uid,
relevance 1-3). Products become the same records the catalog publisher sends
(``homedepot_catalog_changes``), so titles and embedded texts match the API's replica.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamrec.datasets.homedepot_catalog import (
    DATASET,
    JUDGMENTS_FILE,
    homedepot_catalog_changes,
    homedepot_dir,
    homedepot_sku,
)
from streamrec.datasets.source_files import read_table_rows

Judgments = dict[str, dict[str, float]]
"""query -> {sku: relevance}."""


@dataclass(frozen=True)
class JudgedCatalog:
    products: list[dict[str, Any]]
    """CatalogChange-shaped records, in file order."""
    judgments: Judgments

    @property
    def skus(self) -> list[str]:
        return [p["sku"] for p in self.products]


def default_judgments_path(data_dir: Path) -> Path:
    return homedepot_dir(data_dir) / JUDGMENTS_FILE


def load_homedepot(data_dir: Path, judgments_path: Path | None = None,
                   limit_products: int | None = None) -> JudgedCatalog:
    """Products of ``<data_dir>/homedepot`` and the judgments (default: judgments_dev.csv);
    judgments of products not loaded are dropped."""
    products = list(homedepot_catalog_changes(data_dir, limit=limit_products))
    known = {p["sku"] for p in products}
    path = judgments_path or default_judgments_path(data_dir)
    judgments: Judgments = defaultdict(dict)
    for row in read_table_rows(DATASET, path, ("query", "product_uid", "relevance")):
        query, sku = row["query"].strip(), homedepot_sku(row["product_uid"])
        if query and sku in known:
            judgments[query][sku] = float(row["relevance"])
    return JudgedCatalog(products, {q: judgments[q] for q in sorted(judgments)})
