"""Build the worker's Faust app with every agent registered, and run it."""

from __future__ import annotations

import asyncio
import logging

import faust
from faust.worker import Worker

from streamrec.agents.catalog_agent import register_catalog_agent
from streamrec.agents.user_events_agent import register_user_events_agent
from streamrec.agents.worker_context import WorkerContext
from streamrec.settings import Settings
from streamrec.streams.admin import check_kafka
from streamrec.streams.faust_app import create_faust_app


def build_worker_app(settings: Settings) -> tuple[faust.App, WorkerContext]:
    app = create_faust_app(settings)
    ctx = WorkerContext(app, settings)
    register_catalog_agent(ctx)
    register_user_events_agent(ctx)
    return app, ctx


def _use_uvloop() -> None:
    """uvloop roughly halves the event loop's share of the worker's CPU per event."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(asyncio.new_event_loop())


def run_worker(settings: Settings, *, loglevel: str = "info", metrics_port: int = 0) -> None:
    """Run until SIGTERM/SIGINT. Fails fast, with a clear message, when Kafka is unreachable."""
    check_kafka(settings)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")
    _use_uvloop()
    app, _ = build_worker_app(settings)
    logging.getLogger("faust").setLevel(loglevel.upper())
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
