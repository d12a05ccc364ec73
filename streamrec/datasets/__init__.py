"""Adapters that turn the public data sets (../shared/data) into contract records.

Each adapter takes the data folder as a ``Path``, streams JSON-ready dicts that validate
with ``CatalogChangeIn`` / ``UserEventIn``, and raises ``DatasetMissingError`` naming the
expected file when a data set is absent. ``jsonl`` writes and reads JSON Lines files.
"""

from streamrec.datasets.amazon_games import (
    NextItemCase,
    amazon_games_cases,
    amazon_games_catalog_changes,
    amazon_games_user_events,
)
from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError
from streamrec.datasets.fashion_catalog import fashion_catalog_changes
from streamrec.datasets.fashion_images import FashionImageArchive
from streamrec.datasets.homedepot_catalog import (
    SearchJudgment,
    homedepot_catalog_changes,
    homedepot_judgments,
)
from streamrec.datasets.jsonl import read_jsonl, write_jsonl
from streamrec.datasets.sample_data import (
    demo_catalog_changes,
    demo_catalog_source,
    sample_catalog_changes,
    sample_user_events,
)
from streamrec.datasets.yoochoose_clicks import (
    ClickSession,
    yoochoose_catalog_changes,
    yoochoose_click_events,
    yoochoose_sessions,
)

__all__ = [
    "ClickSession",
    "DatasetFormatError",
    "DatasetMissingError",
    "FashionImageArchive",
    "NextItemCase",
    "SearchJudgment",
    "amazon_games_cases",
    "amazon_games_catalog_changes",
    "amazon_games_user_events",
    "demo_catalog_changes",
    "demo_catalog_source",
    "fashion_catalog_changes",
    "homedepot_catalog_changes",
    "homedepot_judgments",
    "read_jsonl",
    "sample_catalog_changes",
    "sample_user_events",
    "write_jsonl",
    "yoochoose_catalog_changes",
    "yoochoose_click_events",
    "yoochoose_sessions",
]
