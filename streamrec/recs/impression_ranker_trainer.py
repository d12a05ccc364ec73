"""LightGBM lambdarank over logged impressions: the recommendations rerank model.

Groups are impressions with at least one positive (an all-zero list has no pair to
learn from). Impressions are split by a hash of their request id into train and
validation; boosting early-stops on validation NDCG@10, and the figure reported
next to it is the validation NDCG@10 of the order the users were actually shown (the
logged positions, i.e. after the diversifier) and of the linear default scorer on the
same logged features (before the diversifier, like the model): the fair offline
comparison is model vs linear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.evaluation.ranking_metrics import ndcg_at_k
from streamrec.recs.feature_reranker import DEFAULT_WEIGHTS, FEATURE_NAMES, FEATURE_SET
from streamrec.recs.impression_click_join import LabelledImpression
from streamrec.recs.lightgbm_item_scorer import KIND
from streamrec.recs.linear_item_scorer import LinearItemScorer
from streamrec.rerank.lightgbm_ranker_trainer import RoundFn, boost, lambdarank_dataset
from streamrec.rerank.reranker_model_file import RerankerModelFile

LABEL_GAIN = [0.0, 1.0, 3.0, 7.0]
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "label_gain": LABEL_GAIN,
    # fixed before any run (not tuned on evaluation users): small trees, since a few
    # hundred positive impressions is the usual start of a feedback loop
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 1.0,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "seed": 13,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}

def validation_share_of(request_id: str) -> float:
    """A stable number in [0, 1) per impression: the split never depends on read order."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def ndcg_at_10(labels: np.ndarray, order: np.ndarray) -> float:
    """NDCG@10 of ``labels`` visited in ``order`` (gains ``LABEL_GAIN``)."""
    gains = {row: LABEL_GAIN[label] for row, label in enumerate(labels.tolist())}
    return ndcg_at_k(order.tolist(), gains, 10)


@dataclass
class ImpressionTrainingResult:
    booster: Any
    metrics: dict[str, Any]
    split: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    def model_file(self, data_hash: str) -> RerankerModelFile:
        return RerankerModelFile(
            kind=KIND, feature_set=FEATURE_SET, features=list(FEATURE_NAMES),
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"), data_hash=data_hash,
            payload=self.booster.model_to_string(), metrics=self.metrics, params=self.params,
            split=self.split)

    def save(self, path: Path, data_hash: str) -> Path:
        return self.model_file(data_hash).save(path)


def _dataset(groups: Sequence[LabelledImpression], reference: Any = None) -> Any:
    return lambdarank_dataset([g.features for g in groups], [g.labels for g in groups],
                              FEATURE_NAMES, reference)


def train_impression_ranker(impressions: Sequence[LabelledImpression],
                            validation_share: float = 0.2, max_rounds: int = 300,
                            early_stopping: int = 30, params: dict[str, Any] | None = None,
                            on_round: RoundFn | None = None) -> ImpressionTrainingResult:
    """Train on the positive impressions; raises ``ValueError`` when there are none."""
    positive = [imp for imp in impressions if imp.has_positive and len(imp.skus) > 1]
    if not positive:
        raise ValueError(f"none of the {len(impressions)} usable impressions has a click, "
                         "add-to-cart or purchase attributed to it: nothing to learn from")
    validation = [imp for imp in positive if validation_share_of(imp.request_id)
                  < validation_share]
    train = [imp for imp in positive if validation_share_of(imp.request_id)
             >= validation_share]
    if not train:  # a handful of impressions: train on all, report no validation
        train, validation = positive, []
    params = {**DEFAULT_PARAMS, **(params or {})}
    train_set = _dataset(train)
    booster = boost(params, train_set,
                    _dataset(validation, reference=train_set) if validation else None,
                    max_rounds, early_stopping, on_round)
    metrics: dict[str, Any] = {
        "rows": int(sum(len(imp.skus) for imp in positive)),
        "groups": len(positive), "train_groups": len(train),
        "validation_groups": len(validation),
        "positives": int(sum(int((imp.labels > 0).sum()) for imp in positive)),
        "impressions_without_positive": len(impressions) - len(positive),
        "best_round": int(booster.best_iteration or booster.current_iteration()),
        "validation_ndcg_at_10_model": None, "validation_ndcg_at_10_logged": None,
        "validation_ndcg_at_10_linear": None,
        "feature_gain": {name: round(float(gain), 1) for name, gain in zip(
            FEATURE_NAMES, booster.feature_importance("gain"), strict=True)},
    }
    if validation:
        linear = LinearItemScorer(DEFAULT_WEIGHTS, FEATURE_NAMES)
        model, logged, default = [], [], []
        for imp in validation:
            scores = booster.predict(imp.features, num_iteration=metrics["best_round"],
                                     num_threads=1)
            model.append(ndcg_at_10(imp.labels, _order(scores)))
            default.append(ndcg_at_10(imp.labels, _order(linear.score(imp.features))))
            logged.append(ndcg_at_10(imp.labels, np.arange(len(imp.skus))))
        metrics["validation_ndcg_at_10_model"] = round(float(np.mean(model)), 4)
        metrics["validation_ndcg_at_10_logged"] = round(float(np.mean(logged)), 4)
        metrics["validation_ndcg_at_10_linear"] = round(float(np.mean(default)), 4)
    split = {"method": "blake2b(request_id) < validation_share",
             "validation_share": validation_share}
    return ImpressionTrainingResult(booster, metrics, split, params)


def _order(scores: np.ndarray) -> np.ndarray:
    """Best first; ties keep the logged order (a flat model earns no reshuffle)."""
    return np.lexsort((np.arange(len(scores)), -np.asarray(scores)))


def impressions_hash(impressions: Sequence[LabelledImpression]) -> str:
    """What the model learned from: request ids and labels, order-independent."""
    digest = hashlib.sha256()
    for imp in sorted(impressions, key=lambda i: i.request_id):
        digest.update(imp.request_id.encode())
        digest.update(imp.labels.astype(np.int8).tobytes())
    return digest.hexdigest()[:16]


