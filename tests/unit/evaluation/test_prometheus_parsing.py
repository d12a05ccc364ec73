import math

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streamrec.evaluation.live_deployment import histogram_quantile, metric_sum


def _text() -> str:
    registry = CollectorRegistry()
    age = Histogram("age_seconds", "age", ["stage"], buckets=(0.1, 0.5, 1, 5),
                    registry=registry)
    for value in (0.05,) * 90 + (0.7,) * 9 + (3.0,):
        age.labels("picked").observe(value)
    age.labels("applied").observe(0.2)
    return generate_latest(registry).decode()


def test_histogram_quantile_is_the_upper_bound_of_the_quantiles_bucket():
    text = _text()
    assert histogram_quantile(text, "age_seconds", 0.5, stage="picked") == 0.1
    assert histogram_quantile(text, "age_seconds", 0.95, stage="picked") == 1.0
    assert histogram_quantile(text, "age_seconds", 0.999, stage="picked") == 5.0
    assert histogram_quantile(text, "age_seconds", 0.5, stage="applied") == 0.5
    assert math.isnan(histogram_quantile(text, "age_seconds", 0.5, stage="other"))
    assert metric_sum(text, "age_seconds_count", stage="picked") == 100
    # two processes' metrics: their buckets add up
    assert histogram_quantile(text + "\n" + text, "age_seconds", 0.95, stage="picked") == 1.0
