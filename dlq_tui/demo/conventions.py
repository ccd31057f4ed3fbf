"""Demo and test records from every DLQ header convention (no Kafka here).

Each convention gets one failure kind, with ids and numbers that vary per record in the messages,
written with that framework's exact header names and encodings (binary ints and longs, Java
``BigInteger`` bytes, text numbers, a repeated header, a Java-serialized exception). So
``dlq-tui groups`` on them shows one group per failure kind.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

from dlq_tui.demo.data import DemoRecord

__all__ = [
    "FAILURE_KINDS",
    "ConventionRecord",
    "convention_records",
    "demo_convention_records",
    "deserialization_exception_bytes",
]

Headers = list[tuple[str, bytes]]


@dataclass
class ConventionRecord:
    convention: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


def _i32(n: int) -> bytes:
    return struct.pack(">i", n)


def _i64(n: int) -> bytes:
    return struct.pack(">q", n)


def _bigint(n: int) -> bytes:
    """Java's ``BigInteger.valueOf(n).toByteArray()``: minimal two's complement, big-endian."""
    length = max(1, (n.bit_length() + 8) // 8)
    return n.to_bytes(length, "big", signed=True)


def deserialization_exception_bytes() -> bytes:
    """A Java-serialized Spring `DeserializationException` written by a real JVM (see
    tests/java/SpringDeserializationException.java), as ``springDeserializerExceptionValue`` holds."""
    return resources.files("dlq_tui.demo").joinpath("deserialization_exception.ser").read_bytes()


def _order(n: int) -> bytes:
    return json.dumps({"orderNumber": f"ORD{n:05d}", "reason": "demo"}).encode()


def _spring_retry(i: int, ts: int) -> ConventionRecord:
    attempts = 3 + i % 3
    # Spring Kafka before 2.9 wrote the attempts as one byte; later versions as a 4-byte int.
    attempts_bytes = bytes([attempts]) if i % 2 else _i32(attempts)
    return ConventionRecord(
        "spring-retry",
        f"ORD{i:05d}".encode(),
        _order(i),
        [
            ("kafka_original-topic", b"pricing-requests"),
            ("kafka_original-partition", _i32(i % 4)),
            ("kafka_original-offset", _i64(50_000 + 13 * i)),
            ("kafka_original-timestamp", _i64(ts - 90_000)),
            ("kafka_original-timestamp-type", b"CREATE_TIME"),
            ("kafka_original-consumer-group", b"pricing-consumer"),
            ("kafka_exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
            ("kafka_exception-cause-fqcn", b"org.springframework.web.client.HttpServerErrorException"),
            # an earlier attempt's message, then the last one (the last one counts)
            ("kafka_exception-message", f"503 Service Unavailable from pricing:8080 ({i})".encode()),
            (
                "kafka_exception-message",
                f"500 Internal Server Error from POST http://pricing:8080/orders/ORD{i:05d}".encode(),
            ),
            (
                "kafka_exception-stacktrace",
                b"org.springframework.web.client.HttpServerErrorException: 500\n\tat ...",
            ),
            ("retry_topic-attempts", attempts_bytes),
            ("retry_topic-original-timestamp", _bigint(ts - 90_000)),
            ("retry_topic-backoff-timestamp", _bigint(ts + 30_000)),
        ],
    )


def _spring_deser(i: int, ts: int) -> ConventionRecord:
    blob = deserialization_exception_bytes()
    return ConventionRecord(
        "spring-deser",
        f"ORD{i:05d}".encode(),
        b'{"orderNumber":"ORD-DESER","reason":"Ordered too',
        [("springDeserializerExceptionValue", blob), ("kafka_dlt-original-topic", b"order-canceled")],
    )


def _scst(i: int, ts: int) -> ConventionRecord:
    amount = 1000 + 37 * i
    return ConventionRecord(
        "scst",
        f"PAY-{i:06d}".encode(),
        json.dumps({"payment": i, "amount": amount}).encode(),
        [
            ("x-original-topic", b"payment-events"),
            ("x-original-partition", _i32(i % 2)),
            ("x-original-offset", _i64(7_000 + i)),
            ("x-original-timestamp", _i64(ts - 45_000)),
            ("x-original-timestamp-type", b"CreateTime"),
            ("x-exception-fqcn", b"org.springframework.messaging.MessageHandlingException"),
            (
                "x-exception-message",
                f"error occurred in message handler [bean 'paymentHandler']; amount {amount} exceeds limit 5000".encode(),
            ),
            (
                "x-exception-stacktrace",
                b"org.springframework.messaging.MessageHandlingException: ...\n\tat ...",
            ),
        ],
    )


def _smallrye(i: int, ts: int) -> ConventionRecord:
    return ConventionRecord(
        "smallrye",
        f"INV-{i:05d}".encode(),
        json.dumps({"invoice": f"INV-{i:05d}"}).encode(),
        [
            ("dead-letter-exception-class-name", b"jakarta.persistence.OptimisticLockException"),
            ("dead-letter-cause-class-name", b"org.hibernate.StaleObjectStateException"),
            (
                "dead-letter-reason",
                f"Row was updated or deleted by another transaction: [com.acme.Invoice#{9000 + i}]".encode(),
            ),
            ("dead-letter-cause", f"Batch update returned unexpected row count: {i % 3}".encode()),
            ("dead-letter-topic", b"invoices"),
            ("dead-letter-partition", str(i % 3).encode()),
            ("dead-letter-offset", str(300 + i).encode()),
            ("delayed-retry-count", str(2 + i % 2).encode()),
        ],
    )


def _streams(i: int, ts: int) -> ConventionRecord:
    offset = 120_000 + 11 * i
    return ConventionRecord(
        "streams",
        f"SHP-{i:05d}".encode(),
        b"\x00\x00\x00\x00\x07garbled shipment",
        [
            ("__streams.errors.exception", b"org.apache.kafka.common.errors.SerializationException"),
            (
                "__streams.errors.message",
                f"Error deserializing key/value for partition shipments-{i % 6} at offset {offset}".encode(),
            ),
            (
                "__streams.errors.stacktrace",
                b"org.apache.kafka.common.errors.SerializationException: ...\n\tat ...",
            ),
            ("__streams.errors.topic", b"shipments"),
            ("__streams.errors.partition", str(i % 6).encode()),
            ("__streams.errors.offset", str(offset).encode()),
        ],
    )


def _karafka(i: int, ts: int) -> ConventionRecord:
    # Karafka writes no exception: these group by their origin topic. Before 2.5: original_*.
    prefix = "source_" if i % 2 else "original_"
    headers = [
        (f"{prefix}topic", b"legacy-orders"),
        (f"{prefix}partition", str(i % 2).encode()),
        (f"{prefix}offset", str(40 + i).encode()),
        (f"{prefix}consumer_group", b"legacy-orders-app"),
    ]
    if prefix == "source_":
        headers.append(("source_attempts", str(1 + i % 4).encode()))
    return ConventionRecord("karafka", f"LEG-{i:04d}".encode(), json.dumps({"legacy": i}).encode(), headers)


def _connect(i: int, ts: int) -> ConventionRecord:
    offset = 880 + i
    return ConventionRecord(
        "connect",
        f"CRM-{i:05d}".encode(),
        b"\x00\x00\x00\x00\x2a not avro",
        [
            ("__connect.errors.topic", b"crm-contacts"),
            ("__connect.errors.partition", str(i % 3).encode()),
            ("__connect.errors.offset", str(offset).encode()),
            ("__connect.errors.connector.name", b"crm-contacts-sink"),
            ("__connect.errors.task.id", str(i % 2).encode()),
            ("__connect.errors.stage", b"VALUE_CONVERTER"),
            ("__connect.errors.class.name", b"io.confluent.connect.avro.AvroConverter"),
            ("__connect.errors.exception.class.name", b"org.apache.kafka.connect.errors.DataException"),
            (
                "__connect.errors.exception.message",
                f"Failed to deserialize data for topic crm-contacts to Avro: Unknown magic byte at offset {offset}".encode(),
            ),
            (
                "__connect.errors.exception.stacktrace",
                b"org.apache.kafka.connect.errors.DataException: ...\n\tat ...",
            ),
        ],
    )


def _spring_dlt(i: int, ts: int) -> ConventionRecord:
    return ConventionRecord(
        "spring",
        f"ORD{i:05d}".encode(),
        _order(i),
        [
            ("kafka_dlt-original-topic", b"order-canceled"),
            ("kafka_dlt-original-partition", _i32(i % 3)),
            ("kafka_dlt-original-offset", _i64(10_000 + 7 * i)),
            ("kafka_dlt-original-timestamp", _i64(ts - 60_000)),
            ("kafka_dlt-original-timestamp-type", b"CREATE_TIME"),
            ("kafka_dlt-original-consumer-group", b"order-canceled-consumer"),
            (
                "kafka_dlt-exception-fqcn",
                b"org.springframework.kafka.listener.ListenerExecutionFailedException",
            ),
            ("kafka_dlt-exception-cause-fqcn", b"com.flyeralarm.crm.OrderNotFoundException"),
            (
                "kafka_dlt-exception-message",
                f"Order ORD{i:05d} not found in CRM (customer {4000 + i})".encode(),
            ),
        ],
    )


def _no_headers(i: int, ts: int) -> ConventionRecord:
    return ConventionRecord(
        "", f"RAW-{i:03d}".encode(), b"parked by hand", [("traceparent", f"00-{i:032x}-01".encode())]
    )


FAILURE_KINDS: dict[str, Callable[[int, int], ConventionRecord]] = {
    "spring": _spring_dlt,
    "spring-retry": _spring_retry,
    "spring-deser": _spring_deser,
    "scst": _scst,
    "smallrye": _smallrye,
    "streams": _streams,
    "karafka": _karafka,
    "connect": _connect,
    "": _no_headers,
}
"""One failure kind per convention ('' = a record without DLQ headers): (i, timestamp) -> record."""


def convention_records(per_kind: int, now_ms: int, *, first: int = 1) -> list[ConventionRecord]:
    """`per_kind` records of every failure kind, interleaved, numbered from `first`."""
    out = []
    for i in range(first, first + per_kind):
        for make in FAILURE_KINDS.values():
            out.append(make(i, now_ms - 1000 * (per_kind - i)))
    return out


def demo_convention_records(per_kind: int, start_ms: int, partitions: int) -> list[DemoRecord]:
    """`convention_records` as demo records, spread over the partitions, timestamps from `start_ms`."""
    return [
        DemoRecord(n % partitions, rec.key, rec.value, start_ms + n, rec.headers)
        for n, rec in enumerate(convention_records(per_kind, start_ms))
    ]
