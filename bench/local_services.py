"""Kafka and Redis for a benchmark: the ones given, or fresh ones on free ports
(``streamrec.evaluation.deployment_services.deployment_settings`` under its bench name)."""

from __future__ import annotations

from streamrec.evaluation.deployment_services import deployment_settings as bench_settings

__all__ = ["bench_settings"]
