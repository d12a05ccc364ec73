"""All settings of a streamrec process, in one typed place.

Every value comes from an environment variable with the ``STREAMREC_`` prefix (or a
``.env`` file); core code receives a ``Settings`` object and never reads the
environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RewriteModelPrice(BaseModel):
    """List price of one model, USD per million tokens (query-rewrite cost budget)."""

    input_usd_per_mtok: float = 0.0
    output_usd_per_mtok: float = 0.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STREAMREC_", env_file=".env", extra="ignore")

    # --- Kafka ---------------------------------------------------------------------------
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    """Prepended to every topic name (``"<prefix>catalog.changes"``); tests use a uuid."""
    kafka_connect_timeout_s: float = 5.0
    """How long a client waits for the broker before it reports Kafka as unreachable."""
    topic_partitions: int = 4
    producer_linger_ms: int = 5
    producer_batch_bytes: int = 262_144
    producer_queue_max_messages: int = 200_000
    producer_delivery_timeout_ms: int = 30_000

    # --- Redis ---------------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "sr:"
    redis_max_connections: int = 64
    """Per process; a request beyond it waits up to ``redis_pool_timeout_s`` for a free one."""
    redis_pool_timeout_s: float = 10.0

    # --- Faust worker --------------------------------------------------------------------
    app_id: str = "streamrec"
    faust_store: str = "memory://"
    """``rocksdb://`` in production (durable tables through rocksdict)."""
    worker_batch_size: int = 250
    """Largest micro-batch of the user agent, and Kafka records per poll. Small on purpose:
    a backlog feeds on itself through ever larger, slower batches. At 1,000 events/s for
    30 s, 250 (with 50 full refreshes/s) kept batches at ~0.1 s and the event-to-cache p99
    at 0.42-0.46 s where 2,000 gave 2.1-2.9 s (bench_user_freshness, 2026-11-27; with the
    later fixes 60 s and 120 s runs hold p99 0.44-0.58 s on the 2-core box:
    docs/benchmarks.md)."""
    worker_batch_wait_s: float = 0.05
    catalog_batch_size: int = 64
    """Catalog micro-batch: embedding dominates, so smaller batches keep freshness in seconds."""
    worker_web_port: int = 6066
    user_recent_events: int = 50
    """How many recent events per user the user agent keeps in Redis."""
    dedup_ttl_s: int = 7 * 24 * 3600
    """How long an event id is remembered for de-duplication."""
    search_log_max_entries: int = 1_000_000
    """Search clicks (a CLICK, ADD_TO_CART or PURCHASE event with its query) kept in the
    Redis stream the API follows into its reranker's search log (approximate trim)."""

    # --- Encoder (catalog agent and search) ------------------------------------------------
    encoder_backend: str = "onnx-minilm"
    """``onnx-minilm`` (ONNX Runtime, default) or ``sentence-transformers`` (optional extra)."""
    encoder_threads: int = 1
    """Batches embedded at once, each on its own thread with one ONNX Runtime thread
    (the local catalog worker runs 2; the API embeds one query or a few at a time)."""
    encoder_batch_size: int = 8
    """Texts per inference call. Small calls of length-sorted texts pad least and fit the
    caches: 8 costs 37% less CPU per Home Depot title than 32 (docs/benchmarks.md)."""
    encoder_quantization: Literal["dynamic", "packaged"] = "dynamic"
    """``dynamic``: MiniLM re-quantized to per-channel dynamic int8 (2.3-2.5x less CPU,
    same retrieval quality; built once into ``cache_dir``); ``packaged``: as shipped."""

    # --- Vector and lexical index -----------------------------------------------------------
    index_router: str = "category"
    """``category`` (one HNSW shard per top-level category) or ``hash``."""
    index_hash_shards: int = 4
    index_hnsw_m: int = 32
    index_ef_construction: int = 200
    """200 vs 80: recall@10 at efSearch 64 from 0.959 to 0.999 on 300k vectors (bench_ann)."""
    index_small_shard_ef_construction: int = 100
    """...and this one while a shard holds fewer than 250,000 vectors: inserts 2.1x cheaper,
    recall@10 0.994 vs 0.996 on 53,667 real title vectors (see ``IndexConfig``)."""
    index_ef_search: int = 64
    index_storage: str = "flat"
    """``flat`` (float32), ``fp16`` or ``sq8``."""
    index_compaction_ratio: float = 0.2
    index_snapshot_interval_s: float = 300.0
    """How often an index replica writes a snapshot (0: only on demand)."""
    index_dir: Path | None = None
    """Where index snapshots live; default ``<state_dir>/index``."""
    lexical_refresh_s: float = 0.2
    """Upper bound on how long a change waits before the lexical index can find it."""
    search_embed_batch_max: int = 16
    """Search queries that queue behind a running encoder call are encoded together, up to
    this many a call (4 short queries together cost ~half the CPU of 4 calls); 1: never."""
    search_embed_prefetch: bool = False
    """Hand each search's query to the encoder's own thread as the request arrives, so the
    queries in flight share a batch and their encoding overlaps the lexical stages: ~5%
    less CPU per search and a lower p50 at 8 clients, but a higher p95 and p99 (a third
    thread contending for the GIL; docs/benchmarks.md, tenth session). For throughput."""

    # --- User path (profiles, candidates) ---------------------------------------------------
    recs_enabled: bool = True
    """False: the users worker only validates, de-duplicates and records events (profiles,
    co-visitation, trending and candidate refreshes off), e.g. to measure that path."""
    recs_refresh_delay_s: float = 0.05
    """A burst of a user's events within this delay costs one candidate refresh."""
    recs_refresh_min_interval_s: float = 0.25
    recs_refresh_max_delay_s: float = 0.5
    """No event waits longer than this for its user's refresh (freshness bound)."""
    recs_refresh_concurrency: int = 32
    """Users refreshed at once on the per-user path (the fallback for a failed batch)."""
    recs_refresh_batch_size: int = 256
    """Users refreshed per batch (one call per candidate source, one cache round trip)."""
    recs_incremental_refresh: bool = True
    """Two-speed refresh: every user with new events gets the fast path (their cached list
    updated in place in Redis, in the micro-batch that applied the events) and a full
    regeneration at most every ``recs_full_refresh_min_interval_s``. False: every event
    waits for a full regeneration (debounced by the ``recs_refresh_*`` delays above)."""
    recs_full_refresh_min_interval_s: float = 5.0
    """Two-speed refresh: a user's full regenerations are at least this far apart (a
    missing or stale list is regenerated after ``recs_refresh_delay_s``)."""
    recs_full_refresh_max_per_s: float = 50.0
    """Two-speed refresh: at most this many full regenerations a second per worker (~3 ms
    of CPU each), in bursts of a fifth of a second's worth, so they never starve the fast
    path; a backlog waits, oldest first (0: no limit). At 1,000 events/s (30 s runs,
    batches of 250), 100 a second held the event path's p99 at 2.9 s, 50 at 0.46 s."""
    recs_blend: str = "max"
    """How candidate sources' scores are normalised before blending: ``max`` (by the
    source's best score) or ``rank`` (by position). ``rank`` scores better offline
    (YOOCHOOSE HR@20 0.448 -> 0.575, see docs/benchmarks.md) but weakens how fast a switch
    of interest shows (tests/integration/test_recommendations.py), so it is not the
    default yet."""
    recs_filter_seen: bool = True
    """Leave the user's 20 most recent items out of their candidates (and take each newly
    viewed item out at once). False for shops where people come back to what they saw
    (YOOCHOOSE sessions: 36% of next clicks repeat an earlier click)."""
    recs_recently_viewed_weight: float = 2.0
    """Weight of the ``history/recently-viewed`` source (the user's own recent items) in
    the blend; used only with ``recs_filter_seen`` false (0: off). YOOCHOOSE, live HR@20 /
    MRR@20: 0 -> 0.344 / 0.154, 0.5 -> 0.660 / 0.247, 1 -> 0.664 / 0.332, 2 -> 0.664 /
    0.380 (transitions 0.635 / 0.361; docs/benchmarks.md)."""
    recs_covisitation_backward_weight: float = 1.0
    """Co-visitation counts are written fully forward (an item learns what came after it)
    and times this backward (what came before it); 1.0: symmetric. Lower favours "next
    item" neighbours; on YOOCHOOSE 0.25 and 1.0 scored the same (docs/benchmarks.md)."""
    recs_variant: str = "default"
    """Experiment variant recorded on every impression (and in each response)."""
    recs_rerank_model_path: Path | None = None
    """A model file from ``streamrec train reranker --from impressions``: the API scores
    recommendations with it instead of the linear default. A missing file or one trained
    on other features stops the API at start-up with the reason (no silent fallback)."""
    recs_warm_interval_s: float = 30.0
    """How often the cache warmer looks for recently active users with stale caches."""
    recs_warm_active_s: float = 3600.0
    """Users with an event in this window count as recently active."""

    # --- HTTP API ------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = Field(default=1, ge=1)
    """API processes that ``streamrec api`` (and so ``streamrec up``) runs when ``--workers``
    is not given: search is CPU-bound per request and a process's GIL holds it to about
    one core, so about one per core; each holds its own index replica, and one socket
    deals new connections to the least busy (``serving/api_processes.py``)."""
    api_search_threads: int = Field(default=2, ge=0)
    """Threads each API process runs searches on (0: asyncio's default pool, cores + 4).
    Searches beyond it queue instead of all contending for the GIL: with 2, four
    connections per process and 8 clients, p95 was lower in 6 of 7 paired runs (median
    ~4 ms) and p99 lower, for ~3 ms more at p50 and ~5% less throughput, since fewer
    queries meet at the encoder to share a batch (docs/benchmarks.md, tenth session).
    A pool of its own: readiness probes and other blocking calls do not take its threads."""
    api_max_body_bytes: int = 1_048_576
    api_max_events_per_request: int = 1_000
    api_publish_timeout_s: float = 5.0
    """How long POST /v1/events waits for Kafka's acknowledgement before answering 503."""

    # --- Local platform (``streamrec up``) -------------------------------------------------
    state_dir: Path = Path(".streamrec")
    """PID files, logs and Kafka/Redis data of the local platform."""
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "streamrec")
    """Downloaded Kafka jars; reused across runs and clones."""
    kafka_version: str = "4.1.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    redis_port: int = 6379

    # --- Query-rewrite cascade (streamrec/rewrite, docs/operations.md) ---------------------
    rewrite_enabled: bool = False
    """Run the cascade on ``/v1/search`` for the queries its router selects. Off by default:
    it changes the answers to weak queries; docs/benchmarks.md has what it gains."""
    rewrite_stage_timeout_s: float = 1.5
    """Hard bound on the whole stage: past it the query runs as typed (or best so far)."""
    rewrite_cache_enabled: bool = True
    rewrite_cache_ttl_s: int = 7 * 24 * 3600
    rewrite_deterministic_enabled: bool = True
    rewrite_small_base_url: str | None = None
    """OpenAI-compatible endpoint of the small LLM (vLLM, llama.cpp ``llama-server``), e.g.
    ``http://127.0.0.1:8080/v1``; the tier is off until this and the model are set."""
    rewrite_small_model: str = ""
    rewrite_small_api_key: SecretStr | None = None
    rewrite_small_timeout_s: float = 0.4
    rewrite_large_api_key: SecretStr | None = None
    """Anthropic API key: the Claude tier is off without it."""
    rewrite_large_base_url: str | None = None
    """None: Anthropic's own endpoint."""
    rewrite_large_model: str = "claude-haiku-4-5"
    rewrite_large_timeout_s: float = 1.2
    rewrite_max_output_tokens: int = 32
    rewrite_catalog_description: str = "a home-improvement and general retail catalog"
    """Named in the LLM prompt."""
    rewrite_budget_tokens_per_minute: int | None = 20_000
    """Paid tiers together, per API process (None: unlimited)."""
    rewrite_budget_usd_per_hour: float | None = 0.5
    rewrite_model_prices: dict[str, RewriteModelPrice] = Field(default_factory=lambda: {
        "claude-haiku-4-5": RewriteModelPrice(input_usd_per_mtok=1.0, output_usd_per_mtok=5.0),
        "claude-sonnet-4-5": RewriteModelPrice(input_usd_per_mtok=3.0,
                                               output_usd_per_mtok=15.0)})
    """Model name -> price; a model not listed costs 0 (self-hosted). Keep these current:
    a JSON object in ``STREAMREC_REWRITE_MODEL_PRICES``."""
    rewrite_min_strict_hits: int = 1
    """Fewer products matching most query words than this makes the results weak."""
    rewrite_natural_language_words: int = 6
    rewrite_hard_query_words: int = 8
    """Queries this long (or with no results, or sentences) may go to the large LLM."""

    # --- Search reranking (streamrec/rerank) -----------------------------------------------
    rerank_model_path: Path | None = None
    """A model file from ``streamrec train reranker`` (LightGBM or cross-encoder). None, or
    a file that is not there: search is not reranked and every response says so."""
    rerank_budget_ms: float = 5.0
    """Per request: rerank as many candidates as the stage's measured cost fits in this."""
    rerank_max_depth: int = 100
    """On the Home Depot validation queries depth 70 ranked as well as 100 (NDCG@10 0.5094
    against 0.5095), but on the test queries it lost 0.003 (0.4978 against 0.5008), and
    the stage at depth 100 now costs less than it did at 70 before the pair features
    were computed column by column (bench_rerank p50 2.65 ms): 100 stays the default."""
    rerank_min_depth: int = 20
    """The budget never cuts the depth below this (nor above ``rerank_max_depth``)."""
    rerank_threads: int = 1
    """ONNX Runtime threads of a cross-encoder reranker (LightGBM always uses one)."""

    # --- Data ----------------------------------------------------------------------------
    data_dir: Path = Path("../shared/data")


    def as_env(self) -> dict[str, str]:
        """The ``STREAMREC_*`` variables that point a child process (worker, API) at this
        deployment: its Kafka, Redis, names and state folder."""
        fields = ("kafka_bootstrap", "redis_url", "topic_prefix", "redis_key_prefix",
                  "topic_partitions", "state_dir", "worker_batch_wait_s")
        return {f"STREAMREC_{name.upper()}": str(getattr(self, name)) for name in fields}

    @property
    def index_snapshot_dir(self) -> Path:
        return self.index_dir or self.state_dir / "index"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
