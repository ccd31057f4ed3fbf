"""What the demo DLQ holds, as plain records (no Kafka here): built by `demo_records`."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from fastavro import parse_schema, schemaless_writer

DLQ_TOPIC = "order-canceled-dead-letter-queue"
RETRY_TOPIC = "order-canceled-retry-1"
ORIGINAL_TOPIC = "order-canceled"
GROUP = "order-canceled-consumer"
PARTITIONS = 3

# The seed article's three orders, in its order.
ARTICLE_ORDERS = [
    ("ORD001", "Ordered too large a quantity"),
    ("ORD002", "Ordered the wrong product"),
    ("ORD003", "Don't want this anymore"),
]
REASONS = [
    "Ordered too large a quantity",
    "Ordered the wrong product",
    "Don't want this anymore",
    "Found a cheaper offer",
    "Delivery date too late",
    "Duplicate order",
    "Wrong paper format chosen",
    "Artwork not approved in time",
]
FAILURES = [
    (
        "org.springframework.kafka.listener.ListenerExecutionFailedException",
        "java.net.SocketTimeoutException",
        "Listener failed; nested exception is java.net.SocketTimeoutException: Read timed out",
    ),
    (
        "org.springframework.kafka.listener.ListenerExecutionFailedException",
        "com.flyeralarm.crm.OrderNotFoundException",
        "Order not found in CRM",
    ),
    (
        "org.springframework.kafka.listener.ListenerExecutionFailedException",
        "org.springframework.dao.DataIntegrityViolationException",
        "could not execute statement; constraint [order_state_check]",
    ),
    (
        "org.springframework.kafka.listener.ListenerExecutionFailedException",
        "java.util.concurrent.TimeoutException",
        "Timeout waiting for manufacturing service after 30000 ms",
    ),
]
ANSI_REASON = (
    "\x1b[2J\x1b[H\x1b[31mSYSTEM COMPROMISED\x1b[0m [bold red]not markup[/bold red] [link=http://x]y[/link]"
)


@dataclass
class DemoRecord:
    partition: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    note: str = ""


def order_canceled_schema() -> dict[str, Any]:
    text = resources.files("dlq_tui.demo").joinpath("order_canceled.avsc").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def wire_avro(schema_id: int, datum: dict[str, Any]) -> bytes:
    """Confluent wire format: magic 0, 4-byte schema id, Avro binary."""
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">i", schema_id))
    schemaless_writer(buf, parse_schema(order_canceled_schema()), datum)
    return buf.getvalue()


def spring_headers(
    original_partition: int, original_offset: int, original_ts: int, failure: tuple[str, str, str]
) -> list[tuple[str, bytes]]:
    fqcn, cause, message = failure
    trace = f"{fqcn}: {message}\n\tat com.flyeralarm.crm.OrderCanceledListener.onMessage(OrderCanceledListener.java:42)\n"
    return [
        ("kafka_dlt-original-topic", ORIGINAL_TOPIC.encode()),
        ("kafka_dlt-original-partition", struct.pack(">i", original_partition)),
        ("kafka_dlt-original-offset", struct.pack(">q", original_offset)),
        ("kafka_dlt-original-timestamp", struct.pack(">q", original_ts)),
        ("kafka_dlt-original-timestamp-type", b"CreateTime"),
        ("kafka_dlt-original-consumer-group", GROUP.encode()),
        ("kafka_dlt-exception-fqcn", fqcn.encode()),
        ("kafka_dlt-exception-cause-fqcn", cause.encode()),
        ("kafka_dlt-exception-message", message.encode()),
        ("kafka_dlt-exception-stacktrace", trace.encode()),
    ]


def connect_headers(original_partition: int, original_offset: int) -> list[tuple[str, bytes]]:
    return [
        ("__connect.errors.topic", ORIGINAL_TOPIC.encode()),
        ("__connect.errors.partition", str(original_partition).encode()),
        ("__connect.errors.offset", str(original_offset).encode()),
        ("__connect.errors.connector.name", b"crm-order-sink"),
        ("__connect.errors.task.id", b"0"),
        ("__connect.errors.stage", b"VALUE_CONVERTER"),
        ("__connect.errors.class.name", b"io.confluent.connect.avro.AvroConverter"),
        ("__connect.errors.exception.class.name", b"org.apache.kafka.connect.errors.DataException"),
        ("__connect.errors.exception.message", b"Failed to deserialize data for topic order-canceled"),
        ("__connect.errors.exception.stacktrace", b"org.apache.kafka.connect.errors.DataException: ..."),
    ]


def demo_records(schema_id: int, *, count: int = 300, now_ms: int) -> list[DemoRecord]:
    """`count` ordinary records plus the special ones, in produce order. The article's three orders
    come first, on partition 0, so they are offsets 0, 1, 2 there."""
    start = now_ms - 3 * 24 * 3600 * 1000
    step = (now_ms - start) // (count + 10)
    out: list[DemoRecord] = []
    for i in range(1, count + 1):
        number = f"ORD{i:03d}"
        if i <= len(ARTICLE_ORDERS):
            number, reason = ARTICLE_ORDERS[i - 1]
            partition = 0
        else:
            reason = REASONS[i % len(REASONS)]
            partition = i % PARTITIONS
        ts = start + i * step
        original_offset = 10_000 + i * 7
        headers = (
            connect_headers(partition, original_offset)
            if i % 25 == 0
            else spring_headers(partition, original_offset, ts - 60_000, FAILURES[i % len(FAILURES)])
        )
        value = wire_avro(schema_id, {"orderNumber": number, "reason": reason})
        out.append(DemoRecord(partition, number.encode(), value, ts, headers))

    ts = start + (count + 1) * step
    failure = FAILURES[0]
    out.append(
        DemoRecord(
            1,
            None,
            wire_avro(schema_id, {"orderNumber": "ORD-KEYLESS", "reason": "Produced without a key"}),
            ts,
            spring_headers(1, 99, ts, failure),
            note="keyless record",
        )
    )
    poison = b"\x00" + struct.pack(">i", schema_id) + b"\xfe\xff\xff\xff\x0fnot avro at all"
    out.append(
        DemoRecord(
            2, b"ORD-POISON", poison, ts + 1, spring_headers(2, 100, ts, failure), "poison: not valid Avro"
        )
    )
    out.append(
        DemoRecord(
            0,
            b"ORD-BAD-UTF8",
            b"order \xff\xfe\xfd canceled: caf\xe9",
            ts + 2,
            spring_headers(0, 101, ts, failure),
            "value is not valid UTF-8",
        )
    )
    out.append(
        DemoRecord(
            1,
            b"ORD-\x1b[7mANSI",
            wire_avro(schema_id, {"orderNumber": "ORD-ANSI", "reason": ANSI_REASON}),
            ts + 3,
            [*spring_headers(1, 102, ts, failure), ("x-note", b"\x1b]0;pwned\x07[bold]header[/bold]")],
            "terminal escapes and markup in key, value and a header",
        )
    )
    return out
