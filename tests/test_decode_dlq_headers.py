import struct

from hypothesis import given
from hypothesis import strategies as st

from dlq_tui.decode.dlq_headers import DlqInfo, header_display, parse_dlq_headers

TS = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z

SPRING = (
    ("kafka_dlt-original-topic", b"invoice-voided"),
    ("kafka_dlt-original-partition", struct.pack(">i", 3)),
    ("kafka_dlt-original-offset", struct.pack(">q", 1234567890123)),
    ("kafka_dlt-original-timestamp", struct.pack(">q", TS)),
    ("kafka_dlt-original-timestamp-type", b"CREATE_TIME"),
    ("kafka_dlt-original-consumer-group", b"invoice-voided-consumer"),
    ("kafka_dlt-exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
    ("kafka_dlt-exception-cause-fqcn", b"java.net.SocketTimeoutException"),
    ("kafka_dlt-exception-message", "Timeout talking to wärehouse".encode()),
    ("kafka_dlt-exception-stacktrace", b"java.net.SocketTimeoutException: x\n\tat A.b(A.java:1)"),
    ("traceparent", b"00-abc-def-01"),
)

CONNECT = (
    ("__connect.errors.topic", b"orders"),
    ("__connect.errors.partition", b"2"),
    ("__connect.errors.offset", b"99"),
    ("__connect.errors.connector.name", b"jdbc-sink"),
    ("__connect.errors.task.id", b"0"),
    ("__connect.errors.stage", b"VALUE_CONVERTER"),
    ("__connect.errors.class.name", b"io.confluent.connect.avro.AvroConverter"),
    ("__connect.errors.exception.class.name", b"org.apache.kafka.connect.errors.DataException"),
    ("__connect.errors.exception.message", b"Failed to deserialize data"),
    (
        "__connect.errors.exception.stacktrace",
        b"org.apache.kafka.connect.errors.DataException: ...\n\tat ...",
    ),
)


def test_spring_headers() -> None:
    info = parse_dlq_headers(SPRING)
    assert info == DlqInfo(
        original_topic="invoice-voided",
        original_partition=3,
        original_offset=1234567890123,
        original_timestamp=TS,
        original_timestamp_type="CREATE_TIME",
        consumer_group="invoice-voided-consumer",
        exception_class="org.springframework.kafka.listener.ListenerExecutionFailedException",
        exception_cause_class="java.net.SocketTimeoutException",
        exception_message="Timeout talking to wärehouse",
        stack_trace="java.net.SocketTimeoutException: x\n\tat A.b(A.java:1)",
        source="spring",
    )
    assert info.error_text() == (
        "org.springframework.kafka.listener.ListenerExecutionFailedException: Timeout talking to wärehouse"
    )
    labels = dict(info.fields())
    assert labels["original partition"] == "3"
    assert labels["original timestamp"] == f"{TS} (2026-01-01T00:00:00.123Z)"


def test_spring_header_display() -> None:
    assert header_display("kafka_dlt-original-partition", struct.pack(">i", 3)) == "3"
    assert header_display("kafka_dlt-original-partition", struct.pack(">i", -1)) == "-1"
    assert header_display("kafka_dlt-original-offset", struct.pack(">q", 2**40)) == str(2**40)
    assert (
        header_display("kafka_dlt-original-timestamp", struct.pack(">q", TS))
        == f"{TS} (2026-01-01T00:00:00.123Z)"
    )
    assert header_display("kafka_dlt-exception-message", b"boom") == "boom"


def test_wrong_length_binary_header_is_hex_with_note() -> None:
    bad = b"\x00\x00\x03"  # 3 bytes where Spring writes 4
    shown = header_display("kafka_dlt-original-partition", bad)
    assert shown == "000003 (kafka_dlt-original-partition: expected a 4-byte big-endian integer, got 3 bytes)"
    eight_as_four = struct.pack(">i", 5)
    assert header_display("kafka_dlt-original-offset", eight_as_four).startswith("00000005 (")
    info = parse_dlq_headers([("kafka_dlt-original-partition", bad), ("kafka_dlt-original-topic", b"t")])
    assert info.original_partition is None and info.original_topic == "t" and info.source == "spring"
    assert info.notes == ("kafka_dlt-original-partition: expected a 4-byte big-endian integer, got 3 bytes",)


def test_connect_headers() -> None:
    info = parse_dlq_headers(CONNECT)
    assert info.source == "connect"
    assert (info.original_topic, info.original_partition, info.original_offset) == ("orders", 2, 99)
    assert (info.connector_name, info.task_id, info.stage) == ("jdbc-sink", 0, "VALUE_CONVERTER")
    assert info.stage_class == "io.confluent.connect.avro.AvroConverter"
    assert info.error_text() == "org.apache.kafka.connect.errors.DataException: Failed to deserialize data"
    assert info.stack_trace is not None and info.stack_trace.startswith("org.apache")
    assert info.original_timestamp is None
    assert header_display("__connect.errors.partition", b"2") == "2"


def test_connect_bad_number_is_a_note() -> None:
    info = parse_dlq_headers([("__connect.errors.offset", b"\x00\x00\x00\x07")])
    assert info.original_offset is None and info.source == "connect"
    assert info.notes and info.notes[0].startswith("__connect.errors.offset: expected a decimal number")


def test_key_exception_headers_fill_in_only_when_value_ones_missing() -> None:
    key_only = parse_dlq_headers(
        [("kafka_dlt-key-exception-fqcn", b"KeyErr"), ("kafka_dlt-key-exception-message", b"k")]
    )
    assert key_only.error_text() == "KeyErr: k"
    both = parse_dlq_headers(
        [("kafka_dlt-key-exception-fqcn", b"KeyErr"), ("kafka_dlt-exception-fqcn", b"ValErr")]
    )
    assert both.exception_class == "ValErr"


def test_last_header_wins_and_null_values() -> None:
    info = parse_dlq_headers(
        [
            ("kafka_dlt-exception-fqcn", b"First"),
            ("kafka_dlt-exception-fqcn", b"Second"),
            ("kafka_dlt-original-topic", None),
        ]
    )
    assert info.exception_class == "Second" and info.original_topic is None


def test_no_dlq_headers() -> None:
    info = parse_dlq_headers([("traceparent", b"x"), ("n", None)])
    assert info == DlqInfo() and info.source is None and info.error_text() == "" and info.fields() == []


def test_generic_header_display() -> None:
    assert header_display("traceparent", b"00-abc-def-01") == "00-abc-def-01"
    assert header_display("x", "ünï".encode()) == "ünï"
    assert header_display("bin", b"\x00\x01\xff") == "0001ff"
    assert header_display("bad-utf8", b"abc\xff") == "616263ff"
    assert header_display("empty", b"") == ""
    assert header_display("null", None) == "(null)"
    assert header_display("kafka_dlt-exception-message", b"bad \xff utf8") == "bad \ufffd utf8"


_NAMES = st.sampled_from(
    [*(name for name, _ in SPRING), *(name for name, _ in CONNECT), "kafka_dlt-key-exception-fqcn", "other"]
)


@given(st.lists(st.tuples(_NAMES, st.none() | st.binary(max_size=12)), max_size=8))
def test_fuzz_headers_never_raise(headers: list[tuple[str, bytes | None]]) -> None:
    info = parse_dlq_headers(headers)
    info.error_text()
    info.fields()
    for name, value in headers:
        assert isinstance(header_display(name, value), str)
