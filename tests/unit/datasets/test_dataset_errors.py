from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.datasets import (
    DatasetFormatError,
    DatasetMissingError,
    amazon_games_cases,
    amazon_games_catalog_changes,
    amazon_games_user_events,
    fashion_catalog_changes,
    homedepot_catalog_changes,
    homedepot_judgments,
    yoochoose_catalog_changes,
    yoochoose_click_events,
    yoochoose_sessions,
)
from streamrec.datasets.fashion_images import FashionImageArchive

ADAPTERS: dict[str, tuple[Callable[[Path], object], str]] = {
    "fashion": (fashion_catalog_changes, "fashion/catalog.csv"),
    "homedepot": (homedepot_catalog_changes, "homedepot/products.csv"),
    "homedepot-judgments": (homedepot_judgments, "homedepot/judgments_dev.csv"),
    "amazon-items": (amazon_games_catalog_changes, "amazon_games/items.csv"),
    "amazon-events": (amazon_games_user_events, "amazon_games/sequences_dev.csv"),
    "amazon-cases": (amazon_games_cases, "amazon_games/sequences_dev.csv"),
    "yoochoose-events": (yoochoose_click_events, "yoochoose_100k/clicks_train_full.tsv"),
    "yoochoose-sessions": (yoochoose_sessions, "yoochoose_100k/clicks_test.tsv"),
    "yoochoose-catalog": (yoochoose_catalog_changes, "yoochoose_100k/clicks_train_full.tsv"),
    "fashion-images": (FashionImageArchive, "fashion/images.tar"),
}


def test_missing_error_is_a_file_not_found_error_that_says_where_to_look(tmp_path: Path) -> None:
    error = DatasetMissingError("fashion", tmp_path / "fashion" / "catalog.csv")
    assert isinstance(error, FileNotFoundError)
    message = str(error)
    assert str(tmp_path / "fashion" / "catalog.csv") in message
    assert "../shared/data" in message
    assert "STREAMREC_DATA_DIR" in message
    assert error.path == tmp_path / "fashion" / "catalog.csv"
    assert error.dataset == "fashion"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_adapter_fails_at_the_call_naming_the_expected_file(
    tmp_path: Path, name: str
) -> None:
    adapter, expected = ADAPTERS[name]
    with pytest.raises(DatasetMissingError) as caught:
        adapter(tmp_path)  # no iteration: the error comes at the call
    assert caught.value.path == tmp_path / expected
    assert expected.split("/")[-1] in str(caught.value)


def test_a_wrong_header_is_a_format_error(tmp_path: Path, write_file) -> None:
    write_file(tmp_path / "homedepot" / "products.csv", "uid,name\n1,Hammer\n")
    with pytest.raises(DatasetFormatError, match="product_uid"):
        homedepot_catalog_changes(tmp_path)


def test_a_comma_separated_yoochoose_file_is_a_format_error(tmp_path: Path, write_file) -> None:
    write_file(
        tmp_path / "yoochoose_100k" / "clicks_train_full.tsv",
        "SessionId,ItemId,Time\n1,2,1396860669.277\n",
    )
    with pytest.raises(DatasetFormatError, match="SessionId"):
        yoochoose_click_events(tmp_path)
