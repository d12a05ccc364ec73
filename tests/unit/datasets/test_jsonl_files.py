from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamrec.datasets.jsonl import read_jsonl, write_jsonl


def test_round_trip_counts_lines_and_keeps_values(tmp_path: Path) -> None:
    records = [
        {"sku": "a", "title": "20° Sleeping Bag ™", "price": 9.5, "tags": ["x"], "n": None},
        {"sku": "b", "attributes": {"colour": "red"}, "available": False},
    ]
    path = tmp_path / "nested" / "out.jsonl"
    assert write_jsonl(path, records) == 2
    assert list(read_jsonl(path)) == records
    assert path.read_bytes().count(b"\n") == 2


def test_write_consumes_a_generator_one_record_at_a_time(tmp_path: Path) -> None:
    produced: list[int] = []

    def records() -> Iterator[dict[str, int]]:
        for number in range(1000):
            produced.append(number)
            yield {"n": number}

    assert write_jsonl(tmp_path / "gen.jsonl", records()) == 1000
    assert [record["n"] for record in read_jsonl(tmp_path / "gen.jsonl")] == produced


def test_a_failing_source_leaves_no_file_behind(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"old": true}\n')

    def records() -> Iterator[dict[str, int]]:
        yield {"n": 1}
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError):
        write_jsonl(path, records())
    assert path.read_text() == '{"old": true}\n'
    assert not (tmp_path / "out.jsonl.tmp").exists()


def test_read_skips_blank_lines_and_streams(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\n')
    reader = read_jsonl(path)
    assert next(reader) == {"a": 1}
    assert next(reader) == {"a": 2}
    assert list(reader) == []


def test_read_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: not valid JSON"):
        list(read_jsonl(path))


def test_read_rejects_a_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="expected a JSON object"):
        list(read_jsonl(path))


def test_read_of_a_missing_file_fails_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "absent.jsonl")
