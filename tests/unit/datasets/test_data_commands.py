from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamrec.cli.data_commands import data_app
from streamrec.datasets import read_jsonl
from streamrec.schemas.records import CatalogChangeIn, UserEventIn

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, write_file) -> Path:
    root = tmp_path / "data"
    write_file(root / "homedepot" / "products.csv", "product_uid,title\n1,Hammer\n2,Saw\n3,Nail\n")
    write_file(
        root / "amazon_games" / "sequences_dev.csv",
        "user_id,history,target\n1,0 1 2,3\n2,4 0,1\n",
    )
    write_file(
        root / "yoochoose_100k" / "clicks_test.tsv",
        "SessionId\tItemId\tTime\n1\t5\t1396860669.277\n1\t6\t1396860886.998\n",
    )
    return root


def test_convert_writes_the_catalog_and_says_how_many_lines(data_dir: Path, tmp_path: Path):
    out = tmp_path / "out" / "hd.jsonl"
    args = ["convert", "homedepot", str(out), "--data-dir", str(data_dir)]
    result = runner.invoke(data_app, args)
    assert result.exit_code == 0, result.output
    assert f"wrote 3 lines to {out}" in result.output
    records = list(read_jsonl(out))
    assert [r["sku"] for r in records] == ["hd-1", "hd-2", "hd-3"]
    for record in records:
        CatalogChangeIn(**record)


def test_convert_limit(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "hd.jsonl"
    result = runner.invoke(
        data_app, ["convert", "homedepot", str(out), "--data-dir", str(data_dir), "--limit", "2"]
    )
    assert result.exit_code == 0, result.output
    assert len(list(read_jsonl(out))) == 2


def test_convert_events(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ag.jsonl"
    result = runner.invoke(
        data_app,
        ["convert", "amazon-games", str(out), "--what", "events", "--data-dir", str(data_dir),
         "--users", "1", "--include-target"],
    )
    assert result.exit_code == 0, result.output
    events = list(read_jsonl(out))
    assert [e["sku"] for e in events] == ["ag-0", "ag-1", "ag-2", "ag-3"]
    for event in events:
        UserEventIn(**event)


def test_convert_yoochoose_test_split_now(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "yc.jsonl"
    result = runner.invoke(
        data_app,
        ["convert", "yoochoose", str(out), "--what", "events", "--split", "test", "--now",
         "--data-dir", str(data_dir)],
    )
    assert result.exit_code == 0, result.output
    events = list(read_jsonl(out))
    assert events[1]["ts"] - events[0]["ts"] == 217721
    assert events[0]["ts"] > 1_700_000_000_000


def test_convert_refuses_a_kind_the_dataset_lacks(data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        data_app,
        ["convert", "homedepot", str(tmp_path / "x.jsonl"), "--what", "events",
         "--data-dir", str(data_dir)],
    )
    assert result.exit_code == 2
    assert "no events" in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_convert_reports_a_missing_dataset(tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    result = runner.invoke(
        data_app, ["convert", "fashion", str(out), "--data-dir", str(tmp_path / "none")]
    )
    assert result.exit_code == 2
    assert "catalog.csv" in result.output
    assert "STREAMREC_DATA_DIR" in result.output
    assert not out.exists()


def test_data_dir_defaults_to_settings(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMREC_DATA_DIR", str(data_dir))
    out = tmp_path / "hd.jsonl"
    result = runner.invoke(data_app, ["convert", "homedepot", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(read_jsonl(out))) == 3


def test_list_shows_which_datasets_are_present(data_dir: Path) -> None:
    result = runner.invoke(data_app, ["list", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "amazon-games" in result.output
    assert "homedepot" in result.output
