"""`python -m dlq_tui.demo seed`: (re)create the demo DLQ in the local stack and print what it made."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from dlq_tui.decode.registry import SchemaRegistry
from dlq_tui.demo.conventions import FAILURE_KINDS, demo_convention_records
from dlq_tui.demo.data import (
    DLQ_TOPIC,
    PARTITIONS,
    RETRY_TOPIC,
    DemoRecord,
    demo_records,
    order_canceled_schema,
)
from dlq_tui.demo.formats import format_records, register_format_schemas
from dlq_tui.redrive import origin_of


async def recreate_topics(bootstrap: str, topics: dict[str, dict[str, str]], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        stale = [t for t in topics if t in existing]
        if stale:
            await admin.delete_topics(stale)
            for _ in range(100):  # deletion is asynchronous on the broker
                if not set(await admin.list_topics()) & set(stale):
                    break
                await asyncio.sleep(0.1)
        for _ in range(50):
            try:
                await admin.create_topics(
                    [NewTopic(t, partitions, 1, topic_configs=cfg) for t, cfg in topics.items()]
                )
                break
            except Exception as exc:  # TopicExistsError while the deletion settles
                if "exist" not in type(exc).__name__.lower() and "exist" not in str(exc).lower():
                    raise
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def make_compacted(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, t, configs={"cleanup.policy": "compact"})
                for t in topics
            ]
        )
    finally:
        await admin.close()


async def seed(
    bootstrap: str,
    registry_url: str,
    count: int,
    *,
    dlq_topic: str = DLQ_TOPIC,
    retry_topic: str = RETRY_TOPIC,
    quiet: bool = False,
    now_ms: int | None = None,
    schema_id: int | None = None,
    formats: bool = False,
    conventions: int = 0,
    origins: bool = False,
) -> int:
    """(Re)create `dlq_topic` and `retry_topic` and fill the DLQ with the demo records. Tests pin
    what varies, for reproducible screens: `now_ms` (the timestamps end there; default: now) and
    `schema_id` (written into the records as is, nothing registered; default: register the schema
    under `<dlq_topic>-value` and use the id the registry gives). `formats` adds the Protobuf and
    JSON Schema records of demo/formats.py (registered in the registry; `make demo` has them).
    `conventions`: that many records of every DLQ header convention's failure kind are added
    (demo/conventions.py; `make demo` has them). `origins`: also (re)create, empty, every origin
    topic the records' DLQ headers name, so that merging to `@origin` works on the demo (`make demo`
    does; tests do not, as those are the demo's fixed names)."""
    extra: list[DemoRecord] = []
    if schema_id is None:
        with SchemaRegistry(registry_url) as registry:
            schema_id = registry.register(f"{dlq_topic}-value", order_canceled_schema())
    if formats:  # Protobuf and JSON Schema records
        with SchemaRegistry(registry_url) as registry:
            ids = register_format_schemas(registry, dlq_topic)
        extra = format_records(*ids, ts=int(time.time() * 1000) if now_ms is None else now_ms)
    # A compacted topic refuses keyless records, yet real DLQs hold some (written before the policy
    # changed, or by a tool that bypassed it). So: create with `delete`, seed, then switch to compact.
    records = (
        demo_records(schema_id, count=count, now_ms=int(time.time() * 1000) if now_ms is None else now_ms)
        + extra
    )
    records += (
        demo_convention_records(conventions, records[-1].timestamp + 1, PARTITIONS) if conventions else []
    )
    origin_names = origin_topics(records) - {dlq_topic, retry_topic} if origins else set()
    topics = {dlq_topic: {"cleanup.policy": "delete"}, retry_topic: {"cleanup.policy": "compact"}}
    topics |= {t: {"cleanup.policy": "delete"} for t in sorted(origin_names)}
    await recreate_topics(bootstrap, topics, PARTITIONS)
    await wait_for_leaders(bootstrap, list(topics))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [
            await producer.send(
                dlq_topic,
                r.value,
                key=r.key,
                partition=r.partition,
                timestamp_ms=r.timestamp,
                headers=r.headers,
            )
            for r in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    await make_compacted(bootstrap, [dlq_topic])
    if quiet:
        return 0
    per_partition = {p: sum(1 for r in records if r.partition == p) for p in range(PARTITIONS)}
    print(
        f"demo: topic {dlq_topic} (compacted, {PARTITIONS} partitions): {len(records)} records {per_partition}"
    )
    print(f"demo: topic {retry_topic} (compacted, {PARTITIONS} partitions): empty, the merge destination")
    if origin_names:
        print(f"demo: origin topics (empty, for merging to @origin): {', '.join(sorted(origin_names))}")
    print(f"demo: value schema OrderCanceled registered as id {schema_id} under {dlq_topic}-value")
    if conventions:
        print(
            f"demo:   {conventions} records of each of {len(FAILURE_KINDS)} failure kinds from other DLQ header "
            "conventions (dlq-tui groups shows them)"
        )
    for r in records:
        if r.note:
            print(f"demo:   partition {r.partition}: {r.note}")
    return 0


def origin_topics(records: list[DemoRecord]) -> set[str]:
    """The origin topics the records' DLQ headers name (every convention dlq-tui reads)."""
    return {t for t in (origin_of(r.headers) for r in records) if t}


async def wait_for_leaders(bootstrap: str, topics: list[str]) -> None:
    """New topics take a moment before every partition has a leader."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(100):
            described = await admin.describe_topics(topics)
            if all(
                not t["error_code"] and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
                for t in described
            ):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    kafka_port = os.environ.get("DLQ_TUI_KAFKA_PORT", "9092")
    registry_port = os.environ.get("DLQ_TUI_REGISTRY_PORT", "8081")
    parser = argparse.ArgumentParser(prog="python -m dlq_tui.demo", description=__doc__)
    parser.add_argument("command", choices=["seed"])
    parser.add_argument("-b", "--bootstrap-servers", default=f"127.0.0.1:{kafka_port}")
    parser.add_argument("--registry", default=f"http://127.0.0.1:{registry_port}/apis/ccompat/v7")
    parser.add_argument("--count", type=int, default=300, help="ordinary records (default 300)")
    parser.add_argument(
        "--conventions",
        type=int,
        default=6,
        metavar="N",
        help="records per failure kind of every other DLQ header convention (default 6; 0: none)",
    )
    parser.add_argument("--dlq-topic", default=DLQ_TOPIC, help=f"the DLQ to (re)create (default {DLQ_TOPIC})")
    parser.add_argument("--retry-topic", default=RETRY_TOPIC, help=f"the destination (default {RETRY_TOPIC})")
    parser.add_argument(
        "--no-origin-topics",
        action="store_true",
        help="do not (re)create the origin topics the records name (merging to @origin needs them)",
    )
    args = parser.parse_args(argv)
    return asyncio.run(
        seed(
            args.bootstrap_servers,
            args.registry,
            args.count,
            dlq_topic=args.dlq_topic,
            retry_topic=args.retry_topic,
            formats=True,
            conventions=args.conventions,
            origins=not args.no_origin_topics,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
