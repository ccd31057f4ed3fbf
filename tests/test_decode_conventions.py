"""Every DLQ header convention's names and encodings (no broker; the stack test reads them back
through Kafka)."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from dlq_tui.decode.dlq_headers import (
    CONVENTIONS,
    HEADERS,
    DlqInfo,
    header_display,
    is_dlq_header,
    parse_dlq_headers,
)

TS = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z


def i32(n: int) -> bytes:
    return struct.pack(">i", n)


def i64(n: int) -> bytes:
    return struct.pack(">q", n)


def test_spring_retry_topic_headers() -> None:
    info = parse_dlq_headers(
        [
            ("kafka_original-topic", b"pricing"),
            ("kafka_original-partition", i32(2)),
            ("kafka_original-offset", i64(2**33)),
            ("kafka_original-timestamp", i64(TS)),
            ("kafka_original-consumer-group", b"pricing-app"),
            ("kafka_exception-fqcn", b"ListenerExecutionFailedException"),
            ("kafka_exception-cause-fqcn", b"java.net.ConnectException"),
            ("kafka_exception-message", b"first attempt"),
            ("kafka_exception-message", b"last attempt"),  # repeated: the last one wins
            ("kafka_exception-stacktrace", b"trace"),
            ("retry_topic-attempts", i32(4)),
            ("retry_topic-original-timestamp", (TS).to_bytes(6, "big")),  # BigInteger.toByteArray
            ("retry_topic-backoff-timestamp", (TS + 5000).to_bytes(6, "big")),
        ]
    )
    assert info.source == "spring-retry" and info.convention_name == "Spring Kafka retry topics"
    assert (info.original_topic, info.original_partition, info.original_offset) == ("pricing", 2, 2**33)
    assert info.original_timestamp == TS and info.consumer_group == "pricing-app"
    assert info.exception_class == "ListenerExecutionFailedException"
    assert info.root_cause_class == "java.net.ConnectException"
    assert info.exception_message == "last attempt" and info.stack_trace == "trace"
    assert info.attempts == 4
    extras = dict(info.extras)
    assert extras["first failure"] == f"{TS} (2026-01-01T00:00:00.123Z)"
    assert extras["next attempt"] == f"{TS + 5000} (2026-01-01T00:00:05.123Z)"


def test_spring_retry_attempts_one_byte_in_old_versions() -> None:
    assert parse_dlq_headers([("retry_topic-attempts", b"\x03")]).attempts == 3
    assert parse_dlq_headers([("retry_topic-attempts", i32(3))]).attempts == 3
    assert header_display("retry_topic-attempts", b"\x03") == "3"
    bad = parse_dlq_headers([("retry_topic-attempts", b"\x00" * 9)])
    assert bad.attempts is None and bad.notes[0].startswith("retry_topic-attempts: expected a 1 to 8-byte")


def test_spring_cloud_stream_headers() -> None:
    info = parse_dlq_headers(
        [
            ("x-original-topic", b"payments"),
            ("x-original-partition", i32(1)),
            ("x-original-offset", i64(77)),
            ("x-original-timestamp", i64(TS)),
            ("x-original-timestamp-type", b"CreateTime"),
            ("x-exception-fqcn", b"org.springframework.messaging.MessageHandlingException"),
            ("x-exception-message", b"amount 12 exceeds limit"),
            ("x-exception-stacktrace", b"at ..."),
        ]
    )
    assert info.source == "scst"
    assert (info.original_topic, info.original_partition, info.original_offset) == ("payments", 1, 77)
    assert info.original_timestamp == TS and info.original_timestamp_type == "CreateTime"
    assert (
        info.error_text() == "org.springframework.messaging.MessageHandlingException: amount 12 exceeds limit"
    )
    assert header_display("x-original-offset", i64(77)) == "77"
    assert header_display("x-original-timestamp", i64(TS)) == f"{TS} (2026-01-01T00:00:00.123Z)"
    wrong = parse_dlq_headers([("x-original-partition", b"1")])  # text where the binder writes 4 bytes
    assert wrong.original_partition is None and "expected a 4-byte" in wrong.notes[0]


def test_smallrye_headers_text_numbers() -> None:
    info = parse_dlq_headers(
        [
            ("dead-letter-exception-class-name", b"jakarta.persistence.OptimisticLockException"),
            ("dead-letter-cause-class-name", b"org.hibernate.StaleObjectStateException"),
            ("dead-letter-reason", b"Row was updated"),
            ("dead-letter-cause", b"Batch update returned unexpected row count"),
            ("dead-letter-topic", b"invoices"),
            ("dead-letter-partition", b"2"),
            ("dead-letter-offset", b"300"),
            ("delayed-retry-count", b"3"),
            ("delayed-retry-topic", b"older-topic"),  # the dead-letter-* header wins
        ]
    )
    assert info.source == "smallrye"
    assert (info.original_topic, info.original_partition, info.original_offset) == ("invoices", 2, 300)
    assert info.root_cause_class == "org.hibernate.StaleObjectStateException"
    assert info.exception_message == "Row was updated" and info.attempts == 3
    assert dict(info.extras)["cause message"] == "Batch update returned unexpected row count"
    only_delayed = parse_dlq_headers([("delayed-retry-topic", b"t"), ("delayed-retry-offset", b"9")])
    assert (only_delayed.original_topic, only_delayed.original_offset) == ("t", 9)
    bad = parse_dlq_headers([("dead-letter-offset", i64(9))])
    assert bad.original_offset is None and "expected a decimal number" in bad.notes[0]


def test_kafka_streams_headers() -> None:
    info = parse_dlq_headers(
        [
            ("__streams.errors.exception", b"org.apache.kafka.common.errors.SerializationException"),
            ("__streams.errors.message", b"Error deserializing"),
            ("__streams.errors.stacktrace", b"at ..."),
            ("__streams.errors.topic", b"shipments"),
            ("__streams.errors.partition", b"5"),
            ("__streams.errors.offset", b"120011"),
        ]
    )
    assert info.source == "streams" and info.convention_name == "Kafka Streams"
    assert (info.original_topic, info.original_partition, info.original_offset) == ("shipments", 5, 120011)
    assert info.error_text() == "org.apache.kafka.common.errors.SerializationException: Error deserializing"


def test_karafka_headers_old_and_new_names() -> None:
    new = parse_dlq_headers(
        [
            ("source_topic", b"orders"),
            ("source_partition", b"1"),
            ("source_offset", b"42"),
            ("source_consumer_group", b"app"),
            ("source_attempts", b"3"),
            ("original_topic", b"ignored-when-source-present"),
        ]
    )
    assert new.source == "karafka"
    assert (new.original_topic, new.original_partition, new.original_offset) == ("orders", 1, 42)
    assert new.consumer_group == "app" and new.attempts == 3 and new.exception_class is None
    old = parse_dlq_headers([("original_topic", b"orders"), ("original_offset", b"7")])
    assert (old.source, old.original_topic, old.original_offset) == ("karafka", "orders", 7)


def test_convention_precedence_when_headers_mix() -> None:
    info = parse_dlq_headers(
        [
            ("retry_topic-attempts", b"\x02"),
            ("kafka_dlt-original-topic", b"orders"),
            ("kafka_dlt-exception-fqcn", b"DltException"),
            ("kafka_exception-fqcn", b"RetryException"),
        ]
    )
    assert info.source == "spring"
    assert info.exception_class == "DltException"  # the DLT headers come first
    assert info.attempts == 2  # only the retry topic headers have it


def test_spring_cloud_stream_with_spring_dlt_cause_headers_is_scst() -> None:
    # The binder's DeadLetterPublishingRecoverer mixes its x-* names with a few kafka_dlt-* ones.
    info = parse_dlq_headers(
        [
            ("x-original-topic", b"payments"),
            ("x-exception-fqcn", b"MessagingException"),
            ("kafka_dlt-exception-cause-fqcn", b"java.lang.ArithmeticException"),
            ("kafka_dlt-original-consumer-group", b"payments-app"),
        ]
    )
    assert info.source == "scst"
    assert (info.exception_class, info.root_cause_class, info.consumer_group) == (
        "MessagingException",
        "java.lang.ArithmeticException",
        "payments-app",
    )


def test_a_null_last_header_clears_the_field() -> None:
    info = parse_dlq_headers([("dead-letter-topic", b"a"), ("dead-letter-topic", None)])
    assert info.original_topic is None and info.source == "smallrye"


def test_every_known_header_is_listed_with_its_convention() -> None:
    assert {spec.convention for spec in HEADERS.values()} == set(CONVENTIONS)
    assert is_dlq_header("x-original-offset") and not is_dlq_header("traceparent")


def test_no_headers_no_convention() -> None:
    assert parse_dlq_headers([]) == DlqInfo()


_NAMES = st.sampled_from([*HEADERS, "other"])


@given(st.lists(st.tuples(_NAMES, st.none() | st.binary(max_size=12)), max_size=10))
def test_fuzz_every_convention_never_raises(headers: list[tuple[str, bytes | None]]) -> None:
    info = parse_dlq_headers(headers)
    info.error_text()
    info.fields()
    info.fingerprint()
    for name, value in headers:
        assert isinstance(header_display(name, value), str)
