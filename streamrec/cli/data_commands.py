"""``streamrec data ...``: turn the public data sets into JSON Lines records.

    streamrec data list
    streamrec data convert fashion catalog.jsonl
    streamrec data convert amazon-games events.jsonl --what events --users 1000
    streamrec data convert yoochoose clicks.jsonl --what events --split test --now
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from streamrec.datasets.amazon_games import (
    amazon_games_catalog_changes,
    amazon_games_user_events,
)
from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError
from streamrec.datasets.fashion_catalog import fashion_catalog_changes
from streamrec.datasets.homedepot_catalog import homedepot_catalog_changes
from streamrec.datasets.jsonl import write_jsonl
from streamrec.datasets.source_files import DATASET_EPOCH_MS
from streamrec.datasets.yoochoose_clicks import (
    yoochoose_catalog_changes,
    yoochoose_click_events,
)
from streamrec.settings import load_settings

data_app = typer.Typer(
    help="Convert the public data sets (../shared/data) into JSON Lines records.",
    no_args_is_help=True,
)
console = Console(stderr=True)

PROGRESS_STEP = 1_000
DATA_DIR_HELP = "Folder of the data sets (default: STREAMREC_DATA_DIR, else ../shared/data)."


class DatasetName(StrEnum):
    FASHION = "fashion"
    HOMEDEPOT = "homedepot"
    AMAZON_GAMES = "amazon-games"
    YOOCHOOSE = "yoochoose"


class RecordKind(StrEnum):
    CATALOG = "catalog"
    EVENTS = "events"


class ClickSplit(StrEnum):
    TRAIN = "train"
    TEST = "test"


@dataclass(frozen=True)
class ConvertOptions:
    """What ``convert`` was asked for, beyond the data set and the kind of record."""

    users: int | None = None
    include_target: bool = False
    split: ClickSplit = ClickSplit.TRAIN
    start_ms: int | None = None


Converter = Callable[[Path, ConvertOptions], Iterator[dict[str, Any]]]

CONVERTERS: dict[tuple[DatasetName, RecordKind], Converter] = {
    (DatasetName.FASHION, RecordKind.CATALOG): lambda d, _o: fashion_catalog_changes(d),
    (DatasetName.HOMEDEPOT, RecordKind.CATALOG): lambda d, _o: homedepot_catalog_changes(d),
    (DatasetName.AMAZON_GAMES, RecordKind.CATALOG): lambda d, _o: amazon_games_catalog_changes(d),
    (DatasetName.AMAZON_GAMES, RecordKind.EVENTS): lambda d, o: amazon_games_user_events(
        d,
        include_target=o.include_target,
        limit_users=o.users,
        base_ms=o.start_ms if o.start_ms is not None else DATASET_EPOCH_MS,
    ),
    (DatasetName.YOOCHOOSE, RecordKind.CATALOG): lambda d, _o: yoochoose_catalog_changes(d),
    (DatasetName.YOOCHOOSE, RecordKind.EVENTS): lambda d, o: yoochoose_click_events(
        d, split=o.split.value, limit_sessions=o.users, start_ms=o.start_ms
    ),
}

DATASET_FOLDERS = {
    DatasetName.FASHION: "fashion",
    DatasetName.HOMEDEPOT: "homedepot",
    DatasetName.AMAZON_GAMES: "amazon_games",
    DatasetName.YOOCHOOSE: "yoochoose_100k",
}


@data_app.callback()
def data_group() -> None:
    """Convert the public data sets into JSON Lines records."""


@data_app.command("convert")
def convert(
    dataset: Annotated[DatasetName, typer.Argument(help="Which data set to convert.")],
    out: Annotated[Path, typer.Argument(help="JSON Lines file to write (replaced if present).")],
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help=DATA_DIR_HELP),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Write at most N records.")
    ] = None,
    what: Annotated[
        RecordKind, typer.Option("--what", help="Catalog changes or user events.")
    ] = RecordKind.CATALOG,
    users: Annotated[
        int | None,
        typer.Option("--users", min=1, help="Events of the first N users (amazon-games) "
                     "or sessions (yoochoose) only."),
    ] = None,
    include_target: Annotated[
        bool,
        typer.Option("--include-target", help="amazon-games: add each user's held-out "
                     "target as the last VIEW (leave it out for evaluation)."),
    ] = False,
    split: Annotated[
        ClickSplit, typer.Option("--split", help="yoochoose: which clicks file.")
    ] = ClickSplit.TRAIN,
    now: Annotated[
        bool,
        typer.Option("--now", help="Events: move timestamps so the stream starts now "
                     "(otherwise fixed, so output is deterministic)."),
    ] = False,
) -> None:
    """Convert DATASET into OUT, one contract record per line."""
    converter = CONVERTERS.get((dataset, what))
    if converter is None:
        kinds = sorted(kind.value for name, kind in CONVERTERS if name == dataset)
        raise typer.BadParameter(
            f"{dataset.value} has no {what.value}; it offers: {', '.join(kinds)}",
            param_hint="--what",
        )
    folder = data_dir if data_dir is not None else load_settings().data_dir
    options = ConvertOptions(
        users=users,
        include_target=include_target,
        split=split,
        start_ms=int(time.time() * 1000) if now else None,
    )
    try:
        records = converter(folder, options)
        with _progress() as progress:
            task = progress.add_task(f"{dataset.value} {what.value}", total=limit)
            written = write_jsonl(out, _counted(islice(records, limit), progress, task))
    except (DatasetMissingError, DatasetFormatError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"wrote {written} lines to {out}")


@data_app.command("list")
def list_datasets(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help=DATA_DIR_HELP),
    ] = None,
) -> None:
    """Show which data sets are present and what each converts to."""
    folder = data_dir if data_dir is not None else load_settings().data_dir
    table = Table(title=f"data sets in {folder}")
    table.add_column("dataset")
    table.add_column("folder")
    table.add_column("present")
    table.add_column("--what")
    for name, sub in DATASET_FOLDERS.items():
        kinds = ", ".join(kind.value for dataset, kind in CONVERTERS if dataset == name)
        present = "yes" if (Path(folder) / sub).is_dir() else "no"
        table.add_row(name.value, sub, present, kinds)
    Console().print(table)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _counted(
    records: Iterable[dict[str, Any]], progress: Progress, task: Any
) -> Iterator[dict[str, Any]]:
    pending = 0
    for record in records:
        yield record
        pending += 1
        if pending == PROGRESS_STEP:
            progress.advance(task, pending)
            pending = 0
    progress.advance(task, pending)
