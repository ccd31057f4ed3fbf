"""The demo DLQ, seeded into the real stack and read back with kcat."""

from __future__ import annotations

import io
import struct

from fastavro import parse_schema, schemaless_reader

from dlq_tui.decode.registry import SchemaRegistry
from dlq_tui.demo.__main__ import main as demo_main
from dlq_tui.demo.conventions import FAILURE_KINDS
from dlq_tui.demo.data import order_canceled_schema
from tests.stack import Stack, kcat_read, kcat_topics


def test_seed_makes_the_demo_dlq(stack: Stack, topic_name: str) -> None:
    # The test's own topics: the demo's may be open in `make demo` on the same stack.
    dlq_topic, retry_topic = f"{topic_name}-dead-letter-queue", f"{topic_name}-retry-1"
    args = ["seed", "-b", stack.bootstrap, "--registry", stack.registry_url, "--count", "30"]
    names = ["--dlq-topic", dlq_topic, "--retry-topic", retry_topic, "--no-origin-topics"]
    assert demo_main([*args, *names]) == 0
    assert {dlq_topic, retry_topic} <= kcat_topics(stack.bootstrap)
    records = kcat_read(stack.bootstrap, dlq_topic)
    assert len(records) == 37 + 6 * len(FAILURE_KINDS)  # 30 + 4 awkward + 3 formats + 6 per failure kind
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
    for name in (
        "retry_topic-attempts",
        "springDeserializerExceptionValue",
        "x-exception-fqcn",
        "source_topic",
    ):
        assert any(name in dict(r.headers) for r in records), name
    for name in ("dead-letter-reason", "__streams.errors.exception"):
        assert any(name in dict(r.headers) for r in records), name

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


def test_the_demo_makes_every_origin_topic_its_records_name() -> None:
    """`make demo` creates these (empty) so that merging to @origin works on the demo; tests never
    do, the names being the demo's own."""
    from dlq_tui.demo.__main__ import origin_topics
    from dlq_tui.demo.conventions import demo_convention_records
    from dlq_tui.demo.data import demo_records

    records = demo_records(1, count=5, now_ms=1_700_000_000_000)
    records += demo_convention_records(1, 1_700_000_000_001, 3)
    assert origin_topics(records) == {
        "order-canceled", "pricing-requests", "payment-events", "invoices", "shipments", "legacy-orders",
        "crm-contacts",
    }  # fmt: skip
    assert origin_topics(records[:1]) == {"order-canceled"}


async def test_demo_holds_protobuf_and_json_schema_records(stack: Stack) -> None:
    import asyncio

    from dlq_tui.demo.__main__ import seed
    from dlq_tui.engine import SessionConfig, TriageSession
    from dlq_tui.kafka.connection import KafkaSettings
    from tests.stack import unique_name

    source, dest = unique_name("demo-formats-dlq"), unique_name("demo-formats-retry")
    await seed(
        stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True, formats=True
    )
    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap), source=source, group=unique_name("g"),
        registry_url=stack.registry_url, use_journal=False, read_only=True,
    )  # fmt: skip
    session = TriageSession(cfg)
    try:
        await session.open()
        await session.load_all()
        await asyncio.to_thread(session.prefetch_schemas, range(len(session.store)))
        by_key = {session.store.key_at(r): session.decoded(r) for r in range(len(session.store))}
    finally:
        await session.close()
    proto = by_key[b"ORD-PROTO"].value
    assert (proto.kind, proto.schema_title, proto.error) == (
        "protobuf",
        "com.flyeralarm.crm.OrderCanceled",
        None,
    )
    assert proto.data["customer"] == {"name": "Bob", "id": "4200000001"}
    assert proto.data["reason"] == "WRONG_PRODUCT"
    json_ok = by_key[b"ORD-JSON"].value
    assert (json_ok.kind, json_ok.schema_title, json_ok.error) == ("json", "OrderCanceled", None)
    json_bad = by_key[b"ORD-JSON-BAD"].value
    assert json_bad.kind == "json" and json_bad.error is not None
    assert json_bad.error.endswith("$.quantity: 0 is less than the minimum of 1")
    assert by_key[b"ORD001"].value.kind == "avro"
