"""The foundation, against the real stack: aiokafka round trip, aiokafka transactions on the Kafka 4.x
broker (commit and abort, with offsets and metadata sent to the transaction), kcat as byte-exact
witness, and the registry's Confluent-compatible API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from dlq_tui.kafka.admin import retrying
from tests.faultkit import wait_no_open_transaction
from tests.stack import Stack, kcat_read, kcat_topics, unique_name

HEADERS = [
    ("kafka_dlt-original-partition", (2).to_bytes(4, "big")),
    ("kafka_dlt-original-offset", (1234567890123).to_bytes(8, "big")),
    ("binary", bytes(range(256))),
    ("empty", b""),
    ("utf8 ✓", "grüße".encode()),
]


async def _create(admin: Any, *names: str, partitions: int = 1) -> None:
    await admin.create_topics([NewTopic(n, partitions, 1) for n in names])


async def _read_all(stack: Stack, topic: str, *, isolation: str = "read_committed") -> list[Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, isolation_level=isolation)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


async def _group_offsets(stack: Stack, group: str) -> dict[TopicPartition, OffsetAndMetadata]:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        result: dict[TopicPartition, OffsetAndMetadata] = await retrying(
            lambda: admin.list_consumer_group_offsets(group)
        )
        return result
    finally:
        await admin.close()


async def test_produce_consume_round_trip(stack: Stack, admin: Any, topic_name: str) -> None:
    await _create(admin, topic_name)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic_name, b"value-1", key=b"key-1", headers=HEADERS, timestamp_ms=1_700_000_000_000
        )
    finally:
        await producer.stop()
    [record] = await _read_all(stack, topic_name)
    assert (record.key, record.value, list(record.headers)) == (b"key-1", b"value-1", HEADERS)
    assert record.timestamp == 1_700_000_000_000


async def test_kcat_reads_headers_byte_identical(stack: Stack, admin: Any, topic_name: str) -> None:
    await _create(admin, topic_name)
    value = bytes(range(255, -1, -1))
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic_name, value, key=b"\x00\xffkey", headers=HEADERS)
        await producer.send_and_wait(topic_name, None, key=b"tombstone")
    finally:
        await producer.stop()
    first, tombstone = kcat_read(stack.bootstrap, topic_name)
    assert first.key == b"\x00\xffkey"
    assert first.value == value
    assert first.headers == HEADERS
    assert (tombstone.key, tombstone.value) == (b"tombstone", None)


async def _transactional_batch(stack: Stack, source: str, dest: str, group: str, *, abort: bool) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, transactional_id=f"tx-{group}")
    await producer.start()
    try:
        await producer.begin_transaction()
        await producer.send(dest, b"merged", key=b"k1", headers=HEADERS)
        await producer.send(source, None, key=b"k1")
        await producer.send_offsets_to_transaction(
            {TopicPartition(source, 0): OffsetAndMetadata(3, "dlqtui1:5-7,9")}, group
        )
        if abort:
            await producer.abort_transaction()
        else:
            await producer.commit_transaction()
    finally:
        await producer.stop()


async def test_transaction_commit_on_kafka4(stack: Stack, admin: Any, topic_name: str) -> None:
    """aiokafka's transaction requests against the Kafka 4.x broker: all of the batch is visible to
    read_committed readers, and the group's offset and metadata read back exactly."""
    source, dest, group = f"{topic_name}-src", f"{topic_name}-dst", unique_name("group")
    await _create(admin, source, dest)
    await _transactional_batch(stack, source, dest, group, abort=False)

    [merged] = await _read_all(stack, dest)
    assert (merged.key, merged.value, list(merged.headers)) == (b"k1", b"merged", HEADERS)
    [tombstone] = await _read_all(stack, source)
    assert (tombstone.key, tombstone.value) == (b"k1", None)
    assert [r.value for r in kcat_read(stack.bootstrap, dest)] == [b"merged"]

    expected = {TopicPartition(source, 0): OffsetAndMetadata(3, "dlqtui1:5-7,9")}
    # The offset commit becomes readable once the coordinator has written the commit markers.
    for _ in range(50):
        if await _group_offsets(stack, group) == expected:
            break
        await asyncio.sleep(0.2)
    assert await _group_offsets(stack, group) == expected


async def test_transaction_abort_is_invisible(stack: Stack, admin: Any, topic_name: str) -> None:
    source, dest, group = f"{topic_name}-src", f"{topic_name}-dst", unique_name("group")
    await _create(admin, source, dest)
    await _transactional_batch(stack, source, dest, group, abort=True)

    assert await _read_all(stack, dest) == []
    assert await _read_all(stack, source) == []
    assert kcat_read(stack.bootstrap, dest) == []
    # read_uncommitted sees the aborted record: it was written, then aborted.
    assert [r.value for r in await _read_all(stack, dest, isolation="read_uncommitted")] == [b"merged"]
    # The coordinator writes the abort markers to every partition of the transaction, the group's
    # offsets partition included: once the data partitions' markers are in, the offsets are gone.
    wait_no_open_transaction(stack.bootstrap, [source, dest])
    assert await _group_offsets(stack, group) == {}


async def test_kcat_lists_created_topics(stack: Stack, admin: Any, topic_name: str) -> None:
    await _create(admin, topic_name, partitions=3)
    assert topic_name in kcat_topics(stack.bootstrap)


def test_registry_register_and_fetch_by_id(stack: Stack) -> None:
    schema = {
        "type": "record",
        "name": "OrderCanceled",
        "fields": [{"name": "orderNumber", "type": "string"}, {"name": "reason", "type": "string"}],
    }
    subject = f"{unique_name('subject')}-value"
    with httpx.Client(base_url=stack.registry_url, timeout=10) as client:
        response = client.post(
            f"/subjects/{subject}/versions",
            json={"schema": json.dumps(schema)},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        )
        response.raise_for_status()
        schema_id = response.json()["id"]
        fetched = client.get(f"/schemas/ids/{schema_id}")
        fetched.raise_for_status()
        assert json.loads(fetched.json()["schema"]) == schema
        # Not the list of all subjects: Apicurio lists at most 1000, and the shared registry holds
        # every test run's subjects.
        assert client.get(f"/subjects/{subject}/versions").json() == [1]
        assert client.get("/schemas/ids/987654321").status_code == 404
