"""The small synthetic catalog and clickstream shipped inside the package.

``streamrec/sample/catalog.jsonl`` (80 products, 7 categories) and ``events.jsonl``
(about 300 events from 20 users) are written by ``scripts/make_sample_data.py`` and may
be redistributed. They stand in for the fashion catalog when ../shared/data is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from streamrec.datasets.fashion_catalog import CATALOG_FILE, fashion_catalog_changes, fashion_dir
from streamrec.datasets.jsonl import read_jsonl

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"
CATALOG_NAME = "catalog.jsonl"
EVENTS_NAME = "events.jsonl"

DemoSource = Literal["fashion", "sample"]


def sample_catalog_path() -> Path:
    return SAMPLE_DIR / CATALOG_NAME


def sample_events_path() -> Path:
    return SAMPLE_DIR / EVENTS_NAME


def sample_catalog_changes(*, limit: int | None = None) -> Iterator[dict[str, Any]]:
    records = read_jsonl(sample_catalog_path())
    return islice(records, limit) if limit is not None else records


def sample_user_events(*, limit: int | None = None) -> Iterator[dict[str, Any]]:
    records = read_jsonl(sample_events_path())
    return islice(records, limit) if limit is not None else records


def demo_catalog_source(data_dir: Path) -> DemoSource:
    """``"fashion"`` when the fashion catalog is under ``data_dir``, else ``"sample"``."""
    return "fashion" if (fashion_dir(data_dir) / CATALOG_FILE).is_file() else "sample"


def demo_catalog_changes(data_dir: Path, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The fashion catalog when present, else the bundled sample catalog."""
    if demo_catalog_source(data_dir) == "fashion":
        return fashion_catalog_changes(data_dir, limit=limit)
    return sample_catalog_changes(limit=limit)
