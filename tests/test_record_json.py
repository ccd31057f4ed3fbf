"""The JSON record format v1 (no stack): byte-exact round trip, headers as a list, escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.decode.view import RecordDecoder
from dlq_tui.record_json import RecordJsonError, dumps, parse_line, record_json, record_line, records_text
from dlq_tui.triage.records import RawRecord

DECODER = RecordDecoder()


def line_of(raw: RawRecord, topic: str = "dlq") -> str:
    return dumps(record_json(DECODER.decode_uncached(raw), topic))


def test_fields_of_a_text_record() -> None:
    raw = RawRecord(
        2, 40, 1_793_615_475_182, 0, b"ORD001", b'{"a": 1}', (("trace", b"x"), ("trace", b"\x00\xff"))
    )
    obj = json.loads(line_of(raw, "orders-dlq"))
    assert obj["v"] == 1
    assert obj["topic"] == "orders-dlq"
    assert (obj["partition"], obj["offset"], obj["timestamp"]) == (2, 40, 1_793_615_475_182)
    assert obj["time"] == "2026-11-02T10:31:15.182Z"
    assert obj["key"] == "ORD001" and obj["key_format"] == "text" and "key_b64" not in obj
    # JSON is shown decoded; its exact bytes (spacing) travel in value_b64
    assert obj["value"] == {"a": 1} and obj["value_format"] == "json"
    assert obj["value_b64"] == "eyJhIjogMX0="
    # repeated names survive, binary says so
    assert obj["headers"] == [
        {"name": "trace", "value": "x", "encoding": "utf-8"},
        {"name": "trace", "value": "AP8=", "encoding": "base64"},
    ]


def test_big_endian_integer_header_is_binary() -> None:
    raw = RawRecord(0, 0, 0, 0, None, b"v", (("kafka_dlt-original-offset", (10).to_bytes(8, "big")),))
    [header] = json.loads(line_of(raw))["headers"]
    assert header == {"name": "kafka_dlt-original-offset", "value": "AAAAAAAAAAo=", "encoding": "base64"}


def test_null_key_and_value_and_null_header() -> None:
    raw = RawRecord(0, 1, 5, 1, None, None, (("h", None),))
    obj = json.loads(line_of(raw))
    assert obj["key"] is None and obj["value"] is None
    assert obj["timestamp_type"] == "log_append"
    assert obj["headers"] == [{"name": "h", "value": None, "encoding": None}]
    back = parse_line(line_of(raw))
    assert (back.key, back.value, back.headers) == (None, None, (("h", None),))


def test_bidi_and_control_characters_are_escaped_and_read_back() -> None:
    text = "a\u202eb\x1b[31mc\x9bd\u2028e\x7f"
    bidi = "a\u202eb\u2066c\u2028d\x85e"  # text with no C0 control: stays utf-8, escaped in the JSON
    headers = (("n", text.encode()), ("b", bidi.encode()), ("t", b"a\tb\r\nc"))
    raw = RawRecord(0, 0, 0, 0, bidi.encode(), text.encode(), headers)  # the decoder shows both as hex
    line = line_of(raw)
    for ch in ("\u202e", "\u2066", "\x1b", "\x9b", "\u2028", "\x85", "\x7f"):
        assert ch not in line
    assert "\\u202e" in line and "\\u0085" in line
    back = parse_line(line)
    assert (back.key, back.value, back.headers) == (bidi.encode(), text.encode(), headers)
    obj = json.loads(line)
    assert obj["key_format"] == "hex" and "key_b64" in obj
    assert [h["encoding"] for h in obj["headers"]] == ["base64", "utf-8", "utf-8"]  # ESC: binary
    assert obj["headers"][2] == {"name": "t", "value": "a\tb\r\nc", "encoding": "utf-8"}
    assert "\n" not in line


@settings(max_examples=300, deadline=None)
@given(
    key=st.none() | st.binary(max_size=40) | st.text(max_size=20).map(str.encode),
    value=st.none() | st.binary(max_size=80) | st.text(max_size=40).map(str.encode),
    headers=st.lists(
        st.tuples(
            st.text(max_size=8), st.none() | st.binary(max_size=10) | st.text(max_size=8).map(str.encode)
        ),
        max_size=5,
    ),
    ts=st.integers(min_value=0, max_value=2**45),
)
def test_round_trip_is_byte_exact(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes | None]], ts: int
) -> None:
    raw = RawRecord(3, 99, ts, 0, key, value, tuple(headers))
    line = line_of(raw, "t")
    line.encode("utf-8")  # always writable (no lone surrogates left raw)
    back = parse_line(line)
    assert (back.topic, back.partition, back.offset, back.timestamp) == ("t", 3, 99, ts)
    assert (back.key, back.value, back.headers) == (key, value, tuple(headers))


def test_records_text_is_jsonl() -> None:
    raws = [RawRecord(0, i, 0, 0, b"k", b"v", ()) for i in range(3)]
    text = records_text((DECODER.decode_uncached(r) for r in raws), "t")
    assert text.endswith("\n")
    assert [json.loads(x)["offset"] for x in text.splitlines()] == [0, 1, 2]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"key": "a", "value": "b"}', 'no "v" field'),
        ('{"v": 2, "key": "a", "value": "b"}', "version 2 is not supported"),
        ('{"v": 1, "value": "b"}', "no 'key' field"),
        ('{"v": 1, "key": {"a": 1}, "value": "b"}', "no key_b64"),
        ('{"v": 1, "key": "a", "key_b64": "***", "value": "b"}', "key_b64 is not valid base64"),
        ('{"v": 1, "key": "a", "value": "b", "headers": {"h": "x"}}', "headers must be a list"),
        (
            '{"v": 1, "key": "a", "value": "b", "headers": [{"name": "h", "value": "x", "encoding": "rot13"}]}',
            "unknown encoding",
        ),
        (
            '{"v": 1, "key": "a", "value": "b", "headers": [{"name": "h", "value": "zz", "encoding": "hex"}]}',
            "not valid hex",
        ),
        ('{"v": 1, "key": "a", "value": "b", "partition": -1}', "partition must be a non-negative integer"),
    ],
)
def test_bad_records_get_a_clear_message(line: str, message: str) -> None:
    with pytest.raises(RecordJsonError, match=message):
        parse_line(line)


def test_hex_header_encoding_is_read() -> None:
    line = (
        '{"v": 1, "key": null, "value": "b", "headers": [{"name": "h", "value": "00ff", "encoding": "hex"}]}'
    )
    assert parse_line(line).headers == (("h", b"\x00\xff"),)


def test_the_documented_example_is_what_is_written() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "commands.md"
    [example] = [x for x in docs.read_text().splitlines() if x.startswith('{"v":1') and "kafka_dlt" in x]
    headers = (
        ("kafka_dlt-original-topic", b"order-canceled"),
        ("kafka_dlt-original-offset", (10).to_bytes(8, "big")),
        ("kafka_dlt-exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
    )
    raw = RawRecord(0, 0, 1_793_615_475_182, 0, b"ORD001", b'{"orderNumber": "ORD001"}', headers)
    assert line_of(raw, "order-canceled-dead-letter-queue") == example
    fast = record_line(DECODER.decode_uncached(raw), "order-canceled-dead-letter-queue")
    assert fast.decode() == example


def test_a_hand_written_minimal_record() -> None:
    back = parse_line('{"v": 1, "key": "ORD001", "value": "{\\"orderNumber\\": \\"ORD001\\"}"}')
    assert (back.partition, back.timestamp, back.headers) == (0, None, ())
    assert (back.key, back.value) == (b"ORD001", b'{"orderNumber": "ORD001"}')
