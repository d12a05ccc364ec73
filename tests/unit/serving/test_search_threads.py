"""Searches run on a pool of their own (Settings.api_search_threads), not asyncio's
default one that readiness probes share, and the request's context goes with them (the
rerank stage reports through a context variable)."""

import asyncio
import threading
import time
from contextvars import ContextVar

from streamrec.serving.search.catalog_search import CatalogSearch
from streamrec.serving.search.query_embedder import QueryEmbedder

REPORTS: ContextVar[list[str] | None] = ContextVar("reports", default=None)


def search_on(threads: int) -> CatalogSearch:
    return CatalogSearch(None, QueryEmbedder(None), None, None, None,  # type: ignore[arg-type]
                         threads=threads)


def test_searches_queue_on_their_pool_and_carry_the_request_context() -> None:
    search = search_on(2)
    names: list[str] = []
    running = [0, 0]  # now, most at once

    def work() -> int:
        names.append(threading.current_thread().name)
        running[0] += 1
        running[1] = max(running)
        time.sleep(0.05)
        running[0] -= 1
        reports = REPORTS.get()
        assert reports is not None
        reports.append("reranked")
        return 7

    async def request() -> tuple[int, list[str]]:
        reports: list[str] = []
        REPORTS.set(reports)  # this request's task only
        return await search._in_thread(work), reports

    async def go() -> list[tuple[int, list[str]]]:
        return await asyncio.gather(*(request() for _ in range(6)))

    try:
        answers = asyncio.run(go())
    finally:
        search.close()
    assert answers == [(7, ["reranked"])] * 6  # each request sees its own report
    assert running[1] == 2  # six requests, never more than two at once
    assert all(name.startswith("search") for name in names)


def test_zero_threads_means_the_default_pool() -> None:
    search = search_on(0)

    async def go() -> str:
        return await search._in_thread(lambda: threading.current_thread().name)

    assert not asyncio.run(go()).startswith("search")
    search.close()
