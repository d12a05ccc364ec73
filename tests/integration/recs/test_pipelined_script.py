"""PipelinedScript against the suite's real Redis: results in order, in round trips."""

import pytest

from streamrec.recs.pipelined_script import PipelinedScript
from tests.integration.recs.redis_scenario import run

pytestmark = pytest.mark.integration

ECHO = "return {KEYS[1], ARGV[1]}"


@pytest.mark.parametrize("per_round_trip", [None, 1, 2, 5, 100])
def test_results_come_back_in_call_order_whatever_the_round_trips(redis_server,
                                                                  per_round_trip):
    async def scenario(redis):
        # a fresh script source each time: the first round trip meets NOSCRIPT and loads it
        script = PipelinedScript(f"{ECHO} -- {per_round_trip}")
        calls = [([f"k{n}"], [str(n)]) for n in range(5)]
        return await script.run(redis, calls, per_round_trip=per_round_trip)

    assert run(redis_server, scenario) == [[f"k{n}".encode(), str(n).encode()]
                                           for n in range(5)]


def test_round_trips_must_hold_a_call(redis_server):
    async def scenario(redis):
        await PipelinedScript(ECHO).run(redis, [(["a"], ["1"]), (["b"], ["2"])],
                                        per_round_trip=0)

    with pytest.raises(ValueError, match="per_round_trip"):
        run(redis_server, scenario)
