"""``streamrec train reranker --from impressions``: read the logs, join, label, train, write.

Reads ``recs.impressions`` and ``user.events`` from the beginning up to their end
offsets at the start (a fresh consumer group each, no offsets committed), joins them
(``ImpressionClickJoin``), trains the lambdarank model (``impression_ranker_trainer``)
and writes the model file the API serves with ``STREAMREC_RECS_RERANK_MODEL_PATH``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamrec.evaluation.phase_progress import PhaseFn, silent_phase
from streamrec.recs.feature_reranker import FEATURE_NAMES
from streamrec.recs.impression_click_join import ImpressionClickJoin
from streamrec.recs.impression_ranker_trainer import impressions_hash, train_impression_ranker
from streamrec.settings import Settings
from streamrec.streams.topic_range_reader import TopicRangeReader
from streamrec.streams.topics import Topics


class NothingToLearnError(ValueError):
    """No usable impression, or none with feedback attributed to it."""


@dataclass
class ImpressionTrainingRun:
    model_path: Path
    join: dict[str, Any]
    metrics: dict[str, Any]
    undecodable: int


def train_from_impressions(settings: Settings, output: Path, *, window_s: float = 1800.0,
                           variant: str | None = None, validation_share: float = 0.2,
                           max_rounds: int = 300, on_phase: PhaseFn | None = None
                           ) -> ImpressionTrainingRun:
    phase = on_phase or silent_phase
    topics = Topics(settings)
    reader = TopicRangeReader(settings)
    join = ImpressionClickJoin(FEATURE_NAMES, int(window_s * 1000), variant=variant)
    span = reader.range(topics.impressions)
    if span.records == 0:
        raise NothingToLearnError(f"no impressions in {topics.impressions} at "
                                  f"{settings.kafka_bootstrap}: serve recommendations first")
    advance = phase(f"reading {topics.impressions}", span.records)
    for record in reader.read(topics.impressions, "Impression", advance):
        join.add_impression(record)
    events = reader.range(topics.user_events).records
    advance = phase(f"reading {topics.user_events}", events)
    for record in reader.read(topics.user_events, "UserEvent", advance):
        join.add_event(record)
    impressions, stats = join.result()
    if not impressions:
        raise NothingToLearnError(
            f"none of the {stats.impressions} impressions can be learned from "
            f"({dict(stats.skipped)}): they carry no features (logged before the Impression "
            "schema v2) or other feature columns than this code computes")
    if not any(imp.has_positive for imp in impressions):
        raise NothingToLearnError(
            f"{len(impressions)} usable impressions, but none has a CLICK, ADD_TO_CART or "
            f"PURCHASE attributed to it ({stats.feedback_events} such events read, "
            f"{dict(stats.attributed)}); clicks are attributed by context.request_id or by "
            f"user and sku within {window_s:g} s after the impression")
    advance = phase("boosting rounds (early stop on validation)", max_rounds)
    result = train_impression_ranker(impressions, validation_share, max_rounds,
                                     on_round=lambda _round, _ndcg: advance(1))
    result.metrics["join"] = stats.as_dict()
    path = result.save(output, impressions_hash(impressions))
    return ImpressionTrainingRun(path, stats.as_dict(), result.metrics, reader.undecodable)
