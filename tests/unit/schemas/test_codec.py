from __future__ import annotations

import json
from importlib import resources

import pytest

from streamrec.schemas.codec import (
    RECORD_NAMES,
    AvroCodec,
    MalformedRecordError,
    NotAvroError,
    RecordValidationError,
    UnknownSchemaError,
    codec_for,
)

EVENT = {"event_id": "e1", "user_id": "u1", "session_id": "s1", "type": "VIEW", "sku": "sku-1",
         "query": None, "ts": 1_764_000_000_123, "context": {"page": "home"}}


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_every_contract_schema_loads_with_a_distinct_fingerprint(name: str) -> None:
    codec = codec_for(name)
    assert len(codec.fingerprint) == 8
    others = {codec_for(n).fingerprint for n in RECORD_NAMES if n != name}
    assert codec.fingerprint not in others


def test_round_trip_keeps_every_field_and_millis() -> None:
    codec = codec_for("UserEvent")
    data = codec.encode(EVENT)
    assert data[:2] == b"\xc3\x01" and data[2:10] == codec.fingerprint
    assert codec.decode(data) == EVENT


def test_catalog_change_round_trip_with_image_bytes_and_version() -> None:
    record = {"op": "UPSERT", "sku": "a", "title": "T", "description": None,
              "category_path": ["A", "B"], "brand": "X", "price": 9.5, "currency": "EUR",
              "available": False, "image": b"\x89PNG", "attributes": {"k": "v"},
              "updated_at": 5, "version": 7}
    assert codec_for("CatalogChange").decode(codec_for("CatalogChange").encode(record)) == record


def test_impression_and_item_vector_round_trip() -> None:
    impression = {"request_id": "r", "user_id": "u", "variant": "a", "surface": "recs",
                  "items": [{"sku": "s", "position": 0, "score": 0.5, "source": "ann",
                             "features": [0.5, 1.0]}], "ts": 9, "feature_names": ["a", "b"]}
    assert codec_for("Impression").decode(codec_for("Impression").encode(impression)) == impression
    vector = {"sku": "s", "shard": "0", "model_id": "m", "dim": 2, "vector": b"\x00" * 8,
              "content_hash": "h", "title": None, "category_path": [], "brand": None,
              "price": None, "available": True, "updated_at": 1, "version": None}
    assert codec_for("ItemVector").decode(codec_for("ItemVector").encode(vector)) == vector


def test_encode_names_the_bad_field() -> None:
    with pytest.raises(RecordValidationError, match="UserEvent"):
        codec_for("UserEvent").encode({**EVENT, "type": "TELEPORT"})
    with pytest.raises(RecordValidationError):
        codec_for("UserEvent").encode({k: v for k, v in EVENT.items() if k != "user_id"})


def test_an_older_schema_version_reads_into_the_current_one() -> None:
    v1 = json.loads(resources.files("streamrec.schemas").joinpath(
        "avro", "history", "UserEvent.v1.avsc").read_text())
    codec = codec_for("UserEvent")
    old = {"event_id": "e1", "user_id": "u1", "type": "CLICK", "sku": "s", "query": None,
           "ts": 42}
    data = codec.encode_with(v1, old)
    assert data[2:10] != codec.fingerprint, "written with the old schema's fingerprint"
    decoded = codec.decode(data)
    assert decoded == {**old, "session_id": None, "context": {}}, "new fields take defaults"


def test_a_v1_impression_reads_as_v2_without_features() -> None:
    v1 = json.loads(resources.files("streamrec.schemas").joinpath(
        "avro", "history", "Impression.v1.avsc").read_text())
    codec = codec_for("Impression")
    old = {"request_id": "r", "user_id": "u", "variant": "a", "surface": "recommendations",
           "items": [{"sku": "s", "position": 0, "score": 0.5, "source": "ann"}], "ts": 9}
    data = codec.encode_with(v1, old)
    assert data[2:10] != codec.fingerprint
    assert codec.decode(data) == {
        **old, "items": [{**old["items"][0], "features": None}], "feature_names": []}


def test_unknown_schema_is_refused_by_name() -> None:
    codec = codec_for("UserEvent")
    foreign = codec.encode_with({"type": "record", "name": "X",
                                 "fields": [{"name": "a", "type": "int"}]}, {"a": 1})
    with pytest.raises(UnknownSchemaError, match="not a known UserEvent schema"):
        codec.decode(foreign)
    # a CatalogChange is not a UserEvent either
    with pytest.raises(UnknownSchemaError):
        codec.decode(codec_for("CatalogChange").encode(
            {"op": "DELETE", "sku": "a", "updated_at": 1}))


@pytest.mark.parametrize("data", [b"", None, b"garbage", b"\xc3", b"{\"json\": true}"])
def test_bytes_that_are_not_single_object_avro(data: bytes | None) -> None:
    with pytest.raises(NotAvroError):
        codec_for("UserEvent").decode(data)


def test_truncated_and_padded_bodies_are_malformed() -> None:
    codec = codec_for("UserEvent")
    data = codec.encode(EVENT)
    with pytest.raises(MalformedRecordError):
        codec.decode(data[:-5])
    with pytest.raises(MalformedRecordError, match="trailing"):
        codec.decode(data + b"\x00\x00")


def test_unknown_record_type() -> None:
    with pytest.raises(KeyError):
        AvroCodec("Nope")
