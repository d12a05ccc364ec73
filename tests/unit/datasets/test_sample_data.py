from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streamrec.datasets import (
    demo_catalog_changes,
    demo_catalog_source,
    sample_catalog_changes,
    sample_user_events,
)
from streamrec.datasets.sample_data import sample_catalog_path, sample_events_path
from streamrec.schemas.records import CatalogChangeIn, UserEventIn

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_sample_catalog_is_valid_and_varied() -> None:
    products = [CatalogChangeIn(**record) for record in sample_catalog_changes()]
    assert 70 <= len(products) <= 90
    assert len({p.sku for p in products}) == len(products)
    assert len({p.title for p in products}) == len(products)
    assert 6 <= len({p.category_path[0] for p in products}) <= 8
    assert all(p.brand and p.price and p.currency == "USD" and p.attributes for p in products)
    assert any(not p.available for p in products)


def test_sample_events_are_valid_and_refer_to_sample_skus() -> None:
    skus = {record["sku"] for record in sample_catalog_changes()}
    events = [UserEventIn(**record) for record in sample_user_events()]
    assert 250 <= len(events) <= 350
    assert 15 <= len({e.user_id for e in events}) <= 25
    assert len({e.event_id for e in events}) == len(events)
    assert {e.sku for e in events if e.sku} <= skus
    assert {e.type.value for e in events} == {"VIEW", "CLICK", "ADD_TO_CART", "PURCHASE", "SEARCH"}
    assert [e.ts for e in events] == sorted(e.ts for e in events)


def test_the_script_regenerates_the_committed_files_exactly(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "make_sample_data.py"),
         "--out-dir", str(tmp_path)],
        check=True, capture_output=True, cwd=PROJECT_ROOT,
    )
    assert (tmp_path / "catalog.jsonl").read_bytes() == sample_catalog_path().read_bytes()
    assert (tmp_path / "events.jsonl").read_bytes() == sample_events_path().read_bytes()


def test_demo_catalog_falls_back_to_the_sample(tmp_path: Path) -> None:
    assert demo_catalog_source(tmp_path) == "sample"
    assert next(demo_catalog_changes(tmp_path, limit=1))["sku"].startswith("sample-")


def test_demo_catalog_prefers_fashion_when_present(tmp_path: Path, write_file) -> None:
    write_file(
        tmp_path / "fashion" / "catalog.csv",
        "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,"
        "productDisplayName,image\n1,Men,Apparel,Topwear,Tshirts,Blue,Summer,2011,Casual,"
        "Blue Tee,1.jpg\n",
    )
    assert demo_catalog_source(tmp_path) == "fashion"
    assert [c["sku"] for c in demo_catalog_changes(tmp_path)] == ["fashion-1"]
