"""The filter contract shared by the candidate generator and the serving pipeline.

A filter takes items that have a ``sku`` and a ``FilterContext`` (what it may know about
the user and the items) and reports what it kept and what it removed. The generator
fills the context from the profile and the index metadata, the serving pipeline from
the cache and the hydrated item documents; the filters do not care which.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar


class HasSku(Protocol):
    @property
    def sku(self) -> str: ...


T = TypeVar("T", bound=HasSku)

ItemLookup = Callable[[str], Mapping[str, Any] | None]
"""sku -> the item's facts (``available``, ``category_path`` ...) or ``None`` if unknown."""


def unknown_item(_sku: str) -> Mapping[str, Any] | None:
    """The lookup of a context that knows no item facts."""
    return None


@dataclass(frozen=True)
class FilterContext:
    purchased: Collection[str] = frozenset()
    seen: Collection[str] = frozenset()
    category: str = ""
    """The requested category scope (``"A > B"``); empty for none."""
    item: ItemLookup = field(default=unknown_item)


@dataclass(frozen=True)
class FilterOutcome(Generic[T]):
    kept: list[T]
    removed: list[str]
    """The skus removed, in input order."""


class CandidateFilter(Protocol):
    name: str
    requires: frozenset[str]
    """What a serving pipeline must have produced before this filter runs."""

    def apply(self, items: Sequence[T], context: FilterContext) -> FilterOutcome[T]: ...


def split(items: Sequence[T], keep: Callable[[T], bool]) -> FilterOutcome[T]:
    kept: list[T] = []
    removed: list[str] = []
    for item in items:
        if keep(item):
            kept.append(item)
        else:
            removed.append(item.sku)
    return FilterOutcome(kept, removed)


def item_available(doc: Mapping[str, Any]) -> bool:
    """``available`` of index metadata (bool) or a Redis item document (``"1"``/``"0"``)."""
    value = doc.get("available", True)
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "")
    return bool(value) if value is not None else True


def item_category_path(doc: Mapping[str, Any]) -> list[str]:
    """``category_path`` as a list, from a list or its JSON text."""
    value = doc.get("category_path")
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.startswith("[") else value.split(">")
        except ValueError:
            return []
    return [str(level).strip() for level in value or [] if str(level).strip()]
