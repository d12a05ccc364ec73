"""Fixtures of the dataset adapter tests: where the real data sets are, if anywhere."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


def real_data_root() -> Path:
    """STREAMREC_DATA_DIR, else ../shared/data beside the project root."""
    configured = os.environ.get("STREAMREC_DATA_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.fixture
def real_data_dir() -> Callable[[str], Path]:
    """``real_data_dir("fashion")`` -> the data folder, or the test is skipped."""

    def require(folder: str) -> Path:
        root = real_data_root()
        if not (root / folder).is_dir():
            pytest.skip(f"real data set {root / folder} is absent")
        return root

    return require


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def write_file() -> Callable[[Path, str], Path]:
    """Write a small fixture file (parents created) and return its path."""
    return write_text
