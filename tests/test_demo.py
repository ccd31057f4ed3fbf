"""The demo DLQ, seeded into the real stack and read back with kcat."""

from __future__ import annotations

import io
import struct

from fastavro import parse_schema, schemaless_reader

from dlq_tui.decode.registry import SchemaRegistry
from dlq_tui.demo.__main__ import main as demo_main
from dlq_tui.demo.data import order_canceled_schema
from tests.stack import Stack, kcat_read, kcat_topics


def test_seed_makes_the_demo_dlq(stack: Stack, topic_name: str) -> None:
    # The test's own topics: the demo's may be open in `make demo` on the same stack.
    dlq_topic, retry_topic = f"{topic_name}-dead-letter-queue", f"{topic_name}-retry-1"
    args = ["seed", "-b", stack.bootstrap, "--registry", stack.registry_url, "--count", "30"]
    assert demo_main([*args, "--dlq-topic", dlq_topic, "--retry-topic", retry_topic]) == 0
    assert {dlq_topic, retry_topic} <= kcat_topics(stack.bootstrap)
    records = kcat_read(stack.bootstrap, dlq_topic)
    assert len(records) == 34
    assert {r.partition for r in records} == {0, 1, 2}
    assert kcat_read(stack.bootstrap, retry_topic) == []

    first = [r for r in records if r.partition == 0][:3]
    assert [r.key for r in first] == [b"ORD001", b"ORD002", b"ORD003"]

    # Values are Avro in the Confluent wire format, with the schema registered in the registry.
    magic, schema_id = struct.unpack(">bi", first[1].value[:5])  # type: ignore[index]
    assert magic == 0
    with SchemaRegistry(stack.registry_url) as registry:
        registered = registry.get_schema(schema_id)
    assert registered.subject in (None, f"{dlq_topic}-value")
    datum = schemaless_reader(io.BytesIO(first[1].value[5:]), parse_schema(order_canceled_schema()))  # type: ignore[index]
    assert datum == {"orderNumber": "ORD002", "reason": "Ordered the wrong product"}

    # Spring Kafka DLT headers in their binary encodings.
    headers = dict(first[0].headers)
    assert struct.unpack(">i", headers["kafka_dlt-original-partition"]) == (0,)
    assert len(headers["kafka_dlt-original-offset"]) == 8
    assert len(headers["kafka_dlt-original-timestamp"]) == 8
    assert any("__connect.errors.exception.class.name" in dict(r.headers) for r in records)

    # The awkward ones.
    assert any(r.key is None for r in records)
    assert any(r.key == b"ORD-POISON" for r in records)
    bad_utf8 = next(r for r in records if r.key == b"ORD-BAD-UTF8")
    assert bad_utf8.value is not None
    try:
        bad_utf8.value.decode("utf-8")
        raise AssertionError("expected invalid UTF-8")
    except UnicodeDecodeError:
        pass
    assert any(r.key is not None and b"\x1b[" in r.key for r in records)
