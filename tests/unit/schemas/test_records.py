from __future__ import annotations

import pytest
from pydantic import ValidationError

from streamrec.schemas.records import (
    CatalogChangeIn,
    UserEventIn,
    catalog_change_problems,
    describe_errors,
    to_epoch_millis,
    user_event_problems,
)


@pytest.mark.parametrize(("value", "millis"), [
    (1_764_000_000_000, 1_764_000_000_000),
    (1_764_000_000, 1_764_000_000_000),
    (1_764_000_000.5, 1_764_000_000_500),
    ("1764000000000", 1_764_000_000_000),
    ("2025-11-24T16:00:00Z", 1_764_000_000_000),
    ("2025-11-24T17:00:00+01:00", 1_764_000_000_000),
    ("2025-11-24T16:00:00", 1_764_000_000_000),
])
def test_timestamps(value: object, millis: int) -> None:
    assert to_epoch_millis(value) == millis


@pytest.mark.parametrize("value", [True, "yesterday", None, [1]])
def test_bad_timestamps(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        to_epoch_millis(value)


def test_user_event_rules() -> None:
    ok = {"event_id": "e", "user_id": "u", "type": "VIEW", "sku": "s", "ts": 1}
    assert user_event_problems(ok) == []
    assert user_event_problems({**ok, "sku": None}) == ["sku: required for VIEW events"]
    assert user_event_problems({**ok, "type": "SEARCH", "sku": None}) == [
        "query: required for SEARCH events"]
    assert user_event_problems({**ok, "user_id": " ", "ts": 0}) == [
        "user_id: must not be empty", "ts: must be a positive epoch-millis timestamp"]


def test_catalog_rules() -> None:
    ok = {"op": "UPSERT", "sku": "a", "title": "T", "price": 1.0, "updated_at": 1}
    assert catalog_change_problems(ok) == []
    assert catalog_change_problems({**ok, "title": ""}) == ["title: required for UPSERT"]
    assert catalog_change_problems({**ok, "op": "DELETE", "title": None}) == []
    assert catalog_change_problems({**ok, "price": float("nan")}) == [
        "price: must be a non-negative number"]


def test_models_normalise_and_produce_avro_ready_dicts() -> None:
    event = UserEventIn.model_validate({"event_id": " e ", "user_id": "u", "type": "click",
                                        "sku": "s", "ts": "2025-11-24T16:00:00Z",
                                        "context": {"slot": 3, "none": None}})
    assert event.to_record() == {"event_id": "e", "user_id": "u", "session_id": None,
                                 "type": "CLICK", "sku": "s", "query": None,
                                 "ts": 1_764_000_000_000, "context": {"slot": "3"}}
    change = CatalogChangeIn.model_validate({"op": "upsert", "sku": "a", "title": "T",
                                             "updated_at": 1, "attributes": {"n": 1}})
    assert change.to_record()["op"] == "UPSERT"
    assert change.to_record()["attributes"] == {"n": "1"}


def test_errors_name_each_field() -> None:
    with pytest.raises(ValidationError) as info:
        UserEventIn.model_validate({"user_id": "u", "type": "VIEW", "ts": 1, "extra": 1})
    message = describe_errors(info.value)
    assert "event_id: Field required" in message
    assert "extra: Extra inputs are not permitted" in message
    with pytest.raises(ValidationError) as info:
        CatalogChangeIn.model_validate({"sku": "a", "updated_at": 1})
    assert describe_errors(info.value) == "title: required for UPSERT"
    with pytest.raises(ValidationError):
        CatalogChangeIn.model_validate({"sku": "a", "title": "t", "updated_at": 1, "price": -1})
