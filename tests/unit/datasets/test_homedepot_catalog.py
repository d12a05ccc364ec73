from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.datasets import DatasetFormatError, homedepot_catalog_changes, homedepot_judgments
from streamrec.schemas.records import CatalogChangeIn

PRODUCTS = (
    "product_uid,title\n"
    "100001,Simpson Strong-Tie 12-Gauge Angle\n"
    "100002,Paslode 3 in. x 0.120-Gauge 30\u00e5\u00a1 Galvanized Nails\n"
    '100003,"Tom &amp; Jerry&#39;s 1/2 in. &quot;Pro&quot; Drill"\n'
    "100004,   \n"
)


@pytest.fixture
def data_dir(tmp_path: Path, write_file) -> Path:
    write_file(tmp_path / "homedepot" / "products.csv", PRODUCTS)
    write_file(
        tmp_path / "homedepot" / "judgments_dev.csv",
        "query,product_uid,relevance\nangle bracket,100001,3\nl bracket,100001,2.33\n",
    )
    return tmp_path


def test_products_become_valid_catalog_changes(data_dir: Path) -> None:
    changes = list(homedepot_catalog_changes(data_dir))
    assert [c["sku"] for c in changes] == ["hd-100001", "hd-100002", "hd-100003"]
    for change in changes:
        CatalogChangeIn(**change)
        assert change["category_path"] == []
    assert changes[1]["title"] == "Paslode 3 in. x 0.120-Gauge 30° Galvanized Nails"
    assert changes[2]["title"] == "Tom & Jerry's 1/2 in. \"Pro\" Drill"


def test_a_blank_title_is_skipped_not_sent_invalid(data_dir: Path) -> None:
    assert "hd-100004" not in {c["sku"] for c in homedepot_catalog_changes(data_dir)}


def test_limit(data_dir: Path) -> None:
    assert len(list(homedepot_catalog_changes(data_dir, limit=1))) == 1


def test_judgments_use_catalog_skus(data_dir: Path) -> None:
    judgments = list(homedepot_judgments(data_dir))
    assert judgments[0] == ("angle bracket", "hd-100001", 3.0)
    assert judgments[1].relevance == pytest.approx(2.33)


def test_a_bad_relevance_is_a_format_error(tmp_path: Path, write_file) -> None:
    write_file(tmp_path / "homedepot" / "judgments_dev.csv", "query,product_uid,relevance\nq,1,x\n")
    with pytest.raises(DatasetFormatError, match="relevance"):
        list(homedepot_judgments(tmp_path))


def test_real_homedepot_first_rows_validate(real_data_dir) -> None:
    data_dir = real_data_dir("homedepot")
    changes = list(homedepot_catalog_changes(data_dir, limit=100))
    assert len(changes) == 100
    for change in changes:
        assert CatalogChangeIn(**change).sku.startswith("hd-")
    judgments = list(homedepot_judgments(data_dir, limit=100))
    assert all(1.0 <= j.relevance <= 3.0 for j in judgments)
