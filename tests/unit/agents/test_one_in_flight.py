import asyncio
import logging

import pytest

from streamrec.agents.one_in_flight import OneInFlight


def test_steps_run_in_background_one_at_a_time_in_order() -> None:
    async def scenario() -> tuple[list[str], bool, bool]:
        events: list[str] = []
        release = {n: asyncio.Event() for n in range(3)}
        running = 0
        overlapped = False

        def step(n: int):
            async def run() -> None:
                nonlocal running, overlapped
                running += 1
                overlapped = overlapped or running > 1
                events.append(f"start {n}")
                await release[n].wait()
                events.append(f"end {n}")
                running -= 1
            return run

        runner = OneInFlight("test step")
        await runner.submit(step(0))
        await asyncio.sleep(0)
        busy_after_submit = runner.busy  # submit returned while step 0 still runs
        events.append("caller free")
        # the next submit waits for step 0 to end before starting step 1
        second = asyncio.create_task(runner.submit(step(1)))
        await asyncio.sleep(0.01)
        assert not second.done()
        release[0].set()
        await second
        release[1].set()
        release[2].set()
        await runner.submit(step(2))
        await runner.finish()
        return events, busy_after_submit, overlapped or runner.busy

    events, busy_after_submit, overlapped = asyncio.run(scenario())
    assert busy_after_submit
    assert not overlapped
    assert events == ["start 0", "caller free", "end 0", "start 1", "end 1",
                      "start 2", "end 2"]


def test_a_failed_step_is_logged_and_never_fails_the_next(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[str]:
        done: list[str] = []

        async def fails() -> None:
            raise RuntimeError("redis went away")

        async def works() -> None:
            done.append("second")

        runner = OneInFlight("test step")
        await runner.submit(fails)
        await runner.submit(works)  # finishes the failed one without raising
        await runner.finish()
        await runner.finish()  # nothing in flight: returns at once
        return done

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(scenario()) == ["second"]
    assert "test step failed" in caplog.text
    assert "redis went away" in caplog.text
