"""Next-item recommendation quality through the live system, next to offline baselines.

Starts (or is given) Kafka and Redis, a catalog worker (``--role catalog``), ONE users
worker (``--role users``) and the API, each with the run's ``STREAMREC_*`` overrides, then:

1. Catalog: publishes every item (CatalogChange, validated with CatalogChangeIn) and
   waits until the API's ``/readyz`` ``index.products`` holds them all (embedding).
2. Background: a seeded sample of ``eval_users`` users (sessions) is held out for
   evaluation; every other user's events go straight to ``user.events`` (RecordProducer,
   keyed by user), paced so that the users worker keeps up: at most ``max_lag`` records
   produced and not yet consumed (``streamrec_agent_records_total`` of the worker), and
   production holds while candidate refreshes lag more than ``max_refresh_lag_s``. Then
   it waits for the topic to drain and refreshes to settle.
3. Evaluation: the held-out users' histories (without their target) are streamed the
   same way; once a user's cached candidate list has seen all their events (candidate
   meta ``event_count``), ``GET /v1/recommendations/{user}?k=K`` is scored against the
   target: HR@K, NDCG@K, MRR@K, coverage (distinct recommended items / catalog size),
   the share of fallback answers, and whether the target was among the user's cached
   candidates at all (candidate recall, to tell generation from ranking losses).
   With ``loop_users`` (Amazon Games only), a disjoint set of logging users closes the
   feedback loop first (``streamrec.evaluation.feedback_loop``): served at ``loop_k``,
   they click their target when shown, a model is trained from those impressions and
   clicks through Kafka, and after the default pass the API restarts with it and the
   same evaluation users are asked again (``live_learned``).
4. Baselines, offline on exactly the data the live system saw (background sequences
   plus the evaluation histories): popularity and item-to-item transitions
   (``streamrec.evaluation.next_item_baselines``), scored on the same users.

Data sets:

* ``amazon-games`` (K=10): background users stream their whole sequence (history, then
  target) as VIEW events; evaluation users stream their history and are scored on the
  target (never a history item, so baselines leave history items out).
* ``yoochoose`` (K=20): background = the training sessions' clicks in time order;
  evaluation = test sessions with at least 2 clicks, all but the last click streamed,
  scored on the last click. A next click often repeats one of the session (about a
  third of the time), so baselines are reported both keeping and excluding history.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from streamrec.datasets.amazon_games import (
    ITEMS_FILE,
    SEQUENCES_FILE,
    amazon_games_cases,
    amazon_games_catalog_changes,
    amazon_games_dir,
    amazon_games_user_events,
)
from streamrec.datasets.yoochoose_clicks import (
    SPLIT_FILES,
    yoochoose_catalog_changes,
    yoochoose_click_events,
    yoochoose_dir,
    yoochoose_sessions,
)
from streamrec.evaluation.deployment_services import deployment_settings
from streamrec.evaluation.feedback_loop import (
    LoggingCase,
    learned_env,
    logging_pass,
    train_model,
    wait_for_impressions,
)
from streamrec.evaluation.live_deployment import LiveDeployment, metric_sum
from streamrec.evaluation.next_item_baselines import (
    NextItemScores,
    popularity_baseline,
    target_rank,
    transition_baseline,
)
from streamrec.evaluation.phase_progress import Advance, LogPhaseProgress, PhaseProgress
from streamrec.platform.processes import free_port
from streamrec.platform.redis_server import RedisServer
from streamrec.redis_keys import RedisKeys
from streamrec.schemas.records import CatalogChangeIn, UserEventIn
from streamrec.settings import Settings
from streamrec.streams.admin import ensure_topics
from streamrec.streams.record_producer import RecordProducer
from streamrec.streams.topics import Topics

DATASETS = ("amazon-games", "yoochoose")


def dataset_name(raw: str) -> str:
    """``amazon_games`` / ``amazon-games`` -> ``amazon-games``."""
    name = raw.strip().lower().replace("_", "-")
    if name not in DATASETS:
        raise ValueError(f"unknown data set {raw!r}: one of amazon_games, yoochoose")
    return name


def dataset_files(data_dir: Path, dataset: str) -> list[Path]:
    if dataset_name(dataset) == "amazon-games":
        folder = amazon_games_dir(data_dir)
        return [folder / ITEMS_FILE, folder / SEQUENCES_FILE]
    return [yoochoose_dir(data_dir) / name for name in SPLIT_FILES.values()]


@dataclass
class RecsEvaluationConfig:
    data_dir: Path
    dataset: str = "amazon-games"
    eval_users: int = 2000
    """Held-out users (amazon-games) or test sessions (yoochoose)."""
    limit_background: int | None = None
    limit_items: int | None = None
    seed: int = 7
    max_lag: int = 2000
    max_refresh_lag_s: float = 2.0
    catalog_timeout: float = 3600.0
    settle_timeout: float = 900.0
    redis_maxmemory: str = "6gb"
    env: dict[str, str] = field(default_factory=dict)
    """``STREAMREC_*`` overrides for the workers and the API."""
    bootstrap: str | None = None
    redis_url: str | None = None
    details: Path | None = None
    """Write one JSON line per evaluation user here."""
    keep_logs: Path | None = None
    loop_users: int = 0
    """Logging users of the feedback loop (0: no loop)."""
    loop_k: int = 50
    """How many items each logging user is shown."""
    loop_model_path: Path | None = None
    """Where the loop writes its model (default: inside the run's temporary state)."""

    def data_files(self) -> list[Path]:
        return dataset_files(self.data_dir, self.dataset)


USER_AGENT = "user-events"


# --- workloads -----------------------------------------------------------------------------
@dataclass
class EvalCase:
    user_id: str
    history: list[str]
    target: str
    events: list[dict[str, Any]]


@dataclass
class Workload:
    dataset: str
    k: int
    catalog: list[dict[str, Any]]
    background: list[dict[str, Any]]
    """UserEvent records, in the order they are produced."""
    background_users: int
    background_sequences: list[list[str]]
    cases: list[EvalCase]
    baseline_variants: dict[str, bool] = field(default_factory=dict)
    """Baseline name suffix -> exclude history items."""
    loop_cases: list[EvalCase] = field(default_factory=list)
    """The feedback loop's logging users (history streamed, target held out)."""

    def training_sequences(self) -> list[list[str]]:
        """What the live system saw: background sequences plus the evaluation histories."""
        return [*self.background_sequences,
                *(case.history for case in [*self.cases, *self.loop_cases])]


def _event_record(event: dict[str, Any]) -> dict[str, Any]:
    return UserEventIn(**event).to_record()


def amazon_games_workload(data_dir: Path, eval_users: int, limit_background: int | None,
                          limit_items: int | None, seed: int, loop_users: int = 0
                          ) -> Workload:
    catalog = [CatalogChangeIn(**c).to_record()
               for c in amazon_games_catalog_changes(data_dir, limit=limit_items)]
    cases = list(amazon_games_cases(data_dir))
    rng = random.Random(seed)
    held_out = rng.sample(range(len(cases)), min(eval_users, len(cases)))
    # drawn after the evaluation users, from the rest: the evaluation sample is the same
    # with or without a loop
    rest = sorted(set(range(len(cases))) - set(held_out))
    logging = rng.sample(rest, min(loop_users, len(rest)))
    eval_ids = {cases[i].user_id for i in [*held_out, *logging]}
    background_ids = [c.user_id for c in cases if c.user_id not in eval_ids]
    if limit_background is not None:
        background_ids = background_ids[:limit_background]
    keep = set(background_ids)
    background: list[dict[str, Any]] = []
    sequences: dict[str, list[str]] = {}
    for event in amazon_games_user_events(data_dir, include_target=True):
        if event["user_id"] in keep:
            background.append(_event_record(event))
            sequences.setdefault(event["user_id"], []).append(event["sku"])
    eval_events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in amazon_games_user_events(data_dir, include_target=False):
        if event["user_id"] in eval_ids:
            eval_events[event["user_id"]].append(_event_record(event))
    eval_cases, loop_cases = ([EvalCase(cases[i].user_id, cases[i].history, cases[i].target,
                                        eval_events[cases[i].user_id]) for i in chosen]
                              for chosen in (held_out, logging))
    return Workload("amazon-games", 10, catalog, background, len(sequences),
                    list(sequences.values()), eval_cases, {"": True}, loop_cases)


def yoochoose_workload(data_dir: Path, eval_users: int, limit_background: int | None,
                       limit_items: int | None, seed: int, loop_users: int = 0) -> Workload:
    if loop_users:
        raise ValueError("the feedback loop (--loop-users) runs on amazon_games only")
    catalog = [CatalogChangeIn(**c).to_record()
               for c in yoochoose_catalog_changes(data_dir, limit=limit_items)]
    background = [_event_record(e) for e in yoochoose_click_events(
        data_dir, split="train", order="time", limit_sessions=limit_background)]
    sequences: dict[str, list[str]] = {}
    for session in yoochoose_sessions(data_dir, split="train", limit_sessions=limit_background):
        sequences[session.user_id] = session.skus
    tests = [s for s in yoochoose_sessions(data_dir, split="test") if len(s.skus) >= 2]
    rng = random.Random(seed)
    chosen = rng.sample(tests, min(eval_users, len(tests)))
    wanted = {s.user_id: s for s in chosen}
    eval_events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in yoochoose_click_events(data_dir, split="test", order="file"):
        session = wanted.get(event["user_id"])
        if session is not None and len(eval_events[session.user_id]) < len(session.skus) - 1:
            eval_events[session.user_id].append(_event_record(event))
    cases = [EvalCase(s.user_id, s.skus[:-1], s.skus[-1], eval_events[s.user_id])
             for s in chosen]
    return Workload("yoochoose", 20, catalog, background, len(sequences),
                    list(sequences.values()), cases, {"": False, "_excl_history": True})


WORKLOADS: dict[str, Callable[..., Workload]] = {
    "amazon-games": amazon_games_workload,
    "yoochoose": yoochoose_workload,
}


# --- the live deployment ---------------------------------------------------------------------
class Deployment:
    """Kafka + Redis (given), a catalog worker, one users worker and the API."""

    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings = settings
        self.live = LiveDeployment(settings, env=env, worker_roles=("catalog", "users"))
        self.log_dir = self.live.log_dir
        self.keys = RedisKeys(settings.redis_key_prefix)
        self.redis = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.http = httpx.Client(base_url=self.live.url, timeout=30)

    def start(self) -> None:
        self.live.start()

    def check_alive(self) -> None:
        self.live.check_alive()

    def stop(self) -> None:
        self.http.close()
        self.live.stop()

    def users_metrics(self) -> str:
        return self.live.worker_metrics("users")

    def consumed(self, text: str | None = None) -> float:
        text = self.users_metrics() if text is None else text
        return metric_sum(text, "streamrec_agent_records_total", agent=USER_AGENT)

    def candidate_events(self, users: list[str]) -> list[int]:
        pipe = self.redis.pipeline(transaction=False)
        for user in users:
            pipe.hget(self.keys.user_candidate_meta(user), "event_count")
        return [int(v or 0) for v in pipe.execute()]

    def cached_target_ranks(self, cases: list[EvalCase]) -> list[tuple[int | None, list[str]]]:
        """Each target's rank in the user's cached candidate list, and its sources there."""
        pipe = self.redis.pipeline(transaction=False)
        for case in cases:
            pipe.zrevrank(self.keys.user_candidates(case.user_id), case.target)
            pipe.hget(self.keys.user_candidate_sources(case.user_id), case.target)
        raw = pipe.execute()
        out = []
        for i in range(len(cases)):
            rank, sources = raw[2 * i: 2 * i + 2]
            out.append((rank, list(json.loads(sources).get("s") or []) if sources else []))
        return out

    def cached_lists(self, cases: list[EvalCase]) -> list[list[str]]:
        """Each user's cached candidate list, best first (before the serving stages)."""
        pipe = self.redis.pipeline(transaction=False)
        for case in cases:
            pipe.zrevrange(self.keys.user_candidates(case.user_id), 0, -1)
        return pipe.execute()

    def recommend(self, user: str, k: int) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        response = self.http.get(f"/v1/recommendations/{user}", params={"k": k})
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return response.json(), elapsed


class PacedStreamer:
    """Produces UserEvents to ``user.events`` no faster than the users worker consumes them."""

    def __init__(self, deployment: Deployment, producer: RecordProducer, topic: str,
                 max_lag: int, max_refresh_lag_s: float) -> None:
        self.deployment = deployment
        self.producer = producer
        self.topic = topic
        self.max_lag = max_lag
        self.max_refresh_lag_s = max_refresh_lag_s
        self.sent = 0
        self.consumed = 0.0
        self.holds = 0
        self._lag_sum = 0.0
        self._lag_count = 0.0
        self._last_report = time.monotonic()
        self._phase_start = 0

    def _observe(self) -> float:
        """Refresh the consumed count; the mean refresh lag since the last look (s)."""
        text = self.deployment.users_metrics()
        self.consumed = self.deployment.consumed(text)
        lag_sum = metric_sum(text, "streamrec_candidate_refresh_lag_seconds_sum")
        lag_count = metric_sum(text, "streamrec_candidate_refresh_lag_seconds_count")
        d_sum, d_count = lag_sum - self._lag_sum, lag_count - self._lag_count
        self._lag_sum, self._lag_count = lag_sum, lag_count
        return d_sum / d_count if d_count > 0 else 0.0

    def _report(self, label: str, total: int) -> None:
        if time.monotonic() - self._last_report > 30:
            self._last_report = time.monotonic()
            done = self.sent - self._phase_start
            print(f"  {label}: {done}/{total} sent, {self.sent - self.consumed:.0f} not yet "
                  f"consumed (load {os.getloadavg()[0]:.1f})", flush=True)

    def stream(self, records: Iterable[dict[str, Any]], total: int, label: str,
               advance: Advance | None = None) -> None:
        self._phase_start = self.sent
        for record in records:
            self.producer.send_record(self.topic, "UserEvent", record["user_id"], record)
            self.sent += 1
            if advance is not None and self.sent % 200 == 0:
                advance(200)
            if self.sent - self.consumed >= self.max_lag:
                self.producer.poll(0)
                self._wait_for_room(label, total)
        self.producer.flush()
        if advance is not None:
            advance((self.sent - self._phase_start) % 200)

    def _wait_for_room(self, label: str, total: int) -> None:
        refresh_lag = self._observe()
        while self.sent - self.consumed >= self.max_lag or refresh_lag > self.max_refresh_lag_s:
            self.holds += 1
            self.deployment.check_alive()
            self._report(label, total)
            time.sleep(0.2)
            self.producer.poll(0)
            refresh_lag = self._observe()
        self._report(label, total)

    def drain(self, timeout_s: float, settle_s: float = 3.0) -> float:
        """Wait until everything sent was consumed and refreshes stopped; the seconds waited."""
        started = time.monotonic()
        deadline = started + timeout_s
        while True:
            self._observe()
            if self.consumed >= self.sent:
                break
            self.deployment.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"users worker consumed {self.consumed:.0f} of {self.sent}")
            time.sleep(0.3)
        last = -1.0
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            text = self.deployment.users_metrics()
            refreshes = metric_sum(text, "streamrec_candidate_refreshes_total")
            if refreshes != last:
                last, stable_since = refreshes, time.monotonic()
            elif time.monotonic() - stable_since >= settle_s:
                break
            time.sleep(0.3)
        return time.monotonic() - started


# --- helpers -------------------------------------------------------------------------------
@contextlib.contextmanager
def own_redis(maxmemory: str) -> Iterator[str]:
    """A Redis with room for every user's cached list (bench_settings' default is 2 GB)."""
    with tempfile.TemporaryDirectory(prefix="streamrec-recsq-redis-") as work:
        server = RedisServer(Path(work), free_port(), maxmemory=maxmemory)
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


class Phases:
    """Seconds and load average at the end of each phase; progress shown by ``progress``."""

    def __init__(self, progress: PhaseProgress | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.load: dict[str, float] = {}
        self.progress = progress or LogPhaseProgress()
        self._started = time.perf_counter()

    @contextlib.contextmanager
    def phase(self, name: str, total: int | None = None) -> Iterator[Advance]:
        started = time.perf_counter()
        with self.progress.phase(name, total) as advance:
            yield advance
        self.seconds[name] = round(time.perf_counter() - started, 1)
        self.load[name] = round(os.getloadavg()[0], 2)

    def total(self) -> float:
        return round(time.perf_counter() - self._started, 1)


def history_bucket(n: int) -> str:
    return "1" if n <= 1 else "2-3" if n <= 3 else "4-7" if n <= 7 else "8+"


def publish_catalog(deployment: Deployment, producer: RecordProducer, topic: str,
                    records: list[dict[str, Any]], timeout_s: float) -> dict[str, float]:
    started = time.perf_counter()
    for record in records:
        producer.send_record(topic, "CatalogChange", record["sku"], record)
    producer.flush()
    published = time.perf_counter() - started
    skus = {r["sku"] for r in records}
    deadline = started + timeout_s
    last_report = time.monotonic()
    while (products := deployment.live.index_stats()["searchable"]) < len(skus):
        deployment.check_alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {products} of {len(skus)} products indexed")
        if time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            print(f"  catalog: {products}/{len(skus)} indexed "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
        time.sleep(1.0)
    elapsed = time.perf_counter() - started
    return {"products": len(skus), "publish_s": round(published, 1),
            "indexed_s": round(elapsed, 1), "products_per_s": round(len(skus) / elapsed, 1)}


# --- the run -------------------------------------------------------------------------------
def run_live(args: RecsEvaluationConfig, work: Workload, phases: Phases) -> dict[str, Any]:
    env = {"STREAMREC_INDEX_SNAPSHOT_INTERVAL_S": "0", **args.env}
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        redis_url = args.redis_url or stack.enter_context(own_redis(args.redis_maxmemory))
        settings = stack.enter_context(deployment_settings(args.bootstrap, redis_url))
        ensure_topics(settings)
        topics = Topics(settings)
        deployment = Deployment(settings, env)
        try:
            with phases.phase("start"):
                deployment.start()
            with RecordProducer(settings, client_id="streamrec-eval-recs") as producer:
                with phases.phase(f"catalog: {len(work.catalog):,} items"):
                    out["catalog"] = publish_catalog(deployment, producer,
                                                     topics.catalog_changes, work.catalog,
                                                     args.catalog_timeout)
                    time.sleep(5.0)  # the users worker's replica follows the same vectors
                streamer = PacedStreamer(deployment, producer, topics.user_events,
                                         args.max_lag, args.max_refresh_lag_s)
                with phases.phase("background events", len(work.background)) as advance:
                    bg_started = time.perf_counter()
                    streamer.stream(work.background, len(work.background), "background",
                                    advance)
                    produced_s = time.perf_counter() - bg_started
                    drain_s = streamer.drain(args.settle_timeout)
                    out["background"] = {
                        "events": len(work.background), "users": work.background_users,
                        "produce_s": round(produced_s, 1), "drain_s": round(drain_s, 1),
                        "events_per_s": round(len(work.background)
                                              / (time.perf_counter() - bg_started), 1),
                        "holds": streamer.holds}
                records = [r for case in [*work.cases, *work.loop_cases] for r in case.events]
                with phases.phase("evaluation histories", len(records)) as advance:
                    ev_started = time.perf_counter()
                    streamer.stream(records, len(records), "evaluation", advance)
                    ready = wait_for_caches(deployment, work.cases, args.settle_timeout)
                    wait_for_caches(deployment, work.loop_cases, args.settle_timeout)
                    out["eval_stream"] = {
                        "events": len(records), "users": len(work.cases),
                        "caches_ready": ready,
                        "events_per_s": round(len(records)
                                              / (time.perf_counter() - ev_started), 1)}
                if work.loop_cases:
                    out["loop"] = run_logging_and_training(
                        args, work, deployment, producer, settings, phases)
            with phases.phase("requests", len(work.cases)) as advance:
                out["responses"], latencies = ask_all(deployment, work, advance)
                out["request_ms"] = latency_summary(latencies)
                out["cached"] = deployment.cached_target_ranks(work.cases)
                out["cached_lists"] = deployment.cached_lists(work.cases)
                info = deployment.redis.info("memory")
                out["redis_used_mb"] = round(info["used_memory"] / 2**20, 1)
                text = deployment.users_metrics()
                out["refreshes"] = {
                    reason: int(metric_sum(text, "streamrec_candidate_refreshes_total",
                                           reason=reason))
                    for reason in ("event", "requested", "warmed", "failed")}
                out["dead_lettered"] = int(metric_sum(
                    text, "streamrec_agent_records_total", agent=USER_AGENT,
                    outcome="dead_lettered"))
            if work.loop_cases:
                with phases.phase("API restart with the learned model"):
                    restart_started = time.perf_counter()
                    deployment.live.restart_api(learned_env(Path(out["loop"]["training"]
                                                                 ["model_path"])))
                    out["loop"]["restart_s"] = round(time.perf_counter() - restart_started, 1)
                with phases.phase("requests, learned scorer", len(work.cases)) as advance:
                    out["responses_learned"], latencies = ask_all(deployment, work, advance)
                    out["request_ms_learned"] = latency_summary(latencies)
        finally:
            deployment.stop()
            out["refresh_failures"] = failure_lines(deployment.log_dir / "worker-users.log")
            if args.keep_logs is not None:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in deployment.log_dir.glob("*.log"):
                    shutil.copy(log, args.keep_logs / log.name)
    return out


def latency_summary(latencies: list[float]) -> dict[str, float]:
    return {"p50": round(1000 * statistics.median(latencies), 1),
            "p99": round(1000 * sorted(latencies)[int(0.99 * (len(latencies) - 1))], 1)}


def run_logging_and_training(args: RecsEvaluationConfig, work: Workload,
                             deployment: Deployment, producer: RecordProducer,
                             settings: Settings, phases: Phases) -> dict[str, Any]:
    """The feedback loop's first half: logging pass with clicks, then training."""
    topics = Topics(settings)
    cases = [LoggingCase(c.user_id, c.target, max((int(e["ts"]) for e in c.events), default=0))
             for c in work.loop_cases]
    with phases.phase(f"feedback loop: serve {len(cases)} logging users at "
                      f"k={args.loop_k}, click targets", len(cases)) as advance:
        logged = logging_pass(deployment, producer, topics.user_events, cases, args.loop_k,
                              advance)
        wait_for_impressions(settings, len(cases))
    with phases.phase("feedback loop: train from recs.impressions + user.events"):
        training = train_model(settings, args.loop_model_path
                               or Path(settings.state_dir) / "recs-reranker.json")
    phases.progress.log(
        f"loop: {logged['clicks']} clicks of {logged['users']} logging users; model "
        f"validation NDCG@10 {training['validation_ndcg_at_10_model']} vs linear "
        f"{training['validation_ndcg_at_10_linear']} vs logged order "
        f"{training['validation_ndcg_at_10_logged']}")
    return {"logging": logged, "training": training}


def failure_lines(log: Path, limit: int = 3) -> list[str]:
    """The first lines of the users worker's log that report a failed refresh."""
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    return [line[:300] for line in lines if "failed" in line][:limit]


def wait_for_caches(deployment: Deployment, cases: list[EvalCase], timeout_s: float) -> int:
    """Wait until every evaluation user's cached list has seen all their events."""
    deadline = time.monotonic() + timeout_s
    pending = list(cases)
    last_report = time.monotonic()
    while pending and time.monotonic() < deadline:
        counts = deployment.candidate_events([c.user_id for c in pending])
        pending = [c for c, n in zip(pending, counts, strict=True) if n < len(c.events)]
        if not pending:
            break
        deployment.check_alive()
        if time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            print(f"  caches: {len(cases) - len(pending)}/{len(cases)} ready", flush=True)
        time.sleep(0.5)
    return len(cases) - len(pending)


def ask_all(deployment: Deployment, work: Workload, advance: Advance | None = None
            ) -> tuple[list[dict[str, Any]], list[float]]:
    responses, latencies = [], []
    for case in work.cases:
        body, elapsed = deployment.recommend(case.user_id, work.k)
        responses.append(body)
        latencies.append(elapsed)
        if advance is not None:
            advance(1)
    return responses, latencies


def score(args: RecsEvaluationConfig, work: Workload, live: dict[str, Any],
          phases: Phases) -> dict[str, Any]:
    k = work.k
    catalog_size = len({r["sku"] for r in work.catalog})
    live_scores = NextItemScores(k)
    served = Counter()
    source_items: Counter[str] = Counter()
    source_hits: Counter[str] = Counter()
    in_history = 0
    item_count = 0
    by_length: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    live_hits = []
    for case, body in zip(work.cases, live["responses"], strict=True):
        skus = [item["sku"] for item in body["items"]]
        served[body["served_from"]] += 1
        history = set(case.history)
        for item in body["items"][:k]:
            source_items[item["source"]] += 1
            in_history += item["sku"] in history
            item_count += 1
        hit = live_scores.add(skus, case.target)
        live_hits.append(hit)
        if hit:
            hit_item = next(i for i in body["items"] if i["sku"] == case.target)
            source_hits[hit_item["source"]] += 1
        by_length[history_bucket(len(case.history))]["live"].append(float(hit))

    with phases.phase("baselines"):
        training = work.training_sequences()
        popularity = popularity_baseline(training)
        transitions = transition_baseline(training)
        baselines: dict[str, NextItemScores] = {}
        answers: dict[str, list[list[str]]] = {}
        for suffix, exclude in work.baseline_variants.items():
            for name, model in (("popularity", popularity), ("transitions", transitions)):
                key = f"{name}{suffix}"
                scores = NextItemScores(k)
                answers[key] = []
                for case in work.cases:
                    ranked = model.recommend(case.history, k, exclude_history=exclude)
                    answers[key].append(ranked)
                    hit = scores.add(ranked, case.target)
                    if name == "transitions" and suffix == "":
                        by_length[history_bucket(len(case.history))]["transitions"].append(
                            float(hit))
                baselines[key] = scores

    main_tr = answers["transitions"]
    overlap = Counter()
    for case, live_hit, ranked in zip(work.cases, live_hits, main_tr, strict=True):
        tr_hit = target_rank(ranked, case.target, k) is not None
        overlap[("both" if tr_hit else "live_only") if live_hit
                else ("transitions_only" if tr_hit else "neither")] += 1

    cached = live["cached"]
    lists = live["cached_lists"]
    sizes = [len(ranked) for ranked in lists]
    cache_order = NextItemScores(k)
    cache_order_unseen = NextItemScores(k)
    for case, ranked in zip(work.cases, lists, strict=True):
        cache_order.add(ranked, case.target)
        history = set(case.history)
        cache_order_unseen.add([sku for sku in ranked if sku not in history], case.target)
    pool_hits = sum(1 for rank, _ in cached if rank is not None)
    pool_source_of_target = Counter(s[0] if s else "?" for rank, s in cached if rank is not None)
    n = len(work.cases)
    metrics = {"live": {**live_scores.summary(catalog_size),
                        "fallback_share": round(served["fallback"] / max(n, 1), 4),
                        "served_from": dict(served)}}
    if "responses_learned" in live:
        metrics["live_learned"] = learned_summary(work, live["responses_learned"],
                                                  catalog_size)
    metrics.update({name: s.summary(catalog_size) for name, s in baselines.items()})
    diagnosis = {
        "live_items_by_source": dict(source_items.most_common()),
        "live_hits_by_source": dict(source_hits.most_common()),
        "live_items_in_history_share": round(in_history / max(item_count, 1), 4),
        "target_in_candidate_cache": round(pool_hits / max(n, 1), 4),
        "target_in_cache_top_k": round(
            sum(1 for rank, _ in cached if rank is not None and rank < k) / max(n, 1), 4),
        "cached_target_first_source": dict(pool_source_of_target.most_common()),
        "candidate_list_size_mean": round(statistics.mean(sizes), 1) if sizes else 0,
        "users_with_history_items_served": round(sum(
            1 for case, body in zip(work.cases, live["responses"], strict=True)
            if set(case.history) & {it["sku"] for it in body["items"][:k]}) / max(n, 1), 4),
        f"cache_order_hr@{k}": cache_order.summary(catalog_size)[f"hr@{k}"],
        f"cache_order_without_history_hr@{k}":
            cache_order_unseen.summary(catalog_size)[f"hr@{k}"],
        f"cache_order_without_history_ndcg@{k}":
            cache_order_unseen.summary(catalog_size)[f"ndcg@{k}"],
        "live_vs_transitions": dict(overlap),
        "hr_by_history_length": {
            bucket: {name: round(statistics.mean(v), 4) for name, v in parts.items()}
            | {"users": len(parts["live"])}
            for bucket, parts in sorted(by_length.items())},
    }
    if args.details:
        with open(args.details, "w") as fh:
            for i, (case, body) in enumerate(zip(work.cases, live["responses"], strict=True)):
                fh.write(json.dumps({
                    "user_id": case.user_id, "history": case.history, "target": case.target,
                    "served_from": body["served_from"],
                    "live": [{"sku": it["sku"], "source": it["source"],
                              "sources": it["sources"], "reason": it["reason"],
                              "score": it["score"], "title": it["title"]}
                             for it in body["items"]],
                    "live_rank": target_rank([it["sku"] for it in body["items"]],
                                             case.target, k),
                    "cache_rank": cached[i][0], "cache_sources": cached[i][1],
                    "cache_top": lists[i][:30],
                    "transitions": main_tr[i],
                    "transitions_rank": target_rank(main_tr[i], case.target, k),
                }) + "\n")
    return {"metrics": metrics, "diagnosis": diagnosis, "catalog_size": catalog_size}




def learned_summary(work: Workload, responses: list[dict[str, Any]], catalog_size: int
                    ) -> dict[str, Any]:
    """The evaluation users' answers after the API reloaded with the learned model."""
    scores = NextItemScores(work.k)
    served: Counter[str] = Counter()
    for case, body in zip(work.cases, responses, strict=True):
        scores.add([item["sku"] for item in body["items"]], case.target)
        served[body["served_from"]] += 1
    return {**scores.summary(catalog_size),
            "fallback_share": round(served["fallback"] / max(len(responses), 1), 4),
            "served_from": dict(served),
            "variants": dict(Counter(body.get("variant") for body in responses))}


def recs_metric_rows(scored: dict[str, Any], k: int, request_ms: dict[str, float],
                     request_ms_by_system: dict[str, dict[str, float]] | None = None
                     ) -> dict[str, dict[str, Any]]:
    """The report's metrics: one row per system (live, then each baseline)."""
    rows: dict[str, dict[str, Any]] = {}
    for name, m in scored["metrics"].items():
        row = {key: m[key] for key in (f"hr@{k}", f"ndcg@{k}", f"mrr@{k}", "coverage",
                                       "queries") if key in m}
        if "fallback_share" in m:
            latency = (request_ms_by_system or {}).get(name, request_ms)
            row["fallback_share"] = m["fallback_share"]
            row["target_in_candidate_cache"] = scored["diagnosis"]["target_in_candidate_cache"]
            row["request_p50_ms"] = latency.get("p50")
            row["request_p99_ms"] = latency.get("p99")
        rows[name] = row
    return rows


def run_recs_evaluation(config: RecsEvaluationConfig, progress: PhaseProgress | None = None
                        ) -> dict[str, Any]:
    """One live run; the result holds ``metrics`` ({system: {metric: value}}) and the
    details. Raises ``DatasetMissingError`` / ``DatasetFormatError`` before anything
    starts when the data is not there."""
    config.dataset = dataset_name(config.dataset)
    phases = Phases(progress)
    with phases.phase("reading the data set"):
        work = WORKLOADS[config.dataset](config.data_dir, config.eval_users,
                                         config.limit_background, config.limit_items,
                                         config.seed, loop_users=config.loop_users)
    if not work.cases:
        raise ValueError(f"{config.dataset}: no evaluation user in {config.data_dir}")
    phases.progress.log(
        f"{work.dataset}: {len(work.catalog)} items, {work.background_users} background "
        f"users/sessions ({len(work.background)} events), {len(work.cases)} evaluation "
        f"users ({sum(len(c.events) for c in work.cases)} events), {len(work.loop_cases)} "
        "logging users")
    live = run_live(config, work, phases)
    scored = score(config, work, live, phases)
    return {
        "bench": "recs_quality",
        "dataset": work.dataset,
        "k": work.k,
        "counts": {
            "catalog_items": scored["catalog_size"],
            "background_users": work.background_users,
            "background_events": len(work.background),
            "eval_users": len(work.cases),
            "eval_events": sum(len(c.events) for c in work.cases),
            "loop_users": len(work.loop_cases),
            "caches_ready": live["eval_stream"]["caches_ready"],
            "dead_lettered": live["dead_lettered"],
        },
        "metrics": scored["metrics"],
        "report_metrics": recs_metric_rows(
            scored, work.k, live["request_ms"],
            {"live_learned": live["request_ms_learned"]} if "loop" in live else None),
        "feedback_loop": ({**live["loop"], "users": len(work.loop_cases),
                           "request_ms_learned": live["request_ms_learned"]}
                          if "loop" in live else None),
        "diagnosis": scored["diagnosis"],
        "catalog": live["catalog"],
        "background": live["background"],
        "eval_stream": live["eval_stream"],
        "request_ms": live["request_ms"],
        "refreshes": live["refreshes"],
        "refresh_failures": live["refresh_failures"],
        "redis_used_mb": live["redis_used_mb"],
        "load_by_phase": phases.load,
        "phase_s": phases.seconds,
        "total_s": phases.total(),
        "seed": config.seed,
    }


def recs_table(result: dict[str, Any]) -> str:
    """The bench's plain-text table of every system."""
    k = result["k"]
    lines = [f"\n{result['dataset']}: {result['counts']['eval_users']} evaluation users, K={k}",
             f"{'system':<28}{'HR@' + str(k):>9}{'NDCG@' + str(k):>10}{'MRR@' + str(k):>9}"
             f"{'coverage':>10}{'fallback':>10}"]
    for name, m in result["metrics"].items():
        fallback = f"{m['fallback_share']:.3f}" if "fallback_share" in m else "-"
        lines.append(f"{name:<28}{m[f'hr@{k}']:>9.4f}{m[f'ndcg@{k}']:>10.4f}"
                     f"{m[f'mrr@{k}']:>9.4f}{m['coverage']:>10.4f}{fallback:>10}")
    return "\n".join(lines)
