"""The one place that decides what text is embedded for a product.

``product_text`` builds it from a catalog record (``CatalogChange`` fields):

    <title>. Category: <level 1> > <level 2> > ... Brand: <brand>. <key>: <value>; ...
    <start of the description>

Most important first, because the encoder truncates (128 tokens by default): the
title, then the category path, then the brand, then up to ``MAX_ATTRIBUTES``
attributes (the keys in ``KEY_ATTRIBUTES`` first, in that order, then the rest by
name), then at most ``DESCRIPTION_CHARS`` characters of the description, cut at a
word boundary. Whitespace is collapsed; empty fields are left out, as is a brand
the title already names.

Price, currency, availability, the image and ``updated_at`` are deliberately not
part of the text: they change often and say little about what a product *is*, and
leaving them out means a price change does not re-embed the product.

``content_hash(text, model_id)`` names what was embedded: the catalog agent skips
embedding when a product's hash has not changed, and a new model changes every hash.
Change this recipe and every product is re-embedded on its next change; run a
reindex (replay ``catalog.changes``) to refresh them all at once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

KEY_ATTRIBUTES = (
    "type",
    "article_type",
    "gender",
    "color",
    "colour",
    "material",
    "size",
    "style",
    "pattern",
    "usage",
    "season",
    "platform",
    "genre",
    "model",
)
"""Attribute keys that describe a product best, embedded first when present."""
MAX_ATTRIBUTES = 4  # ~6 encoder tokens each; the first four carry most of the meaning
DESCRIPTION_CHARS = 200

_SPACES = re.compile(r"\s+")


def _clean(value: Any) -> str:
    return _SPACES.sub(" ", str(value)).strip() if value is not None else ""


def _attribute_order(key: str) -> tuple[int, str]:
    normalised = key.strip().lower().replace(" ", "_")
    rank = KEY_ATTRIBUTES.index(normalised) if normalised in KEY_ATTRIBUTES else len(KEY_ATTRIBUTES)
    return rank, normalised


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def product_text(record: Mapping[str, Any]) -> str:
    """The text embedded for one product record (see the module docstring for the recipe)."""
    parts: list[str] = []
    title = _clean(record.get("title")).rstrip(".")
    if title:
        parts.append(f"{title}.")
    path = [p for p in (_clean(level) for level in record.get("category_path") or ()) if p]
    if path:
        parts.append(f"Category: {' > '.join(path)}.")
    brand = _clean(record.get("brand"))
    if brand and brand.lower() not in title.lower():
        parts.append(f"Brand: {brand}.")
    attributes = record.get("attributes") or {}
    pairs = [
        (_clean(key), _clean(value))
        for key, value in sorted(attributes.items(), key=lambda kv: _attribute_order(str(kv[0])))
    ]
    pairs = [(k, v) for k, v in pairs if k and v][:MAX_ATTRIBUTES]
    if pairs:
        parts.append("; ".join(f"{k}: {v}" for k, v in pairs) + ".")
    description = _clean(record.get("description"))
    if description:
        parts.append(_shorten(description, DESCRIPTION_CHARS))
    return " ".join(parts)


def content_hash(text: str, model_id: str) -> str:
    """A short (20 hex characters) blake2b of the model id and the embedded text."""
    digest = hashlib.blake2b(digest_size=10)
    digest.update(model_id.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()
