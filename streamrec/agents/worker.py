"""Build the worker's Faust app with every agent registered, and run it."""

from __future__ import annotations

import asyncio
import gc
import logging

import faust
from faust.worker import Worker

from streamrec.agents.catalog_agent import register_catalog_agent
from streamrec.agents.user_events_agent import register_user_events_agent
from streamrec.agents.worker_context import WorkerContext
from streamrec.settings import Settings
from streamrec.streams.admin import check_kafka
from streamrec.streams.faust_app import create_faust_app

ROLES = {
    "all": (register_catalog_agent, register_user_events_agent),
    "catalog": (register_catalog_agent,),
    "users": (register_user_events_agent,),
}
"""Which agents a worker process runs. Faust feeds every agent of a process through one
dispatcher, so a catalog backlog (embedding is slow) would hold user events back:
production runs the roles as separate processes, each its own consumer group."""


class StreamrecWorker(Worker):
    """Faust's worker without its terminal spinner, and with start-up objects out of the
    garbage collector's way."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        # Faust's spinner sets the root logger to DEBUG so that every record advances it:
        # every aiokafka debug call (several per fetch and request) then built a record,
        # ~4% of the users worker's GIL time at 1,000 events/s. No spinner, the level as
        # configured.
        self.spinner = None

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        # Everything built at start-up (modules, the app, the index replica's metadata)
        # lives as long as the process: freezing it keeps full collections from walking
        # it again and again (users worker at 1,000 events/s: a ~80 ms collection every
        # ~3 s, 1.46 s a minute; 0.30 s frozen).
        gc.collect()
        gc.freeze()


def build_worker_app(settings: Settings, role: str = "all") -> tuple[faust.App, WorkerContext]:
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r}; choose from {', '.join(ROLES)}")
    suffix = "" if role == "all" else f"-{role}"
    app = create_faust_app(settings, app_id=f"{settings.topic_prefix}{settings.app_id}{suffix}")
    ctx = WorkerContext(app, settings)
    for register in ROLES[role]:
        register(ctx)
    return app, ctx


def _use_uvloop() -> None:
    """uvloop roughly halves the event loop's share of the worker's CPU per event."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(asyncio.new_event_loop())


def run_worker(settings: Settings, *, role: str = "all", loglevel: str = "info",
               metrics_port: int = 0) -> None:
    """Run until SIGTERM/SIGINT. Fails fast, with a clear message, when Kafka is unreachable."""
    check_kafka(settings)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")
    _use_uvloop()
    app, _ = build_worker_app(settings, role)
    logging.getLogger("faust").setLevel(loglevel.upper())
    StreamrecWorker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
