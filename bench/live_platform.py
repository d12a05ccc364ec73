"""A benchmark's worker and API processes: the package's ``LiveDeployment`` under the
names the benches use (``streamrec.evaluation.live_deployment`` holds the code).

    with LivePlatform(settings, env={"STREAMREC_CATALOG_BATCH_SIZE": "256"}) as live:
        live.start()
        live.search("cordless drill", k=10)
"""

from __future__ import annotations

from pathlib import Path

from streamrec.evaluation.live_deployment import (
    LiveDeployment,
    cpu_seconds,
    metric_sum,
    prometheus_value,
    settings_env,
)
from streamrec.settings import Settings

REPO = Path(__file__).resolve().parents[1]

__all__ = ["REPO", "LivePlatform", "cpu_seconds", "metric_sum", "prometheus_value",
           "settings_env"]


class LivePlatform(LiveDeployment):
    """One worker (all roles) and one API process, started from the repository root."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None,
                 *, worker: bool = True, api: bool = True) -> None:
        super().__init__(settings, env, worker_roles=("all",) if worker else (), api=api,
                         cwd=REPO)
