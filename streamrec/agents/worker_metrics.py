"""Prometheus metrics of the worker's agents, defined once."""

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter(
    "streamrec_agent_records_total", "Records consumed by an agent, by outcome",
    ["agent", "outcome"],  # outcome: applied | duplicate | stale | dead_lettered
)
BATCH_SECONDS = Histogram(
    "streamrec_agent_batch_seconds", "Time to validate and apply one micro-batch", ["agent"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
RECORD_AGE = Histogram(
    "streamrec_agent_record_age_seconds",
    "Age of a micro-batch's oldest record (now - its Kafka timestamp) when the agent picks "
    "the batch up and when it has applied it: consumer lag in time", ["agent", "stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60),
)
RETRIES = Counter(
    "streamrec_agent_retries_total", "Batches retried after a downstream failure", ["agent"],
)
EMBEDDINGS = Counter(
    "streamrec_catalog_embeddings_total",
    "Products embedded by the catalog agent, or whose stored vector was reused", ["outcome"],
)
REFRESHES = Counter(
    "streamrec_candidate_refreshes_total", "Candidate cache refreshes, by what caused them",
    ["reason"],  # event | requested | warmed | failed
)
REFRESH_LAG = Histogram(
    "streamrec_candidate_refresh_lag_seconds",
    "From a user's oldest unrefreshed event reaching the worker to the rewritten cache",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5),
)
OWNED_PARTITIONS = Gauge(
    "streamrec_user_partitions_owned",
    "1 for each user.events partition (so each user) this users worker owns", ["partition"],
)
