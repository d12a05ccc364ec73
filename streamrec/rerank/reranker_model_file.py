"""The reranker model file: one JSON document holding the model and what it was made from.

Fields: ``format``, ``kind`` (``lightgbm``, ``cross-encoder`` or ``cascade``), ``feature_set`` and
``features`` (names, in column order), ``trained_at``, ``data_hash`` (judgments and
catalog it learned from), ``split`` (how queries were divided), ``metrics`` (test split
only), ``params``, and the payload (LightGBM's model text, or the file name of an ONNX
model next to this file; a cascade has none: ``params`` names its two model files).
A LightGBM model may carry ``search_log`` (``sku -> queries``, ``search_log.SearchLog``):
the log its ``search_log_*`` features were computed from. Written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MODEL_FORMAT = "streamrec.reranker/1"


class RerankModelError(ValueError):
    """A model file that cannot be served (unreadable, unknown format or kind)."""


class RerankModelMismatchError(RerankModelError):
    """A model trained on another feature list than the one this code computes."""


@dataclass
class RerankerModelFile:
    kind: str
    feature_set: str
    features: list[str]
    trained_at: str
    data_hash: str
    payload: str
    """LightGBM model text, or the ONNX file name (relative to the model file)."""
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    format: str = MODEL_FORMAT
    search_log: dict[str, list[str]] = field(default_factory=dict)
    """sku -> logged queries that led to it (empty: the model was trained without one)."""

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)
        return path

    @property
    def search_log_pairs(self) -> int:
        return sum(len(queries) for queries in self.search_log.values())

    def summary(self) -> dict[str, Any]:
        """Everything but the payload and the log's pairs (for logs and ``/readyz``)."""
        out = asdict(self)
        out.pop("payload")
        del out["search_log"]
        out["search_log_pairs"] = self.search_log_pairs
        return out


def load_model_file(path: Path, kind: str | None = None, feature_set: str | None = None,
                    features: Sequence[str] | None = None) -> RerankerModelFile:
    """Read a model file; with ``feature_set``/``features``, refuse a model made for others."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RerankModelError(f"cannot read reranker model {path}: {exc}") from exc
    if raw.get("format") != MODEL_FORMAT:
        raise RerankModelError(f"{path}: format {raw.get('format')!r}, expected {MODEL_FORMAT!r}")
    try:
        model = RerankerModelFile(**raw)
    except TypeError as exc:
        raise RerankModelError(f"{path}: malformed reranker model ({exc})") from exc
    if kind is not None and model.kind != kind:
        raise RerankModelError(f"{path}: a {model.kind!r} model, expected {kind!r}")
    if feature_set is not None and model.feature_set != feature_set:
        raise RerankModelMismatchError(
            f"{path}: trained on feature set {model.feature_set!r}, this code computes "
            f"{feature_set!r}; retrain with `streamrec train reranker`")
    if features is not None and list(model.features) != list(features):
        theirs, ours = list(model.features), list(features)
        diff = sorted(set(theirs) ^ set(ours)) or "same names, different order"
        raise RerankModelMismatchError(
            f"{path}: trained on features {theirs}, this code computes {ours} ({diff}); "
            "retrain with `streamrec train reranker`")
    return model


def search_log_pairs(path: Path) -> int:
    """Pairs in the search log(s) a model file serves with (a cascade: its two parts')."""
    model = load_model_file(path)
    if model.kind == "cascade":
        folder = Path(path).parent
        return sum(search_log_pairs(folder / model.params[key]) for key in ("first", "second"))
    return model.search_log_pairs
