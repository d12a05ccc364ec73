"""JSON Lines files of records: written and read one line at a time (orjson)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

_WRITE_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object per line and return how many lines were written.

    Records are consumed one at a time. The file appears complete or not at all: lines
    go to ``<name>.tmp`` beside it, renamed over ``path`` once the iterable is exhausted.
    Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    count = 0
    try:
        with partial.open("wb", buffering=1 << 20) as handle:
            for record in records:
                handle.write(orjson.dumps(record, option=_WRITE_OPTIONS))
                count += 1
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the objects of a JSON Lines file; blank lines are skipped.

    A line that is not a JSON object raises ``ValueError`` naming the file and line.
    A missing file raises ``FileNotFoundError`` at the call.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no JSON Lines file at {path}")
    return _objects(path)


def _objects(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc})") from None
            if not isinstance(value, dict):
                kind = type(value).__name__
                raise ValueError(f"{path}:{number}: expected a JSON object, got {kind}")
            yield value
