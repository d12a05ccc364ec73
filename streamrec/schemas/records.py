"""The JSON face of the contract's input records, and the rules Avro alone cannot express.

Publishers send JSON (HTTP, JSON Lines files); these models validate it and turn it
into the plain dicts the Avro codecs write. The same semantic rules run again in the
agents on decoded Avro, so a record written by any other producer is held to them too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NonEmpty = Annotated[str, Field(min_length=1, max_length=512)]


class CatalogOp(StrEnum):
    UPSERT = "UPSERT"
    DELETE = "DELETE"


class UserEventType(StrEnum):
    VIEW = "VIEW"
    CLICK = "CLICK"
    ADD_TO_CART = "ADD_TO_CART"
    PURCHASE = "PURCHASE"
    SEARCH = "SEARCH"


SKU_EVENT_TYPES = frozenset({"VIEW", "CLICK", "ADD_TO_CART", "PURCHASE"})


def to_epoch_millis(value: Any) -> int:
    """Accept epoch milliseconds, epoch seconds (< 1e11) or an ISO-8601 string."""
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, int | float):
        number = float(value)
        return int(number * 1000) if number < 1e11 else int(number)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return to_epoch_millis(float(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    raise ValueError(f"cannot read a timestamp from {type(value).__name__}")


def catalog_change_problems(record: dict[str, Any]) -> list[str]:
    """Semantic rules on a decoded CatalogChange; an empty list means valid."""
    problems = []
    if not record.get("sku", "").strip():
        problems.append("sku: must not be empty")
    if record.get("op") == "UPSERT" and not (record.get("title") or "").strip():
        problems.append("title: required for UPSERT")
    price = record.get("price")
    if price is not None and (price < 0 or price != price):
        problems.append("price: must be a non-negative number")
    if record.get("updated_at", 0) <= 0:
        problems.append("updated_at: must be a positive epoch-millis timestamp")
    return problems


def user_event_problems(record: dict[str, Any]) -> list[str]:
    """Semantic rules on a decoded UserEvent; an empty list means valid."""
    problems = []
    for name in ("event_id", "user_id"):
        if not (record.get(name) or "").strip():
            problems.append(f"{name}: must not be empty")
    kind = record.get("type")
    if kind in SKU_EVENT_TYPES and not (record.get("sku") or "").strip():
        problems.append(f"sku: required for {kind} events")
    if kind == "SEARCH" and not (record.get("query") or "").strip():
        problems.append("query: required for SEARCH events")
    if record.get("ts", 0) <= 0:
        problems.append("ts: must be a positive epoch-millis timestamp")
    return problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CatalogChangeIn(_Strict):
    op: CatalogOp = CatalogOp.UPSERT
    sku: NonEmpty
    title: str | None = None
    description: str | None = None
    category_path: list[str] = Field(default_factory=list)
    brand: str | None = None
    price: float | None = Field(default=None, ge=0)
    currency: str | None = None
    available: bool = True
    image: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    updated_at: int
    version: int | None = None

    @field_validator("op", mode="before")
    @classmethod
    def _upper_op(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("updated_at", mode="before")
    @classmethod
    def _millis(cls, value: Any) -> int:
        return to_epoch_millis(value)

    @field_validator("attributes", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items() if v is not None}
        return value

    @model_validator(mode="after")
    def _rules(self) -> CatalogChangeIn:
        problems = catalog_change_problems(self.to_record())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_record(self) -> dict[str, Any]:
        record = self.model_dump()
        record["op"] = self.op.value
        return record


class UserEventIn(_Strict):
    event_id: NonEmpty
    user_id: NonEmpty
    session_id: str | None = None
    type: UserEventType
    sku: str | None = None
    query: str | None = Field(default=None, max_length=2048)
    ts: int
    context: dict[str, str] = Field(default_factory=dict)

    @field_validator("type", mode="before")
    @classmethod
    def _upper_type(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("ts", mode="before")
    @classmethod
    def _millis(cls, value: Any) -> int:
        return to_epoch_millis(value)

    @field_validator("context", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items() if v is not None}
        return value

    @model_validator(mode="after")
    def _rules(self) -> UserEventIn:
        problems = user_event_problems(self.to_record())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_record(self) -> dict[str, Any]:
        record = self.model_dump()
        record["type"] = self.type.value
        return record


def describe_errors(exc: ValidationError) -> str:
    """One readable line from pydantic's errors: ``field: message; field: message``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "record"
        message = err["msg"].removeprefix("Value error, ")
        parts.append(message if where == "record" else f"{where}: {message}")
    return "; ".join(parts)
