"""Keep the reranker's search log growing from live search clicks.

The users worker appends each search click once to a Redis stream (``RedisKeys.search_log``,
``q`` and ``s`` fields). Every API process reads that stream from its start (the stream
is trimmed to ``search_log_max_entries``), then blocks for new entries, and adds each
pair to the served model's search logs: a product that shoppers start reaching from
search counts in the ranking within ~50 ms (p99 ~80 ms: bench_search_log_freshness),
without retraining. Only a model trained with a search log reads one; without it
nothing is followed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from prometheus_client import Counter, Gauge

from streamrec.rerank.search_log import SearchLog, search_click

log = logging.getLogger(__name__)

FOLLOWED = Counter("streamrec_search_log_pairs_followed_total",
                   "Search clicks read from the search-log stream, by outcome "
                   "(added: a new query for the product; known: already logged)",
                   ["outcome"])
LOG_PAIRS = Gauge("streamrec_search_log_pairs",
                  "(query, product) pairs in the served reranker's search log: the model "
                  "file's plus the clicks followed since start-up",
                  multiprocess_mode="livemax")  # every API process follows the same stream


class SearchLogFollower:
    def __init__(self, redis: aioredis.Redis, stream: str, logs: Sequence[SearchLog],
                 batch: int = 1000, block_ms: int = 1000, retry_s: float = 1.0) -> None:
        self.redis = redis
        self.stream = stream
        self.logs = list(logs)
        self.batch = batch
        self.block_ms = block_ms
        self.retry_s = retry_s
        self.last_id = "0"
        self.caught_up = asyncio.Event()
        """Set once everything in the stream at start-up was read."""
        self._stopped = False
        self._task: asyncio.Task | None = None
        LOG_PAIRS.set(max((search_log.pairs for search_log in self.logs), default=0))

    def apply(self, entries: Sequence[tuple[bytes | str, dict]]) -> int:
        """Add the entries' pairs to every log; returns how many were new."""
        added = 0
        for entry_id, fields in entries:
            self.last_id, query, sku = search_click(entry_id, fields)
            new = [search_log.add(query, sku) for search_log in self.logs]
            added += any(new)
        LOG_PAIRS.inc(added)
        FOLLOWED.labels("added").inc(added)
        FOLLOWED.labels("known").inc(len(entries) - added)
        return added

    async def run(self) -> None:
        """Until ``stop``; Redis errors are logged and retried, never raised."""
        self._task = asyncio.current_task()
        while not self._stopped:
            try:
                block = self.block_ms if self.caught_up.is_set() else None
                reply = await self.redis.xread({self.stream: self.last_id}, count=self.batch,
                                               block=block)
                entries = reply[0][1] if reply else []
                if entries and not self._stopped:
                    await asyncio.to_thread(self.apply, entries)
                if len(entries) < self.batch:
                    self.caught_up.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep following through Redis restarts
                if self._stopped:
                    # a cancellation inside redis-py's blocking read can surface as
                    # another error (seen under load): a stopped follower still stops
                    return
                log.warning("search log stream %s: %s; retrying", self.stream, exc)
                await asyncio.sleep(self.retry_s)

    def stop(self) -> None:
        """End ``run`` (at once, or after its current read)."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()

