"""Decode one Kafka value against the contract and apply its semantic rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamrec.schemas.codec import RecordValidationError, codec_for
from streamrec.schemas.records import catalog_change_problems, user_event_problems

ProblemsFn = Callable[[dict[str, Any]], list[str]]

RULES: dict[str, ProblemsFn] = {
    "CatalogChange": catalog_change_problems,
    "UserEvent": user_event_problems,
}


class RecordValidator:
    """``validate(bytes) -> record`` or an ``InvalidRecordError`` whose reason goes to the DLQ."""

    def __init__(self, record_type: str) -> None:
        self.record_type = record_type
        self.codec = codec_for(record_type)
        self.rules = RULES.get(record_type)

    def validate(self, value: bytes | None) -> dict[str, Any]:
        record = self.codec.decode(value)
        if self.rules is not None:
            problems = self.rules(record)
            if problems:
                raise RecordValidationError(f"{self.record_type}: {'; '.join(problems)}")
        return record
