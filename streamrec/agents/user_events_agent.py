"""User-events agent: ``user.events`` (partitioned by user) → validated → de-duplicated by
event id → recent events in Redis → the user's profile (in Redis, see user_profile_store)
plus co-visitation and trending → a debounced refresh of the user's candidate cache.

Debouncing: every applied event marks its user; a timer refreshes users whose delay has
passed, so a burst of events costs one refresh and no event waits longer than
``recs_refresh_max_delay_s``.

Two-speed refresh (``recs_incremental_refresh``, the default): the micro-batch that applied
a user's events also updates the user's cached list in place (the fast path,
``IncrementalCandidateUpdater``: one Lua call per user, pipelined, in the background while
the next batch is applied), so the debounced full regeneration is only needed every
``recs_full_refresh_min_interval_s`` per user (sooner when the list was missing or stale),
and at most ``recs_full_refresh_max_per_s`` of them run a second.

A cache warmer refreshes recently active users whose cached list expired, and users the
API asked to refresh (per-partition request lists, so the worker that owns the
user's profile serves them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from streamrec.agents.one_in_flight import OneInFlight
from streamrec.agents.record_validator import RecordValidator
from streamrec.agents.user_event_recorder import UserEventRecorder
from streamrec.agents.validated_stream import run_validated_stream
from streamrec.agents.worker_context import WorkerContext
from streamrec.agents.worker_metrics import OWNED_PARTITIONS, REFRESH_LAG, REFRESHES
from streamrec.recs.recs_components import build_recs
from streamrec.recs.refresh_debouncer import RefreshDebounceConfig, RefreshDebouncer
from streamrec.recs.user_profile_store import UserProfileStore

AGENT = "user-events"
log = logging.getLogger(__name__)


@contextlib.contextmanager
def _survive(what: str) -> Iterator[None]:
    """A timer that raises crashes the whole Faust app: log, count, and try next tick."""
    try:
        yield
    except Exception:
        log.exception("%s failed; trying again on the next tick", what)
        REFRESHES.labels("failed").inc()


def register_user_events_agent(ctx: WorkerContext) -> None:
    settings = ctx.settings
    validator = RecordValidator("UserEvent")
    dlq = ctx.dead_letter_router(ctx.topics.user_events)
    incremental = settings.recs_incremental_refresh
    if incremental:  # the fast path shows every event at once: full refreshes can wait
        full_interval = max(settings.recs_full_refresh_min_interval_s,
                            settings.recs_refresh_delay_s)
        debouncer = RefreshDebouncer(RefreshDebounceConfig(
            delay_s=settings.recs_refresh_delay_s, min_interval_s=full_interval,
            max_delay_s=full_interval))
    else:
        debouncer = RefreshDebouncer(RefreshDebounceConfig(
            delay_s=settings.recs_refresh_delay_s,
            min_interval_s=settings.recs_refresh_min_interval_s,
            max_delay_s=settings.recs_refresh_max_delay_s))
    full_rate = settings.recs_full_refresh_max_per_s if incremental else 0.0
    # small bursts (a fifth of a second's worth): a batch of full refreshes holds the loop
    # (and the fast path) for its whole CPU time
    burst = float(max(1, min(settings.recs_refresh_batch_size, round(full_rate / 5))))
    budget = {"tokens": burst, "at": time.monotonic()}
    applied_count: dict[str, int] = {}  # user -> event_count of the last applied profile
    first_event_at: dict[str, float] = {}  # user -> when the oldest unrefreshed event arrived
    last_active: dict[str, float] = {}
    # users the cache warmer queued, oldest first: refreshed only with the full-refresh
    # budget that events leave unused, so a warmer pass that finds thousands of users
    # never queues ahead of users with new events
    warming: dict[str, None] = {}
    state: dict[str, Any] = {}
    in_flight = OneInFlight("the fast path of a batch of user events")

    def components() -> Any:
        if "recorder" not in state:
            state["recorder"] = UserEventRecorder(
                ctx.redis, ctx.keys, max_recent=settings.user_recent_events,
                dedup_ttl_s=settings.dedup_ttl_s,
                search_log_max_entries=settings.search_log_max_entries)
        if settings.recs_enabled and "recs" not in state:  # only then the index replica
            state["recs"] = recs = build_recs(settings, ctx.redis, ctx.index_replica())
            state["applier"] = recs.applier()
            state["refresher"] = recs.refresher()
            state["profiles"] = UserProfileStore(ctx.redis, ctx.keys)
            if incremental:
                state["updater"] = recs.updater()
        return state

    async def apply(records: list[dict[str, Any]], _events: list[Any]) -> dict[str, int]:
        parts = components()
        applied = await parts["recorder"].record(records)
        fresh = [r for r, a in zip(records, applied, strict=True) if a]
        if fresh and settings.recs_enabled:
            store: UserProfileStore = parts["profiles"]
            loaded = await store.load_many(r["user_id"] for r in fresh)
            touched = await parts["applier"].apply(fresh, loaded)
            await store.save_many(loaded[user] for user in touched)
            now = time.monotonic()
            for user in touched:
                first_event_at.setdefault(user, now)
                last_active[user] = now
            if incremental:
                # the fast path runs while the next batch is read and applied (Redis on
                # this batch's scripts, the worker's Python on the next batch; awaited
                # here, each waited for the other); one batch at a time, in order
                await in_flight.submit(lambda: fast_path(fresh, loaded, touched))
            else:
                for user in touched:
                    debouncer.mark(user, now)
        return dict(Counter("applied" if a else "duplicate" for a in applied))

    async def fast_path(fresh: list[dict[str, Any]], loaded: dict[str, Any],
                        touched: list[str]) -> None:
        """Update the users' lists in place, then queue their full refreshes (soon for
        those whose list was missing or stale)."""
        urgent = await update_in_place(fresh, loaded, touched)
        now = time.monotonic()
        for user in touched:
            debouncer.mark(user, now, urgent=user in urgent)

    async def update_in_place(fresh: list[dict[str, Any]], loaded: dict[str, Any],
                              touched: list[str]) -> set[str]:
        """The fast path for every touched user; the users owed a full refresh soon
        (their list was missing or stale, or the update failed)."""
        by_user: dict[str, list[dict[str, Any]]] = {}
        for record in fresh:
            by_user.setdefault(record["user_id"], []).append(record)
        for user in touched:
            applied_count[user] = loaded[user].event_count
        try:
            statuses = await state["updater"].update_many(
                [(loaded[user], by_user.get(user, [])) for user in touched])
        except Exception:
            log.exception("in-place candidate update of %d users failed; they get a full "
                          "refresh instead", len(touched))
            REFRESHES.labels("failed").inc()
            return set(touched)
        REFRESHES.labels("incremental").inc(len(statuses))
        return {user for user, status in statuses.items() if status == "created"}

    def refreshed(user: str, reason: str) -> None:
        REFRESHES.labels(reason).inc()
        started = first_event_at.pop(user, None)
        if started is not None:
            REFRESH_LAG.observe(time.monotonic() - started)

    async def refresh_one_by_one(profiles: list[Any], reason: str) -> None:
        """The per-user path: one user's failure never fails another's refresh."""
        refresher = state["refresher"]
        semaphore = asyncio.Semaphore(settings.recs_refresh_concurrency)

        async def one(profile: Any) -> None:
            async with semaphore:
                try:
                    await refresher.refresh(profile)
                except Exception:
                    log.exception("candidate refresh of %s failed", profile.user_id)
                    REFRESHES.labels("failed").inc()
                    return
            refreshed(profile.user_id, reason)

        await asyncio.gather(*(one(p) for p in profiles))

    async def refresh(users: list[str], reason: str) -> None:
        """Refresh in batches of ``recs_refresh_batch_size`` users (one call per source,
        one cache round trip each); a batch that fails is retried user by user."""
        refresher = components()["refresher"]
        users = list(dict.fromkeys(users))
        size = max(1, settings.recs_refresh_batch_size)
        for start in range(0, len(users), size):
            # profiles loaded per batch, so a long backlog refreshes from fresh profiles
            batch = users[start:start + size]
            profiles = await state["profiles"].load_many(batch)
            for user in batch:
                if user not in profiles:  # nothing to refresh: forget when it was marked
                    first_event_at.pop(user, None)
            chunk = list(profiles.values())
            if not chunk:
                continue
            try:
                await refresher.refresh_many(chunk)
            except Exception:
                log.exception("batched candidate refresh of %d users failed; "
                              "refreshing them one by one", len(chunk))
                await refresh_one_by_one(chunk, reason)
                continue
            now = time.monotonic()
            for profile in chunk:
                refreshed(profile.user_id, reason)
                if applied_count.get(profile.user_id, 0) > profile.event_count:
                    # events applied (and updated in place) while this refresh ran: its
                    # write, from the older profile, replaced those updates
                    debouncer.mark(profile.user_id, now, urgent=True)

    @ctx.app.agent(ctx.raw_topic(ctx.topics.user_events), name=f"{AGENT}-agent")
    async def user_events_agent(stream: Any) -> Any:
        await asyncio.to_thread(components)  # loads the index replica off the loop
        async for _ in run_validated_stream(
            stream, agent=AGENT, validator=validator, dlq=dlq, apply=apply,
            batch_size=settings.worker_batch_size, batch_wait_s=settings.worker_batch_wait_s,
        ):
            pass

    @ctx.app.timer(interval=0.02, name="candidate-refresh")
    async def refresh_due_users() -> None:
        if "recs" not in state:
            return
        now = time.monotonic()
        if full_rate > 0:  # a token bucket: full refreshes never starve the fast path
            budget["tokens"] = min(budget["tokens"] + (now - budget["at"]) * full_rate, burst)
            budget["at"] = now
            if budget["tokens"] < 1:
                return
            due = debouncer.due(now, int(budget["tokens"]))
            warmed = take_warming(int(budget["tokens"]) - len(due))
            budget["tokens"] -= len(due) + len(warmed)
        else:
            due = debouncer.due(now)
            warmed = take_warming(max(1, settings.recs_refresh_batch_size))
        with _survive("candidate refresh"):
            for users, reason in ((due, "event"), (warmed, "warmed")):
                if users:
                    await refresh(users, reason)

    def take_warming(limit: int) -> list[str]:
        """Up to ``limit`` of the warmer's users, oldest first (a user with a pending
        event refresh is left to that one)."""
        taken: list[str] = []
        while warming and len(taken) < limit:
            user = next(iter(warming))
            del warming[user]
            if user not in debouncer:
                taken.append(user)
        return taken

    @ctx.app.timer(interval=0.5, name="refresh-requests")
    async def serve_refresh_requests() -> None:
        """Users the API asked to refresh, from the request lists of our partitions."""
        if "recs" not in state:
            return
        owned = [tp.partition for tp in ctx.app.assignor.assigned_actives()
                 if tp.topic == ctx.topics.user_events]
        for partition in range(settings.topic_partitions):
            OWNED_PARTITIONS.labels(str(partition)).set(1 if partition in owned else 0)
        if not owned:
            return
        with _survive("refresh requests"):
            pipe = ctx.redis.pipeline(transaction=True)
            for partition in owned:
                key = ctx.keys.refresh_requests(partition)
                pipe.lrange(key, 0, 999)
                pipe.ltrim(key, 1000, -1)
            results = await pipe.execute()
            users = sorted({raw.decode() for batch in results[::2] for raw in batch})
            if users:
                await refresh(users, "requested")

    @ctx.app.timer(interval=settings.recs_warm_interval_s, name="cache-warmer")
    async def warm_stale_caches() -> None:
        """Queue a refresh of recently active users whose cached list expired or is missing."""
        if "recs" not in state:
            return
        horizon = time.monotonic() - settings.recs_warm_active_s
        for user in [u for u, t in last_active.items() if t < horizon]:
            del last_active[user]
            applied_count.pop(user, None)
            warming.pop(user, None)
        users = list(last_active)
        if not users:
            return
        cache = state["recs"].cache
        with _survive("cache warmer"):
            missing = await cache.missing(users)
            # queued, not refreshed here: ``refresh_due_users`` gives them what the token
            # bucket has left after the events' refreshes (a burst of thousands of full
            # refreshes, or thousands queued ahead of them, would delay every event)
            for user in missing:
                if user not in debouncer:
                    warming[user] = None
