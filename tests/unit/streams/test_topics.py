from streamrec.settings import Settings
from streamrec.streams.topics import Topics


def test_names_carry_the_prefix_and_dlqs_exist_for_inputs() -> None:
    topics = Topics(Settings(topic_prefix="acme.", topic_partitions=6))
    assert topics.catalog_changes == "acme.catalog.changes"
    assert topics.user_events == "acme.user.events"
    assert topics.dlq(topics.user_events) == "acme.user.events.dlq"
    specs = dict(topics.all_specs())
    assert set(specs) == {
        "acme.catalog.changes", "acme.catalog.changes.dlq", "acme.user.events",
        "acme.user.events.dlq", "acme.catalog.vectors", "acme.recs.impressions"}
    assert specs["acme.catalog.changes"].config["cleanup.policy"] == "compact"
    assert specs["acme.catalog.vectors"].config["cleanup.policy"] == "compact"
    assert specs["acme.user.events"].config["cleanup.policy"] == "delete"
    assert specs["acme.user.events"].partitions == 6
