"""Test helpers around the real stack: start/reuse it, make topics, and read topics back with kcat,
the independent client that witnesses what dlq-tui wrote."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK_SCRIPT = ROOT / "compose" / "stack"


# The seed article's command line, word for word, with dlq-tui in place of kafka-merge-purge.
SEED_COMMAND_LINE = [
    "ask",
    "-b",
    "localhost:9092",
    "-c",
    "schema.registry.url=http://localhost:8081",
    "-g",
    "order-canceled-consumer",
    "-t",
    "-a",
    "order-canceled-dead-letter-queue",
    "order-canceled-retry-1",
]


@dataclass(frozen=True)
class Stack:
    bootstrap: str
    registry_url: str  # the Confluent-compatible base URL (Apicurio: .../apis/ccompat/v7)
    registry_root: str  # the server root, as an engineer would pass schema.registry.url
    sasl_bootstrap: str  # SASL_PLAINTEXT/PLAIN listener with ACLs: admin/admin-secret, alice/alice-secret


def _answers(hostport: str) -> bool:
    host, port = hostport.rsplit(":", 1)
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=1):
        return True
    return False


@contextlib.contextmanager
def ensure_stack() -> Iterator[Stack]:
    kafka_port = os.environ.get("DLQ_TUI_KAFKA_PORT", "9092")
    registry_port = os.environ.get("DLQ_TUI_REGISTRY_PORT", "8081")
    bootstrap = os.environ.get("DLQ_TUI_TEST_BOOTSTRAP", f"127.0.0.1:{kafka_port}")
    root = f"http://127.0.0.1:{registry_port}"
    registry = os.environ.get("DLQ_TUI_TEST_REGISTRY_URL", f"{root}/apis/ccompat/v7")
    sasl = os.environ.get(
        "DLQ_TUI_TEST_SASL_BOOTSTRAP", f"127.0.0.1:{os.environ.get('DLQ_TUI_SASL_PORT', '9094')}"
    )
    started = False
    if not (_answers(bootstrap) and _answers(f"127.0.0.1:{registry_port}")):
        subprocess.run([str(STACK_SCRIPT), "up"], check=True)
        started = True
    try:
        yield Stack(bootstrap=bootstrap, registry_url=registry, registry_root=root, sasl_bootstrap=sasl)
    finally:
        if started:
            subprocess.run([str(STACK_SCRIPT), "down"], check=False)


def unique_name(hint: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", hint).strip("-")[:40]
    return f"t-{slug}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class KcatRecord:
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def _latin1(text: str | None) -> bytes | None:
    # kcat -J escapes bytes below 0x20 as \u00XX and writes the others raw; read as latin-1, every
    # JSON string maps back to its exact bytes.
    return None if text is None else text.encode("latin-1")


def _stable_in_time(bootstrap: str, topic: str, bound: float) -> bool:
    """Whether read_committed readers can read every partition of `topic` to its end within
    `bound` seconds. A commit returns once the coordinator decided it; its markers reach the
    partitions a moment later, and until then a read_committed kcat ends early. (A transaction a
    test leaves open on purpose keeps it unstable: then False after `bound`.)"""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def check() -> bool:
        consumers = [
            AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=level)
            for level in ("read_committed", "read_uncommitted")
        ]
        for c in consumers:
            await c.start()
        try:
            tps = [TopicPartition(topic, p) for p in sorted(consumers[0].partitions_for_topic(topic) or ())]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + bound
            while True:
                stable, end = [await c.end_offsets(tps) for c in consumers]
                if stable == end:
                    return True
                if loop.time() >= deadline:
                    return False
                await asyncio.sleep(0.02)
        finally:
            for c in consumers:
                await c.stop()

    with ThreadPoolExecutor(1) as pool:  # callers may be inside a running event loop
        return pool.submit(asyncio.run, check()).result()


def kcat_read(
    bootstrap: str, topic: str, *, read_committed: bool = True, partition: int | None = None
) -> list[KcatRecord]:
    """Every record of `topic` (all partitions, or one), as kcat sees it. Reading committed
    records, it first waits (up to 3 s) for the last transaction's markers."""
    if read_committed:
        _stable_in_time(bootstrap, topic, 3.0)
    cmd = ["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J"]
    if partition is not None:
        cmd += ["-p", str(partition)]
    if read_committed:
        cmd += ["-X", "isolation.level=read_committed"]
    out = subprocess.run(cmd, check=True, capture_output=True, timeout=60).stdout
    records = []
    for line in out.decode("latin-1").split("\n"):  # not splitlines(): \x85 and \x1c are data
        if not line.strip():
            continue
        obj = json.loads(line)
        raw_headers = obj.get("headers") or []
        headers = [
            (raw_headers[i].encode("latin-1").decode("utf-8"), _latin1(raw_headers[i + 1]) or b"")
            for i in range(0, len(raw_headers), 2)
        ]
        records.append(
            KcatRecord(
                partition=obj["partition"],
                offset=obj["offset"],
                timestamp=obj["ts"],
                key=_latin1(obj.get("key")),
                value=_latin1(obj.get("payload")),
                headers=headers,
            )
        )
    return sorted(records, key=lambda r: (r.partition, r.offset))


def kcat_topics(bootstrap: str) -> set[str]:
    out = subprocess.run(
        ["kcat", "-b", bootstrap, "-L", "-J"], check=True, capture_output=True, timeout=30
    ).stdout
    return {t["topic"] for t in json.loads(out)["topics"]}


async def create_topic(
    bootstrap: str, name: str, partitions: int = 1, config: dict[str, str] | None = None
) -> None:
    """Create a topic and wait until every partition has a leader."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from dlq_tui.demo.__main__ import wait_for_leaders

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=config or {})])
    finally:
        await admin.close()
    await wait_for_leaders(bootstrap, [name])


@dataclass(frozen=True)
class Rec:
    key: bytes | None
    value: bytes | None
    partition: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: int | None = None


async def produce(bootstrap: str, topic: str, records: list[Rec]) -> list[tuple[int, int]]:
    """Produce in order; returns (partition, offset) of each record."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        out = []
        for r in records:
            md = await producer.send_and_wait(
                topic, r.value, key=r.key, partition=r.partition, headers=r.headers, timestamp_ms=r.timestamp
            )
            out.append((md.partition, md.offset))
        return out
    finally:
        await producer.stop()


async def group_offsets(bootstrap: str, group: str, topic: str) -> dict[int, tuple[int, str]]:
    """The group's committed (offset, metadata) per partition of `topic`."""
    from aiokafka.admin import AIOKafkaAdminClient

    from dlq_tui.kafka.admin import retrying

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        result = await retrying(lambda: admin.list_consumer_group_offsets(group))
    finally:
        await admin.close()
    return {tp.partition: (om.offset, om.metadata) for tp, om in result.items() if tp.topic == topic}
