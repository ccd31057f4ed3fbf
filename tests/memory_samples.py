"""Realistic dead letter queue records for the app's tests on the in-memory engine (no Kafka).

`sample_records()` is a DLQ of an `order-canceled` consumer as Spring Kafka's
`DeadLetterPublishingRecoverer` writes it: `kafka_dlt-*` headers (partition as a 4-byte int,
offsets and timestamps as 8-byte longs), Avro values in the Confluent wire format (schema id
`SCHEMA_ID`, in `SCHEMAS`) and JSON values, spread over three partitions that arrive interleaved,
plus the records a DLQ collects that break naive tools: a keyless record, a tombstone, a poison
record (wire header, then bytes that are not Avro), hostile payloads (terminal escapes, OSC 52,
Rich markup, bidi overrides, invalid UTF-8) and a 1 MB value.

The keys say what a record is (`ORD-POISON`, `ORD-HOSTILE`, ...) so a test can filter to one.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

from fastavro import parse_schema, schemaless_writer

from dlq_tui.decode.registry import RegisteredSchema
from dlq_tui.triage.records import Header, RawRecord

__all__ = [
    "BIG_VALUE_BYTES",
    "HOSTILE_TEXTS",
    "NOW_MS",
    "SCHEMAS",
    "SCHEMA_ID",
    "compacted_records",
    "ordinary_records",
    "sample_records",
]

SCHEMA_ID = 42
ORIGINAL_TOPIC = "orders-canceled"
ORIGINAL_GROUP = "orders-consumer"
NOW_MS = 1_793_610_000_000  # 2026-11-02 09:00:00 UTC: every timestamp is before it
BIG_VALUE_BYTES = 1024 * 1024

ORDER_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "OrderCanceled",
    "namespace": "com.example.orders",
    "fields": [
        {"name": "orderNumber", "type": "string"},
        {"name": "reason", "type": "string"},
        {"name": "amountCents", "type": "long", "default": 0},
    ],
}
SCHEMAS = {
    SCHEMA_ID: RegisteredSchema(
        SCHEMA_ID, "AVRO", json.dumps(ORDER_SCHEMA), parse_schema(ORDER_SCHEMA), "orders-dlq-value"
    )
}

TIMEOUT = (
    "org.springframework.kafka.listener.ListenerExecutionFailedException",
    "java.net.SocketTimeoutException",
    "Listener failed; nested exception is java.net.SocketTimeoutException: Read timed out",
)
NOT_FOUND = (
    "org.springframework.kafka.listener.ListenerExecutionFailedException",
    "com.example.crm.OrderNotFoundException",
    "Order not found in CRM",
)
CONSTRAINT = (
    "org.springframework.kafka.listener.ListenerExecutionFailedException",
    "org.springframework.dao.DataIntegrityViolationException",
    "could not execute statement; constraint [order_state_check]",
)

# What an attacker who can produce to the source topic might put in a record to take over the
# on-call engineer's terminal: screen clear, colours, OSC 52 (write the clipboard), OSC 0 (window
# title), Textual/Rich markup (an action link that quits the app), a bidi override.
ESC = "\x1b"
HOSTILE_TEXTS = {
    "clear": f"{ESC}[2J{ESC}[H",
    "colour": f"{ESC}[31mSYSTEM COMPROMISED{ESC}[0m",
    "osc52": f"{ESC}]52;c;ZWNobyBwd25lZA=={ESC}\\",
    "title": f"{ESC}]0;pwned\x07",
    "markup": "[bold]loud[/bold] [@click=app.quit]click me[/] [link=http://evil.example]x[/link]",
    "bidi": "invoice\u202etxt.exe",
}


def spring_headers(
    partition: int, offset: int, timestamp: int, failure: tuple[str, str, str]
) -> tuple[Header, ...]:
    """The headers Spring Kafka's DeadLetterPublishingRecoverer adds (binary ints and longs)."""
    fqcn, cause, message = failure
    trace = f"{fqcn}: {message}\n\tat com.example.orders.OrderCanceledListener.onMessage(OrderCanceledListener.java:42)\n"
    return (
        ("kafka_dlt-original-topic", ORIGINAL_TOPIC.encode()),
        ("kafka_dlt-original-partition", struct.pack(">i", partition)),
        ("kafka_dlt-original-offset", struct.pack(">q", offset)),
        ("kafka_dlt-original-timestamp", struct.pack(">q", timestamp)),
        ("kafka_dlt-original-timestamp-type", b"CreateTime"),
        ("kafka_dlt-original-consumer-group", ORIGINAL_GROUP.encode()),
        ("kafka_dlt-exception-fqcn", fqcn.encode()),
        ("kafka_dlt-exception-cause-fqcn", cause.encode()),
        ("kafka_dlt-exception-message", message.encode()),
        ("kafka_dlt-exception-stacktrace", trace.encode()),
    )


def wire_avro(datum: dict[str, Any], schema_id: int = SCHEMA_ID) -> bytes:
    """Confluent wire format: magic byte 0, the 4-byte schema id, Avro binary."""
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">i", schema_id))
    schemaless_writer(buf, SCHEMAS[SCHEMA_ID].parsed, datum)
    return buf.getvalue()


class _Builder:
    """Numbers offsets per partition in the order records are added (the arrival order)."""

    def __init__(self) -> None:
        self.records: list[RawRecord] = []
        self._next: dict[int, int] = {}
        self._ts = NOW_MS - 6 * 3600 * 1000

    def add(
        self,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        failure: tuple[str, str, str] = TIMEOUT,
        extra_headers: tuple[Header, ...] = (),
    ) -> None:
        offset = self._next.get(partition, 0)
        self._next[partition] = offset + 1
        self._ts += 97_000
        headers = spring_headers(partition, 5_000 + offset * 3, self._ts - 60_000, failure)
        self.records.append(RawRecord(partition, offset, self._ts, 0, key, value, headers + extra_headers))


def ordinary_records(count: int, *, partitions: int = 3, avro: bool = True) -> list[RawRecord]:
    """`count` ordinary orders `ORD001...` round-robin over `partitions`, Avro (or JSON) values;
    every third failed with a timeout, the others alternate not-found and a constraint."""
    b = _Builder()
    for i in range(1, count + 1):
        failure = TIMEOUT if i % 3 == 0 else (NOT_FOUND if i % 2 else CONSTRAINT)
        datum = {"orderNumber": f"ORD{i:03d}", "reason": "Ordered the wrong product", "amountCents": i * 100}
        value = wire_avro(datum) if avro else json.dumps(datum).encode()
        b.add((i - 1) % partitions, f"ORD{i:03d}".encode(), value, failure)
    return b.records


def _build_samples() -> _Builder:
    b = _Builder()
    reasons = ["Ordered the wrong product", "Found a cheaper offer", "Duplicate order", "Delivery too late"]
    failures = [TIMEOUT, NOT_FOUND, CONSTRAINT]
    # Six Avro orders and four JSON ones, interleaved over partitions 0, 1, 2.
    for i in range(1, 7):
        datum = {"orderNumber": f"ORD00{i}", "reason": reasons[i % 4], "amountCents": 1999 + i}
        b.add((i - 1) % 3, f"ORD00{i}".encode(), wire_avro(datum), failures[i % 3])
    for i in range(1, 5):
        value = json.dumps({"orderNumber": f"ORD-J{i}", "reason": reasons[i % 4], "items": [i, i + 1]})
        b.add(i % 3, f"ORD-J{i}".encode(), value.encode(), failures[(i + 1) % 3])
    b.add(
        1,
        None,
        wire_avro({"orderNumber": "ORD-KEYLESS", "reason": "Produced without a key", "amountCents": 1}),
    )
    b.add(2, b"ORD-TOMB", None, NOT_FOUND)
    poison = b"\x00" + struct.pack(">i", SCHEMA_ID) + b"\xfe\xff\xff\xff\x0fnot avro at all"
    b.add(0, b"ORD-POISON", poison, CONSTRAINT)
    # Hostile JSON: the control characters arrive JSON-escaped, the markup and bidi as they are;
    # the key and a header carry raw escapes.
    hostile = {"orderNumber": "ORD-HOSTILE", "reason": " ".join(HOSTILE_TEXTS.values())}
    b.add(
        1,
        f"ORD-HOSTILE{ESC}[7m".encode(),
        json.dumps(hostile, ensure_ascii=False).encode(),
        TIMEOUT,
        (("x-note", f"{HOSTILE_TEXTS['title']}{HOSTILE_TEXTS['markup']}".encode()),),
    )
    # A plain-text value with the raw escape sequences in it.
    b.add(1, b"ORD-ANSI", ("order canceled " + " ".join(HOSTILE_TEXTS.values())).encode(), NOT_FOUND)
    b.add(2, b"ORD-BADUTF8", b"order \xff\xfe\xfd canceled: caf\xe9", TIMEOUT)
    big = ("x" * (BIG_VALUE_BYTES - 40)).join(['{"orderNumber": "ORD-BIG", "blob": "', '"}'])
    b.add(0, b"ORD-BIG", big.encode(), NOT_FOUND)
    return b


def sample_records() -> list[RawRecord]:
    """The sample DLQ: 17 records over partitions 0-2, in arrival order (interleaved). By
    partition and offset, as the table lists them:

    - p0: 0 ORD001, 1 ORD004 (Avro), 2 ORD-J3 (JSON), 3 ORD-POISON, 4 ORD-BIG (1 MB JSON)
    - p1: 0 ORD002, 1 ORD005, 2 ORD-J1, 3 ORD-J4, 4 keyless (Avro), 5 ORD-HOSTILE (JSON), 6 ORD-ANSI
    - p2: 0 ORD003, 1 ORD006, 2 ORD-J2, 3 ORD-TOMB (null value: the app hides it), 4 ORD-BADUTF8

    Six fail with a timeout (`error:*Timeout*`): ORD003, ORD006, ORD-KEYLESS, ORD-HOSTILE,
    ORD-BADUTF8 and ORD-J2."""
    return _build_samples().records


def compacted_records() -> list[RawRecord]:
    """A compacted DLQ (one partition): `ORD-A` twice (offsets 0 and 2), `ORD-B` once, and a
    keyless record. Purging `ORD-A`@0 alone must withhold its tombstone, or the tombstone would
    delete the newer `ORD-A`@2 that is still unresolved."""
    b = _Builder()
    b.add(0, b"ORD-A", b'{"orderNumber": "ORD-A", "v": 1}')
    b.add(0, b"ORD-B", b'{"orderNumber": "ORD-B", "v": 1}')
    b.add(0, b"ORD-A", b'{"orderNumber": "ORD-A", "v": 2}')
    b.add(0, None, b'{"orderNumber": "ORD-NOKEY"}')
    return b.records
