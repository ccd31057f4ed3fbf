"""The data-only Java serialization reader, on streams a real JVM wrote (no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.decode.dlq_headers import header_display, parse_dlq_headers
from dlq_tui.decode.java_serial import JavaObject, JavaSerialError, parse_stream, summarize_throwable
from tests.javaser import spring_deserialization_exception

DATA = b'{"orderNumber": "ORD042", "reason": broken'
CLASS = "org.springframework.kafka.support.serializer.DeserializationException"


@pytest.fixture(scope="module")
def blob(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return spring_deserialization_exception(tmp_path_factory.mktemp("java"), DATA, "failed to deserialize")


def test_deserialization_exception_read_as_data(blob: bytes) -> None:
    s = summarize_throwable(blob)
    assert s.error is None
    assert s.exception_class == CLASS
    assert s.message == "failed to deserialize"
    assert s.causes == (
        ("java.lang.IllegalStateException", f"Error deserializing Avro message for id {len(DATA)}"),
        ("java.lang.IllegalArgumentException", "Unknown magic byte!"),
    )
    assert s.root_cause_class == "java.lang.IllegalArgumentException"
    assert s.data == DATA and s.is_key is False


def test_stream_walk_gives_plain_values(blob: bytes) -> None:
    (top,) = parse_stream(blob)
    assert isinstance(top, JavaObject) and top.class_name == CLASS
    # Throwable's fields, the superclass's enum field and the subclass's own fields, as data
    assert top.fields["detailMessage"] == "failed to deserialize"
    assert top.fields["logLevel"].constant == "ERROR"
    assert top.fields["isKey"] is False
    assert "headers" not in top.fields  # transient: not in the stream


def test_spring_header_fills_the_dlq_fields(blob: bytes) -> None:
    info = parse_dlq_headers(
        [("springDeserializerExceptionValue", blob), ("kafka_dlt-original-topic", b"orders")]
    )
    assert info.source == "spring-deser"
    assert info.exception_class == CLASS and info.exception_message == "failed to deserialize"
    assert info.exception_cause_class == "java.lang.IllegalArgumentException"
    assert info.failed_data == DATA
    assert info.original_topic == "orders"
    shown = header_display("springDeserializerExceptionValue", blob)
    assert shown.startswith(f"{CLASS}: failed to deserialize; caused by java.lang.IllegalStateException")
    assert f"failed value {len(DATA)} bytes: {DATA.hex()}" in shown
    labels = dict(info.fields())
    assert labels["failed bytes"] == f"{len(DATA)} bytes: {DATA.hex()}"


def test_key_header_used_when_no_value_header(blob: bytes) -> None:
    info = parse_dlq_headers([("springDeserializerExceptionKey", blob)])
    assert info.source == "spring-deser" and info.exception_class == CLASS


def test_truncated_stream_keeps_the_strings_it_saw(blob: bytes) -> None:
    cut = blob[: len(blob) // 2]
    with pytest.raises(JavaSerialError, match="truncated"):
        parse_stream(cut)
    s = summarize_throwable(cut)
    assert s.error is not None and "truncated" in s.error
    assert s.exception_class == CLASS  # the first class-like string
    info = parse_dlq_headers([("springDeserializerExceptionValue", cut)])
    assert info.notes and info.notes[0].startswith("springDeserializerExceptionValue: truncated")


def test_not_a_java_stream() -> None:
    s = summarize_throwable(b"plain text")
    assert s.exception_class is None and s.error is not None and "ACED0005" in s.error
    with pytest.raises(JavaSerialError):
        parse_stream(b"\xac\xed\x00\x05\xff")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    # 10,000 nested arrays of objects: TC_ARRAY, class desc "[Ljava.lang.Object;", length 1, ...
    desc = b"\x72\x00\x13[Ljava.lang.Object;" + b"\x00" * 8 + b"\x02\x00\x00\x78\x70"
    one = b"\x75" + desc + b"\x00\x00\x00\x01"
    s = summarize_throwable(b"\xac\xed\x00\x05" + one * 10_000)
    assert s.error is not None and "too deeply" in s.error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_after_the_magic_never_raise(tail: bytes) -> None:
    s = summarize_throwable(b"\xac\xed\x00\x05" + tail)
    assert s.error is not None or s.exception_class is not None or tail == b""


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_real_streams_never_raise(blob: bytes, data: st.DataObject) -> None:
    pos = data.draw(st.integers(4, len(blob) - 1))
    byte = data.draw(st.integers(0, 255))
    mutated = blob[:pos] + bytes([byte]) + blob[pos + 1 :]
    summarize_throwable(mutated)
    header_display("springDeserializerExceptionValue", mutated)


def test_fixture_source_is_there() -> None:
    assert (Path(__file__).parent / "java" / "SpringDeserializationException.java").is_file()
