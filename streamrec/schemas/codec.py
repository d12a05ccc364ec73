"""Avro codecs for the contract's records, framed as Avro single-object encoding.

Framing (https://avro.apache.org/docs/current/specification/#single-object-encoding):

    0xC3 0x01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema | body

The fingerprint names the writer schema, so a reader resolves any known older
version of a record into the current one (schema evolution) and refuses bytes
written with a schema it has never seen, with ``UnknownSchemaError``. No schema
registry is needed; every schema version ever published lives in
``schemas/avro`` (current) and ``schemas/avro/history`` (older versions).
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
from fastavro.validation import ValidationError, validate

MAGIC = b"\xc3\x01"
HEADER_LEN = 10

RECORD_NAMES = ("CatalogChange", "UserEvent", "ItemVector", "Impression")


class InvalidRecordError(ValueError):
    """Bytes or a record that do not satisfy the contract; ``kind`` goes into DLQ headers."""

    kind = "invalid-record"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAvroError(InvalidRecordError):
    kind = "not-avro"


class UnknownSchemaError(InvalidRecordError):
    kind = "unknown-schema"


class MalformedRecordError(InvalidRecordError):
    kind = "malformed-body"


class RecordValidationError(InvalidRecordError):
    kind = "validation"


def schema_fingerprint(parsed_schema: dict[str, Any]) -> bytes:
    """The 8-byte CRC-64-AVRO fingerprint, in the little-endian order the framing uses."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed_schema), "CRC-64-AVRO"))


def _load_schema_text(relative: str) -> dict[str, Any]:
    text = resources.files("streamrec.schemas").joinpath("avro", relative).read_text()
    return json.loads(text)


def _history_files(name: str) -> list[str]:
    history = resources.files("streamrec.schemas").joinpath("avro", "history")
    return sorted(
        f"history/{p.name}" for p in history.iterdir() if p.name.startswith(f"{name}.v")
    )


class AvroCodec:
    """Encode and decode one record type of the contract."""

    def __init__(self, name: str) -> None:
        if name not in RECORD_NAMES:
            raise KeyError(f"unknown record type {name!r}; known: {', '.join(RECORD_NAMES)}")
        self.name = name
        self.schema = fastavro.parse_schema(_load_schema_text(f"{name}.avsc"))
        self.fingerprint = schema_fingerprint(self.schema)
        self._header = MAGIC + self.fingerprint
        # Every schema this reader can resolve, by fingerprint: the current one and its history.
        self._writers: dict[bytes, dict[str, Any]] = {self.fingerprint: self.schema}
        for path in _history_files(name):
            old = fastavro.parse_schema(_load_schema_text(path))
            self._writers[schema_fingerprint(old)] = old
        self._timestamp_fields = [
            f["name"]
            for f in self.schema["fields"]
            if isinstance(f["type"], dict) and f["type"].get("logicalType") == "timestamp-millis"
        ]

    def encode(self, record: dict[str, Any], *, check: bool = True) -> bytes:
        """Frame and serialise ``record``; ``RecordValidationError`` names the bad field."""
        if check:
            try:
                validate(record, self.schema, raise_errors=True)
            except ValidationError as exc:
                raise RecordValidationError(f"{self.name}: {_describe_validation(exc)}") from exc
        buf = io.BytesIO()
        buf.write(self._header)
        fastavro.schemaless_writer(buf, self.schema, record)
        return buf.getvalue()

    def encode_with(self, writer_schema: dict[str, Any], record: dict[str, Any]) -> bytes:
        """Encode with an older (history) schema; used to test evolution."""
        parsed = fastavro.parse_schema(writer_schema)
        buf = io.BytesIO()
        buf.write(MAGIC + schema_fingerprint(parsed))
        fastavro.schemaless_writer(buf, parsed, record)
        return buf.getvalue()

    def decode(self, data: bytes | None) -> dict[str, Any]:
        """Parse framed bytes into the current schema's shape, or raise ``InvalidRecordError``."""
        if not data:
            raise NotAvroError("empty value")
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise NotAvroError(
                "value is not Avro single-object encoded (missing the C3 01 marker)"
            )
        fingerprint = data[2:HEADER_LEN]
        writer = self._writers.get(fingerprint)
        if writer is None:
            raise UnknownSchemaError(
                f"schema fingerprint {fingerprint.hex()} is not a known {self.name} schema"
            )
        body = io.BytesIO(data[HEADER_LEN:])
        try:
            record = fastavro.schemaless_reader(body, writer, self.schema)
        except Exception as exc:  # fastavro raises many types on truncated or garbled bodies
            raise MalformedRecordError(f"cannot decode {self.name} body: {exc!r}") from exc
        if body.tell() != len(data) - HEADER_LEN:
            raise MalformedRecordError(f"{self.name} body has trailing bytes")
        for field in self._timestamp_fields:
            value = record.get(field)
            if isinstance(value, datetime):
                record[field] = int(value.timestamp() * 1000)
        return record


def _describe_validation(exc: ValidationError) -> str:
    try:
        problems = json.loads(str(exc))
        return "; ".join(problems) if isinstance(problems, list) else str(exc)
    except ValueError:
        return str(exc)


@cache
def codec_for(name: str) -> AvroCodec:
    """One shared codec per record type (parsing schemas is not free)."""
    return AvroCodec(name)


__all__ = [
    "AvroCodec",
    "InvalidRecordError",
    "MalformedRecordError",
    "NotAvroError",
    "RecordValidationError",
    "UnknownSchemaError",
    "codec_for",
    "schema_fingerprint",
]
