"""Fold the live search clicks into a model file's search log.

Every API process follows the Redis stream of search clicks (``SearchLogFollower``), but
that stream is trimmed to ``search_log_max_entries`` and a restarted API starts from the
model file's log plus whatever the stream still holds: a click trimmed away is gone from
the ranking. ``streamrec train search-log`` reads the whole stream and writes its pairs
into the model file, so clicks outlive the trim and the next start-up serves them from
the file. A pair counts once, so running it again (a cron job, say) adds only new pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamrec.rerank.reranker_model_file import RerankModelError, load_model_file
from streamrec.rerank.search_log import SearchLog, search_click

READ_BATCH = 10_000


@dataclass(frozen=True)
class AbsorbReport:
    model: Path
    clicks_read: int
    pairs_added: int
    """Pairs the file's log did not hold yet."""
    pairs_total: int
    last_entry_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"model": str(self.model), "clicks_read": self.clicks_read,
                "pairs_added": self.pairs_added, "pairs_total": self.pairs_total,
                "last_entry_id": self.last_entry_id}


def read_search_clicks(redis: Any, stream: str, batch: int = READ_BATCH
                       ) -> Iterator[tuple[str, str, str]]:
    """(entry id, query, sku) of every entry in the stream, oldest first, read in pages
    (a synchronous redis-py client)."""
    start = "-"
    while True:
        entries = redis.xrange(stream, min=start, count=batch)
        clicks = [search_click(entry_id, fields) for entry_id, fields in entries]
        yield from clicks
        if len(entries) < batch:
            return
        start = f"({clicks[-1][0]}"  # exclusive: the page after the last entry


def absorb_search_clicks(model_path: Path, redis: Any, stream: str,
                         output: Path | None = None,
                         on_click: Callable[[int], None] | None = None) -> AbsorbReport:
    """Add the stream's (query, sku) pairs to the search log of the model file at
    ``model_path``; written to ``output`` (default: the same file, replaced atomically)."""
    model = load_model_file(model_path)
    if model.kind == "cascade":
        raise RerankModelError(
            f"{model_path} is a cascade: fold the clicks into its part that carries the log "
            f"({model.params.get('first')}, next to it) with --model <that file>")
    if not model.search_log:
        raise RerankModelError(
            f"{model_path} was trained without a search log, so it cannot read one; retrain "
            "it with `streamrec train reranker` (the search log is on by default)")
    log = SearchLog(model.search_log)
    read = added = 0
    last = None
    for entry_id, query, sku in read_search_clicks(redis, stream):
        read += 1
        last = entry_id
        added += log.add(query, sku)
        if on_click is not None:
            on_click(1)
    model.search_log = log.to_json()
    model.params["search_log_absorbed"] = {
        "stream": stream, "last_entry_id": last, "clicks_read": read, "pairs_added": added,
        "at": datetime.now(UTC).isoformat(timespec="seconds")}
    target = model.save(output or model_path)
    return AbsorbReport(target, read, added, log.pairs, last)

