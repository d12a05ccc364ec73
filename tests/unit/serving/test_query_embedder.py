"""QueryEmbedder: cache, dynamic batching of concurrent queries, errors reach every waiter."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from streamrec.serving.search.query_embedder import QueryEmbedder


class RecordingEncoder:
    """Deterministic vectors (a hash of the text); records each call's batch, and can hold
    the first call until released so that others queue behind it."""

    dim = 4
    model_id = "recording"

    def __init__(self, hold_first: bool = False, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()
        self.started = threading.Event()
        self.hold_first = hold_first
        self.fail_on = fail_on

    @staticmethod
    def vector(text: str) -> np.ndarray:
        rng = np.random.default_rng(abs(hash(text)) % 2**32)
        v = rng.standard_normal(4).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.started.set()
        if self.hold_first and len(self.calls) == 1:
            assert self.release.wait(5)
        if self.fail_on in texts:
            raise RuntimeError("encoder failed")
        return np.stack([self.vector(t) for t in texts])


def test_queries_are_normalised_and_cached() -> None:
    encoder = RecordingEncoder()
    embedder = QueryEmbedder(encoder)
    first = embedder.embed("  Angle   BRACKET ")
    again = embedder.embed("angle bracket")
    assert np.array_equal(first, again)
    assert np.array_equal(first, encoder.vector("angle bracket"))
    assert encoder.calls == [["angle bracket"]]


def embed_behind_a_held_call(embedder: QueryEmbedder, encoder: RecordingEncoder,
                             lead: str, queries: list[str]) -> list[np.ndarray]:
    """Embed ``lead`` (its encoder call held), queue ``queries`` behind it, release; the
    queued queries' vectors."""
    with ThreadPoolExecutor(len(queries) + 2) as pool:
        first = pool.submit(embedder.embed, lead)
        assert encoder.started.wait(5)
        rest = [pool.submit(embedder.embed, q) for q in queries]
        deadline = time.monotonic() + 5
        while len(embedder._waiting) < len(queries) and time.monotonic() < deadline:
            time.sleep(0.01)
        encoder.release.set()
        results = [f.result(5) for f in rest]
        assert np.array_equal(first.result(5), encoder.vector(lead))
    for q, vector in zip(queries, results, strict=True):
        assert np.array_equal(vector, encoder.vector(q))
    return results


def test_queries_queued_behind_a_running_call_go_in_one_batch() -> None:
    encoder = RecordingEncoder(hold_first=True)
    queries = [f"query {i}" for i in range(6)]
    embed_behind_a_held_call(QueryEmbedder(encoder, batch_max=16), encoder, "lead query",
                             queries)
    assert encoder.calls[0] == ["lead query"]
    assert sorted(encoder.calls[1]) == sorted(queries)  # one call for all who waited
    assert len(encoder.calls) == 2


def test_batches_are_capped_and_every_query_answered() -> None:
    encoder = RecordingEncoder(hold_first=True)
    queries = [f"q{i}" for i in range(10)]
    embed_behind_a_held_call(QueryEmbedder(encoder, batch_max=3), encoder, "lead", queries)
    assert all(len(call) <= 3 for call in encoder.calls)
    assert sorted(t for call in encoder.calls[1:] for t in call) == sorted(queries)
    assert len(encoder.calls) == 1 + 4  # 10 queued queries in calls of at most 3


def test_an_encoder_error_reaches_every_query_of_the_batch_and_nothing_hangs() -> None:
    encoder = RecordingEncoder(hold_first=True, fail_on="bad")
    embedder = QueryEmbedder(encoder)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(embedder.embed, "fine")
        assert encoder.started.wait(5)
        bad = pool.submit(embedder.embed, "bad")
        other = pool.submit(embedder.embed, "other")
        time.sleep(0.2)
        encoder.release.set()
        first.result(5)
        with pytest.raises(RuntimeError, match="encoder failed"):
            bad.result(5)
        with pytest.raises(RuntimeError, match="encoder failed"):
            other.result(5)  # it shared the failing call
    # the failure is not cached: the next request tries again
    encoder.fail_on = None
    assert np.array_equal(embedder.embed("other"), encoder.vector("other"))


def test_batch_max_must_be_positive() -> None:
    with pytest.raises(ValueError):
        QueryEmbedder(RecordingEncoder(), batch_max=0)


class ThreadRecordingEncoder(RecordingEncoder):
    def __init__(self, hold_first: bool = False) -> None:
        super().__init__(hold_first=hold_first)
        self.threads: list[str] = []

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        return super().encode_texts(texts)


def test_prefetched_queries_are_encoded_on_the_embedders_thread_in_one_batch() -> None:
    """Requests hand their queries over as they arrive: while one call runs, the others'
    queries wait for it and then go together, and embed() finds them done."""
    encoder = ThreadRecordingEncoder(hold_first=True)
    embedder = QueryEmbedder(encoder, prefetch=True)
    try:
        embedder.prefetch("lead query")
        assert encoder.started.wait(5)
        for query in ("second", "Third  one", "fourth"):
            embedder.prefetch(query)
        embedder.prefetch("second")  # already waiting: not queued twice
        encoder.release.set()
        for query in ("lead query", "second", "third one", "fourth"):
            assert np.array_equal(embedder.embed(query), encoder.vector(query))
        assert encoder.calls == [["lead query"], ["second", "third one", "fourth"]]
        assert all(name.startswith("query-embed") for name in encoder.threads)
        embedder.prefetch("fourth")  # cached: nothing to do
        assert len(encoder.calls) == 2
    finally:
        embedder.close()


def test_prefetch_is_a_no_op_unless_enabled() -> None:
    encoder = RecordingEncoder()
    embedder = QueryEmbedder(encoder)
    embedder.prefetch("angle bracket")
    assert encoder.calls == [] and not embedder._waiting
    embedder.embed("angle bracket")
    assert encoder.calls == [["angle bracket"]]


def test_a_prefetch_after_close_leaves_the_query_to_embed() -> None:
    encoder = RecordingEncoder()
    embedder = QueryEmbedder(encoder, prefetch=True)
    embedder.close()
    embedder.prefetch("late query")  # the API is stopping: no error for the request
    assert np.array_equal(embedder.embed("late query"), encoder.vector("late query"))
    assert encoder.calls == [["late query"]]
