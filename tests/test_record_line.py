"""`record_line` (the fast formatting of format v1) parses to the same JSON as the general path,
`dumps(record_json(d, topic))`, for any key, value and headers; and stays ASCII-safe (no stack)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dlq_tui.decode.formats import Format
from dlq_tui.decode.view import RecordDecoder
from dlq_tui.display import iso_ts
from dlq_tui.record_json import _time, dumps, parse_line, record_json, record_line
from dlq_tui.triage.records import RawRecord

DECODERS = [
    RecordDecoder(),
    RecordDecoder(Format.STRING, Format.JSON),
    RecordDecoder(Format.BYTES, Format.AUTO),
]
UNSAFE = "\x7f\u0085\u009b\u061c\u200e\u200f\u2028\u2029\u202a\u202e\u2066\u2069"


def _norm(obj: Any) -> Any:
    """JSON values with NaN made comparable."""
    if isinstance(obj, float) and math.isnan(obj):
        return "NaN"
    if isinstance(obj, dict):
        return {k: _norm(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_norm(v) for v in obj]
    return obj


def _check(raw: RawRecord) -> None:
    for decoder in DECODERS:
        general = dumps(record_json(decoder.decode_uncached(raw), "dlq"))
        fast = record_line(decoder.decode_uncached(raw), "dlq")
        text = fast.decode("utf-8")  # valid UTF-8: no lone surrogates left raw
        assert _norm(json.loads(text)) == _norm(json.loads(general))
        assert "\n" not in text and "\r" not in text
        assert not any(ch in text for ch in UNSAFE), text
        assert all(ch >= " " for ch in text)
        if raw.timestamp < 0:  # readers refuse negative timestamps (either path)
            continue
        back = parse_line(text)
        assert (back.key, back.value, back.headers) == (raw.key, raw.value, raw.headers)


# JSON texts spelled in many ways: spacing, escapes, number forms, duplicates, nesting.
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["1e400", "-0", "1.0E+2", "2.50", "0.1000000000000000055511151231257827"]).map(
        lambda s: _Raw(s)
    ),
)


class _Raw(str):
    """A number spelled as given."""


def _render(value: Any, draw: Any) -> str:
    ws = draw(st.sampled_from(["", " ", "\n", "\t ", "\r\n"]))
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        items = [f"{_render(k, draw)}{ws}:{_render(v, draw)}" for k, v in value.items()]
        if items and draw(st.booleans()):  # a duplicate key: the last one wins
            items.append(items[0])
        return "{" + ws + ("," + ws).join(items) + "}"
    if isinstance(value, list):
        return "[" + ws + ("," + ws).join(_render(v, draw) for v in value) + ws + "]"
    ensure_ascii = draw(st.booleans())
    return json.dumps(value, ensure_ascii=ensure_ascii)


_tree = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def json_bytes(draw: Any) -> bytes:
    value = draw(st.dictionaries(st.text(max_size=6), _tree, max_size=4) | st.lists(_tree, max_size=4))
    text = _render(value, draw)
    text = (
        draw(st.sampled_from(["", " ", "\n", "\ufeff"])) + text + draw(st.sampled_from(["", " ", "\n", " x"]))
    )
    return text.encode("utf-8", "surrogatepass")


payloads = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.text(max_size=30).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=30).map(str.encode),
    json_bytes(),
)
headers = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "h",
                "kafka_dlt-exception-fqcn",
                "kafka_dlt-original-offset",
                "__value_schema_id",
                "__key_schema_id",
            ]
        )
        | st.text(max_size=6),
        st.none() | st.binary(max_size=10) | st.text(max_size=8).map(str.encode),
    ),
    max_size=4,
).map(tuple)


@settings(max_examples=400, deadline=None)
@given(key=payloads, value=payloads, hdrs=headers, ts=st.integers(min_value=-(2**45), max_value=2**48))
@example(key=b"ORD1", value=b'{"a": 1}', hdrs=(), ts=0)
@example(key=b"1", value=b'[1, 2.50, 1e400, "\\u00e9\\ud800", "\\/"]', hdrs=(), ts=0)
@example(key=b"\x1b[31m", value=b'{"a":"\xc2\x85\xe2\x80\xae\x7f"}', hdrs=(), ts=0)
@example(key=b"k", value=b'{"a": NaN}', hdrs=(), ts=0)
@example(key=b"k", value=b"v", hdrs=(("\ud800 lone", b"v"), ("h\u202e", b"\xc2\x85")), ts=0)
@example(key=b"k", value=b"[" * 401 + b"]" * 401, hdrs=(), ts=0)
@example(key=b"k", value=b"[" * 599 + b"]" * 599, hdrs=(), ts=0)
@example(key=b"k", value=b"[" * 700 + b"]" * 700, hdrs=(), ts=0)
@example(key=b"k", value=b"[" * 3000 + b"]" * 3000, hdrs=(), ts=0)
@example(key=b"k", value=b'{"n": ' + b"7" * 4301 + b"}", hdrs=(), ts=0)
@example(key=b"k", value=b'{"n": ' + b"7" * 4300 + b"}", hdrs=(), ts=0)
@example(key=b"k", value=b'{"a":"\xed\xa0\x80"}', hdrs=(), ts=0)
@example(key=b"k", value=b'{"a": 1}', hdrs=(("__value_schema_id", b"\x00\x00\x00\x00\x07"),), ts=0)
def test_fast_line_parses_as_the_general_line(
    key: bytes | None, value: bytes | None, hdrs: tuple[tuple[str, bytes | None], ...], ts: int
) -> None:
    _check(RawRecord(1, 7, ts, ts & 1, key, value, hdrs))


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b" ",
        b"null",
        b"123",
        b'"text"',
        b"\xef\xbb\xbf{}",
        b"{}",
        b"[]",
        b'{"a":1,"a":2}',
        b'{"a":[1,{"b":null}],"c":"\\u2028"}',
        b"\x00\x00\x00\x00\x01\x02",  # wire format, no registry
        b'{"a":"\x01"}',  # a raw control character: not JSON, and binary
        b"plain text with \t tab",
    ],
)
def test_edge_values(value: bytes) -> None:
    _check(RawRecord(0, 0, 1_793_615_475_182, 0, b"k", value, (("h", b"x"),)))


@settings(max_examples=500, deadline=None)
@given(ms=st.integers(min_value=-(10**13), max_value=253402300799999) | st.integers())
def test_time_is_iso_ts(ms: int) -> None:
    assert _time(ms).decode() == iso_ts(ms)


def test_header_sets_are_cached_and_bounded() -> None:
    from dlq_tui import record_json as rj

    decoder = RecordDecoder()
    for i in range(rj._CACHE_MAX + 10):
        raw = RawRecord(0, i, 0, 0, b"k", b"{}", (("kafka_dlt-original-offset", i.to_bytes(8, "big")),))
        line = json.loads(record_line(decoder.decode_uncached(raw), "t"))
        assert line["dlq"]["original offset"] == str(i)
        assert len(rj._HEADERS) <= rj._CACHE_MAX


# Header sets as DLQs carry them: known DLQ headers (integers of the right width or not, text,
# repeated, null) and unknown ones, values changing from record to record (the planned path).
KNOWN = [
    "kafka_dlt-original-partition",
    "kafka_dlt-original-offset",
    "kafka_dlt-original-timestamp",
    "kafka_dlt-original-topic",
    "kafka_dlt-exception-fqcn",
    "kafka_dlt-exception-message",
    "kafka_original-offset",
    "x-original-offset",
    "x-original-timestamp",
    "x-exception-fqcn",
    "retry_topic-attempts",
    "retry_topic-backoff-timestamp",
    "retry_topic-original-timestamp",
    "dead-letter-reason",
    "dead-letter-offset",
    "delayed-retry-count",
    "__connect.errors.topic",
    "__value_schema_id",
    "traceparent",
]
header_sets = st.lists(
    st.tuples(
        st.sampled_from(KNOWN) | st.text(max_size=4),
        st.none()
        | st.binary(max_size=9)
        | st.integers(-(2**63), 2**63 - 1).map(lambda n: n.to_bytes(8, "big", signed=True)),
    ),
    max_size=7,
)


@settings(max_examples=300, deadline=None)
@given(hdrs=header_sets, data=st.data())
def test_headers_that_change_per_record(hdrs: list[tuple[str, bytes | None]], data: st.DataObject) -> None:
    # The same names and widths with other values: the second record is formatted by the plan.
    other = [
        (n, None if v is None else data.draw(st.binary(min_size=len(v), max_size=len(v)))) for n, v in hdrs
    ]
    for headers in (hdrs, other, hdrs):
        _check(RawRecord(0, 1, 1_793_615_475_182, 0, b"k", b'{"a":1}', tuple(headers)))


def test_spring_offsets_per_record_use_the_plan() -> None:
    from dlq_tui import record_headers

    for i in range(50):
        headers = (
            ("kafka_dlt-original-topic", b"orders"),
            ("kafka_dlt-original-partition", (i % 3).to_bytes(4, "big")),
            ("kafka_dlt-original-offset", (1000 + i).to_bytes(8, "big")),
            ("kafka_dlt-original-timestamp", (1_793_615_475_000 + i).to_bytes(8, "big")),
            ("kafka_dlt-exception-fqcn", b"java.net.SocketTimeoutException"),
            ("traceparent", b"00-%032x-%016x-01" % (i, i)),
        )
        _check(RawRecord(0, i, 1_793_615_475_182, 0, b"k", b'{"a":1}', headers))
    assert any(plan is not None for plan in record_headers._PLANS.values()), "planned, not general"
