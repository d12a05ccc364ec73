from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from streamrec.datasets import DatasetMissingError, FashionImageArchive, fashion_catalog_changes
from streamrec.datasets.source_files import DATASET_EPOCH_MS
from streamrec.schemas.records import CatalogChangeIn

HEADER = (
    "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,"
    "productDisplayName,image\n"
)
ROWS = (
    "1163,Men,Apparel,Topwear,Tshirts,Blue,Summer,2011,Sports,"
    "Nike Sahara Team India Fanwear Round Neck Jersey,1163.jpg\n"
    '1525,Unisex,Accessories,Bags,Backpacks,Navy Blue,Fall,2010,,"Puma Deck, Navy Blue '
    'Backpack ",1525.jpg\n'
    "45698,Women,Personal Care,Fragrance,Perfume and Body Mist,,Spring,2017,,,45698.jpg\n"
)


@pytest.fixture
def data_dir(tmp_path: Path, write_file) -> Path:
    write_file(tmp_path / "fashion" / "catalog.csv", HEADER + ROWS)
    return tmp_path


def test_rows_become_valid_catalog_changes(data_dir: Path) -> None:
    changes = list(fashion_catalog_changes(data_dir))
    assert len(changes) == 3
    for change in changes:
        CatalogChangeIn(**change)
    first = changes[0]
    assert first["op"] == "UPSERT"
    assert first["sku"] == "fashion-1163"
    assert first["title"] == "Nike Sahara Team India Fanwear Round Neck Jersey"
    assert first["category_path"] == ["Apparel", "Topwear", "Tshirts"]
    assert first["brand"] is None
    assert first["image"] == "images.tar#images/1163.jpg"
    assert first["attributes"] == {
        "gender": "Men", "base_colour": "Blue", "season": "Summer", "year": "2011",
        "usage": "Sports",
    }


def test_empty_values_are_left_out_and_titles_trimmed(data_dir: Path) -> None:
    second = list(fashion_catalog_changes(data_dir))[1]
    assert second["title"] == "Puma Deck, Navy Blue Backpack"
    assert "usage" not in second["attributes"]


def test_a_row_without_a_name_gets_a_title_from_its_fields(data_dir: Path) -> None:
    third = list(fashion_catalog_changes(data_dir))[2]
    assert third["title"] == "Women Perfume and Body Mist"
    assert third["attributes"] == {"gender": "Women", "season": "Spring", "year": "2017"}
    CatalogChangeIn(**third)


def test_updated_at_is_deterministic_and_increasing(data_dir: Path) -> None:
    stamps = [change["updated_at"] for change in fashion_catalog_changes(data_dir)]
    assert stamps == [DATASET_EPOCH_MS, DATASET_EPOCH_MS + 1, DATASET_EPOCH_MS + 2]
    assert list(fashion_catalog_changes(data_dir)) == list(fashion_catalog_changes(data_dir))


def test_limit(data_dir: Path) -> None:
    assert [c["sku"] for c in fashion_catalog_changes(data_dir, limit=2)] == [
        "fashion-1163", "fashion-1525",
    ]


def test_image_archive_reads_the_record_uri(data_dir: Path) -> None:
    archive_path = data_dir / "fashion" / "images.tar"
    with tarfile.open(archive_path, "w") as archive:
        payload = b"\xff\xd8\xff fake jpeg"
        info = tarfile.TarInfo("images/1163.jpg")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    uri = next(fashion_catalog_changes(data_dir))["image"]
    with FashionImageArchive(data_dir) as images:
        assert images.read(uri) == payload
        assert images.read("images/1163.jpg") == payload
        with pytest.raises(KeyError, match=r"1525\.jpg"):
            images.read("images.tar#images/1525.jpg")


def test_image_archive_missing(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissingError, match=r"images\.tar"):
        FashionImageArchive(tmp_path)


def test_real_fashion_catalog_first_rows_validate(real_data_dir) -> None:
    data_dir = real_data_dir("fashion")
    changes = list(fashion_catalog_changes(data_dir, limit=100))
    assert len(changes) == 100
    for change in changes:
        record = CatalogChangeIn(**change)
        assert record.sku.startswith("fashion-")
        assert len(record.category_path) == 3
        assert record.image and record.image.startswith("images.tar#images/")
    with FashionImageArchive(data_dir) as images:
        assert images.read(changes[0]["image"])[:2] == b"\xff\xd8"  # JPEG magic
