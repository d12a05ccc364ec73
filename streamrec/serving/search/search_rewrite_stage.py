"""The query-rewrite stage of ``/v1/search``: runs the cascade (``streamrec.rewrite``) on
the first pass of the ladder and, when a rewrite validates, serves the rewrite's ladder
result instead (the validation search already ran it: nothing is searched twice).

Only queries the router selects pay for it; the others cost one strict lexical count
(to read the signals). A bug or an outage in the cascade never fails a search: the first
pass is served and the error logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from streamrec.indexer.lexical_index import LexicalIndex
from streamrec.rewrite.query_rewrite_cascade import QueryRewriteCascade
from streamrec.rewrite.search_probe import SearchProbe
from streamrec.serving.fallback_ladder import LadderResult

log = logging.getLogger(__name__)

LadderFn = Callable[[str, int, str | None, dict[str, float]], LadderResult]
"""(query, k, category, timings) -> the ladder's result (``CatalogSearch._run_ladder``)."""


class SearchRewriteStage:
    def __init__(self, cascade: QueryRewriteCascade, lexical: Callable[[], LexicalIndex],
                 slack_s: float = 0.25) -> None:
        self.cascade = cascade
        self._lexical = lexical  # the replica's current lexical index (it can be swapped)
        # the cascade keeps its own deadline for the LLM calls; this only bounds the rest
        self.timeout_s = cascade.stage_timeout_s + slack_s

    def _probe(self, result: LadderResult, k: int, category: str | None) -> SearchProbe:
        strict = len(self._lexical().search(result.query, k, category, "strict"))
        top = result.items[0][1] if result.items else 0.0
        return SearchProbe(result.rung, len(result.items), strict, top, payload=result)

    async def run(self, query: str, k: int, category: str | None, first: LadderResult,
                  ladder: LadderFn) -> tuple[LadderResult, dict[str, Any] | None]:
        """The result to serve and the response's ``rewrite`` object (``route`` is
        ``not_needed`` when the router left the query alone; None after an error)."""

        def probe_rewrite(text: str) -> SearchProbe:
            return self._probe(ladder(text, k, category, {}), k, category)

        async def search(text: str) -> SearchProbe:
            return await asyncio.to_thread(probe_rewrite, text)

        try:
            original = await asyncio.to_thread(self._probe, first, k, category)
            outcome = await asyncio.wait_for(
                self.cascade.rewrite(query, category, original, search), self.timeout_s)
        except TimeoutError:
            return first, {"route": "timeout", "rewritten": False, "query": None,
                           "tier": None, "cached": False, "tried": []}
        except Exception as exc:
            log.warning("query rewrite failed, serving the query as typed: %r", exc)
            return first, None
        served = outcome.probe.payload if outcome.probe is not None else first
        return served, outcome.as_dict()
