from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.datasets import (
    ClickSession,
    yoochoose_catalog_changes,
    yoochoose_click_events,
    yoochoose_sessions,
)
from streamrec.schemas.records import CatalogChangeIn, UserEventIn

TRAIN = (
    "SessionId\tItemId\tTime\n"
    "3\t214716935\t1396437466.94\n"
    "3\t214832672\t1396438212.318\n"
    "6\t214701242\t1396436000.5\n"
    "6\t214716935\t1396438000.001\n"
)
TEST = "SessionId\tItemId\tTime\n1\t214536502\t1396860669.277\n1\t999\t1396860886.998\n"


@pytest.fixture
def data_dir(tmp_path: Path, write_file) -> Path:
    write_file(tmp_path / "yoochoose_100k" / "clicks_train_full.tsv", TRAIN)
    write_file(tmp_path / "yoochoose_100k" / "clicks_test.tsv", TEST)
    return tmp_path


def test_clicks_become_valid_events_in_time_order(data_dir: Path) -> None:
    events = list(yoochoose_click_events(data_dir))
    assert [e["event_id"] for e in events] == ["yc-6-0", "yc-3-0", "yc-6-1", "yc-3-1"]
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    first = events[0]
    assert first["ts"] == 1396436000500
    assert first["user_id"] == first["session_id"] == "yc-session-6"
    assert first["sku"] == "yc-214701242"
    assert first["type"] == "CLICK"
    for event in events:
        UserEventIn(**event)


def test_seconds_become_exact_milliseconds(data_dir: Path) -> None:
    events = list(yoochoose_click_events(data_dir, split="test"))
    assert [e["ts"] for e in events] == [1396860669277, 1396860886998]
    assert events[0]["context"] == {"source": "yoochoose", "split": "test"}


def test_file_order_and_limit_sessions(data_dir: Path) -> None:
    events = list(yoochoose_click_events(data_dir, order="file", limit_sessions=1))
    assert [e["event_id"] for e in events] == ["yc-3-0", "yc-3-1"]


def test_start_ms_shifts_keeping_gaps(data_dir: Path) -> None:
    events = list(yoochoose_click_events(data_dir, start_ms=2_000_000_000_000))
    assert events[0]["ts"] == 2_000_000_000_000
    assert events[-1]["ts"] - events[0]["ts"] == 1396438212318 - 1396436000500


def test_bad_arguments(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        yoochoose_click_events(data_dir, split="valid")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="order"):
        yoochoose_click_events(data_dir, order="random")  # type: ignore[arg-type]


def test_catalog_holds_each_item_once(data_dir: Path) -> None:
    changes = list(yoochoose_catalog_changes(data_dir))
    assert [c["sku"] for c in changes] == [
        "yc-214716935", "yc-214832672", "yc-214701242", "yc-214536502", "yc-999",
    ]
    assert changes[0]["title"] == "Item 214716935"
    for change in changes:
        CatalogChangeIn(**change)
    event_skus = {e["sku"] for split in ("train", "test")
                  for e in yoochoose_click_events(data_dir, split=split)}
    assert event_skus <= {c["sku"] for c in changes}


def test_sessions_for_evaluation(data_dir: Path) -> None:
    sessions = list(yoochoose_sessions(data_dir, split="train"))
    assert sessions[0] == ClickSession(
        "yc-session-3", ["yc-214716935", "yc-214832672"], [1396437466940, 1396438212318]
    )
    assert len(sessions) == 2


def test_real_yoochoose_first_rows_validate(real_data_dir) -> None:
    data_dir = real_data_dir("yoochoose_100k")
    for split in ("train", "test"):
        events = list(yoochoose_click_events(data_dir, split=split, limit_sessions=30))
        assert len(events) >= 60  # sessions hold at least two clicks
        for event in events[:100]:
            UserEventIn(**event)
        assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    for change in yoochoose_catalog_changes(data_dir, limit=100):
        CatalogChangeIn(**change)
