from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.datasets import (
    NextItemCase,
    amazon_games_cases,
    amazon_games_catalog_changes,
    amazon_games_user_events,
)
from streamrec.datasets.source_files import DATASET_EPOCH_MS
from streamrec.schemas.records import CatalogChangeIn, UserEventIn


@pytest.fixture
def data_dir(tmp_path: Path, write_file) -> Path:
    write_file(
        tmp_path / "amazon_games" / "items.csv",
        "item_id,title\n0,Fire Emblem: The Sacred Stones\n1,Headset &amp; Mic\n2,Zelda\n"
        "3,Mario\n4,Metroid\n",
    )
    write_file(
        tmp_path / "amazon_games" / "sequences_dev.csv",
        "user_id,history,target\n1,0 1 2,3\n2,4 0,1\n3,2 3 4 1,0\n",
    )
    return tmp_path


def test_items_become_valid_catalog_changes(data_dir: Path) -> None:
    changes = list(amazon_games_catalog_changes(data_dir))
    assert [c["sku"] for c in changes] == ["ag-0", "ag-1", "ag-2", "ag-3", "ag-4"]
    assert changes[1]["title"] == "Headset & Mic"
    for change in changes:
        CatalogChangeIn(**change)


def test_one_view_per_history_item_in_order(data_dir: Path) -> None:
    events = list(amazon_games_user_events(data_dir))
    assert len(events) == 3 + 2 + 4
    first_user = events[:3]
    assert [e["sku"] for e in first_user] == ["ag-0", "ag-1", "ag-2"]
    assert [e["event_id"] for e in first_user] == ["ag-1-0", "ag-1-1", "ag-1-2"]
    assert [e["ts"] for e in first_user] == [
        DATASET_EPOCH_MS, DATASET_EPOCH_MS + 1000, DATASET_EPOCH_MS + 2000,
    ]
    assert {e["user_id"] for e in first_user} == {"ag-user-1"}
    assert {e["session_id"] for e in first_user} == {"ag-session-1"}
    assert {e["type"] for e in events} == {"VIEW"}
    for event in events:
        UserEventIn(**event)
    assert "ag-3" not in [e["sku"] for e in first_user]  # the target is held out


def test_event_ids_are_unique_and_deterministic(data_dir: Path) -> None:
    ids = [e["event_id"] for e in amazon_games_user_events(data_dir)]
    assert len(ids) == len(set(ids))
    assert ids == [e["event_id"] for e in amazon_games_user_events(data_dir)]


def test_include_target_appends_it_last(data_dir: Path) -> None:
    events = list(amazon_games_user_events(data_dir, include_target=True, limit_users=1))
    assert [e["sku"] for e in events] == ["ag-0", "ag-1", "ag-2", "ag-3"]
    assert events[-1]["event_id"] == "ag-1-3"


def test_limit_users_and_base_time(data_dir: Path) -> None:
    events = list(amazon_games_user_events(data_dir, limit_users=2, base_ms=1_800_000_000_000))
    assert {e["user_id"] for e in events} == {"ag-user-1", "ag-user-2"}
    assert events[0]["ts"] == 1_800_000_000_000


def test_cases_use_the_event_ids(data_dir: Path) -> None:
    cases = list(amazon_games_cases(data_dir))
    assert cases[0] == NextItemCase("ag-user-1", ["ag-0", "ag-1", "ag-2"], "ag-3")
    assert len(list(amazon_games_cases(data_dir, limit_users=2))) == 2


def test_real_amazon_games_first_rows_validate(real_data_dir) -> None:
    data_dir = real_data_dir("amazon_games")
    for change in amazon_games_catalog_changes(data_dir, limit=100):
        CatalogChangeIn(**change)
    events = list(amazon_games_user_events(data_dir, limit_users=15))
    assert len(events) >= 15 * 4  # histories hold at least 4 items
    for event in events:
        UserEventIn(**event)
    for case in amazon_games_cases(data_dir, limit_users=100):
        assert case.target not in case.history
