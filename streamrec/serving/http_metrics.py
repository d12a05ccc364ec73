"""Prometheus metrics of the HTTP tier, defined once."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter("streamrec_http_requests_total", "HTTP requests", ["route", "status"])
LATENCY = Histogram(
    "streamrec_http_request_seconds", "HTTP request latency", ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS = Counter("streamrec_api_events_total", "Events posted to /v1/events", ["outcome"])
