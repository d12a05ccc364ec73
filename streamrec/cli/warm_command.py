"""``streamrec warm``: ask the users workers to refresh candidate caches now."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from streamrec.settings import load_settings

console = Console()


async def _active_users(redis, keys, since_ms: int) -> list[str]:
    from streamrec.recs.user_profile import UserProfile

    users: list[str] = []
    pattern = keys.user_profile("*").replace("{*}", "*")
    async for key in redis.scan_iter(match=pattern, count=1000):
        raw = await redis.get(key)
        if raw and UserProfile.from_bytes(raw).last_event_ts >= since_ms:
            users.append(key.decode().split("{", 1)[1].split("}", 1)[0])
    return users


async def _warm(user_ids: list[str], since: str | None) -> int:
    import redis.asyncio as aioredis

    from streamrec.redis_keys import RedisKeys
    from streamrec.schemas.records import to_epoch_millis
    from streamrec.serving.refresh_requests import RefreshRequester

    settings = load_settings()
    redis = aioredis.from_url(settings.redis_url)
    keys = RedisKeys(settings.redis_key_prefix)
    try:
        users = list(user_ids)
        if since is not None:
            users += await _active_users(redis, keys, to_epoch_millis(since))
        requester = RefreshRequester(redis, keys, settings.topic_partitions)
        with Progress(console=console) as progress:
            task = progress.add_task("requesting refreshes", total=len(users))
            for user in dict.fromkeys(users):
                await requester.request(user)
                progress.advance(task)
        return len(set(users))
    finally:
        await redis.aclose()


def warm(
    users: Annotated[list[str] | None, typer.Argument(help="user ids to refresh")] = None,
    since: Annotated[str | None, typer.Option(
        help="also every user with an event since this time (ISO-8601 or epoch)")] = None,
) -> None:
    """Refresh the candidate caches of some users, or of everyone active since a time.

    The request goes to the users worker that owns each user (it serves requests every
    half second); users without a profile are skipped there."""
    if not users and since is None:
        raise typer.BadParameter("name users or give --since")
    count = asyncio.run(_warm(users or [], since))
    console.print(f"refresh requested for {count} users")
