import asyncio

from streamrec.agents.dead_letter_router import (
    DeadLetterRouter,
    SourcePosition,
    dead_letter_headers,
)
from streamrec.agents.record_validator import RecordValidator
from streamrec.schemas.codec import NotAvroError, RecordValidationError, codec_for


def test_headers_name_the_error_and_the_source() -> None:
    headers = dict(dead_letter_headers(
        NotAvroError("value is not Avro"), SourcePosition("t.user.events", 2, 41, 1000),
        [("trace", b"abc"), ("dlq.error.kind", b"stale")]))
    assert headers["dlq.error.kind"] == b"not-avro"
    assert headers["dlq.error.reason"] == b"value is not Avro"
    assert headers["dlq.source.topic"] == b"t.user.events"
    assert headers["dlq.source.partition"] == b"2"
    assert headers["dlq.source.offset"] == b"41"
    assert headers["dlq.source.timestamp_ms"] == b"1000"
    assert headers["trace"] == b"abc"


def test_router_sends_original_bytes_to_the_dlq() -> None:
    sent = []

    async def send(topic, key, value, headers):
        sent.append((topic, key, value, dict(headers)))
        return "delivered"

    router = DeadLetterRouter("x.dlq", send)
    result = asyncio.run(router.route(b"k", b"v", NotAvroError("bad"),
                                      SourcePosition("x", 0, 1)))
    assert result == "delivered"
    assert sent[0][:3] == ("x.dlq", b"k", b"v") and router.sent == 1


def test_validator_applies_semantic_rules_after_decoding() -> None:
    validator = RecordValidator("UserEvent")
    ok = {"event_id": "e", "user_id": "u", "type": "VIEW", "sku": "s", "ts": 1}
    assert validator.validate(codec_for("UserEvent").encode(ok))["sku"] == "s"
    bad = codec_for("UserEvent").encode({**ok, "sku": None})
    try:
        validator.validate(bad)
    except RecordValidationError as exc:
        assert exc.kind == "validation" and "sku: required for VIEW" in exc.reason
    else:
        raise AssertionError("a VIEW without sku must be refused")
