"""Fuzz (hypothesis): the decoders (auto/avro/json/string over Confluent wire bytes with a nested
schema), the DLQ header conventions and the filter parser and evaluator never crash, never let a
terminal control through the escaped text, and finish each example within a generous deadline.
A few hundred examples each in `make test`; `make fuzz` runs thousands (DLQ_TUI_FUZZ_EXAMPLES)."""

from __future__ import annotations

import json
import os
import re
import struct
from datetime import timedelta

import fastavro
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlq_tui.decode.dlq_headers import header_display, parse_dlq_headers
from dlq_tui.decode.registry import RegisteredSchema, RegistryError
from dlq_tui.decode.sanitize import one_line, safe_text
from dlq_tui.decode.view import RecordDecoder
from dlq_tui.triage.filter import Filter, FilterError, parse, unparse
from dlq_tui.triage.records import RawRecord

EXAMPLES = int(os.environ.get("DLQ_TUI_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),  # "no unbounded time": far above any honest example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize="DLQ_TUI_FUZZ_EXAMPLES" not in os.environ,  # CI: reproducible; make fuzz: new inputs
)
# Terminal controls that must never survive escaping: C0 (but tab/newline), DEL, C1, bidi overrides.
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

NESTED = {
    "type": "record",
    "name": "Outer",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "n", "type": ["null", "long", "double"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "m", "type": {"type": "map", "values": "bytes"}},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
        {"name": "f", "type": {"type": "fixed", "name": "F", "size": 4}},
        {
            "name": "inner",
            "type": ["null", {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "int"}]}],
        },
    ],
}


class Schemas:
    def __init__(self) -> None:
        self.by_id = {
            1: RegisteredSchema(1, "AVRO", json.dumps(NESTED), fastavro.parse_schema(NESTED), "s-value"),
            2: RegisteredSchema(2, "JSON", '{"type": "object"}', None, "j-value"),
        }

    def get_schema(self, schema_id: int) -> RegisteredSchema:
        try:
            return self.by_id[schema_id]
        except KeyError:
            raise RegistryError(f"fetching schema id {schema_id}: not found") from None


def _wire(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + payload


payloads = st.one_of(
    st.binary(max_size=512),
    st.builds(_wire, st.sampled_from([1, 2, 3, 0xFFFFFFFF]), st.binary(max_size=256)),
    st.builds(lambda s: s.encode("utf-8", "surrogatepass"), st.text(max_size=200)),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda d: b"[" * d + b"]" * d),  # deep JSON
)
DLQ_HEADER_NAMES = [
    "kafka_dlt-original-topic",
    "kafka_dlt-original-partition",
    "kafka_dlt-original-offset",
    "kafka_dlt-original-timestamp",
    "kafka_dlt-exception-fqcn",
    "kafka_dlt-exception-message",
    "kafka_dlt-exception-stacktrace",
    "__connect.errors.topic",
    "__connect.errors.partition",
    "__connect.errors.offset",
    "__connect.errors.exception.class.name",
    "__connect.errors.exception.message",
    "x-exception-message",
]
headers = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(DLQ_HEADER_NAMES), st.text(max_size=30)),
        st.one_of(
            st.none(),
            st.binary(max_size=64),
            st.integers(-(2**63), 2**63 - 1).map(lambda i: struct.pack(">q", i)),
        ),
    ),
    max_size=8,
)


@FUZZ
@given(
    key=st.one_of(st.none(), payloads),
    value=st.one_of(st.none(), payloads),
    hdrs=headers,
    fmt=st.sampled_from(["auto", "avro", "json", "string", "bytes"]),
)
def test_decoders_never_crash_and_escape_everything(
    key: bytes | None, value: bytes | None, hdrs: list[tuple[str, bytes | None]], fmt: str
) -> None:
    raw = RawRecord(0, 0, 0, 0, key, value, tuple((n, v) for n, v in hdrs))  # type: ignore[misc]
    d = RecordDecoder(fmt, fmt, Schemas(), cache_size=1).decode_uncached(raw)
    texts = [d.key_text(), d.value_text(), d.error_text(), d.full_text()]
    texts += [d.header_text(name) or "" for name, _ in hdrs]
    assert d.value_fields("inner.x") is None or isinstance(d.value_fields("inner.x"), list)
    d.is_undecoded("value")
    for text in texts:
        assert isinstance(text, str)
        assert not CONTROLS.search(safe_text(text).replace("\t", "").replace("\n", ""))
        assert not CONTROLS.search(one_line(safe_text(text), 200))


@FUZZ
@given(hdrs=headers)
def test_dlq_header_conventions_never_crash(hdrs: list[tuple[str, bytes | None]]) -> None:
    info = parse_dlq_headers(hdrs)
    info.error_text()
    for name, text in info.fields():
        assert isinstance(name, str) and isinstance(text, str)
    for name, value in hdrs:
        assert isinstance(header_display(name, value), str)


FILTER_WORDS = st.sampled_from(
    ["key:", "value:", "error:", "header.", "offset:", "partition:", "ts:", "value.reason:", "AND", "OR",
     "NOT", "(", ")", "/", "*", "..", ">", ">=", "<", "=", '"', "\\", " ", "-", "ORD00*", "/.*a.*b/", "1", "10..20"]
)  # fmt: skip
filter_texts = st.one_of(st.text(max_size=80), st.lists(FILTER_WORDS, max_size=20).map("".join))


class Subject:
    def __init__(self, text: str, undecoded: bool) -> None:
        self.text, self.undecoded = text, undecoded
        self.partition, self.offset, self.timestamp = 1, 15, 1_700_000_000_000

    def key_text(self) -> str:
        return self.text[:10]

    def value_text(self) -> str:
        return self.text

    def value_fields(self, path: str) -> list[str] | None:
        return None if self.undecoded else [self.text]

    def header_text(self, name: str) -> str | None:
        return self.text if name else None

    def error_text(self) -> str:
        return self.text[::-1]

    def full_text(self) -> str:
        return self.text * 2

    def is_undecoded(self, part: str) -> bool:
        return self.undecoded

    def undecoded_reason(self) -> str | None:
        return "fuzz" if self.undecoded else None


@FUZZ
@given(text=filter_texts, subject_text=st.text(max_size=2000), undecoded=st.booleans())
def test_filter_parser_and_evaluator_never_crash(text: str, subject_text: str, undecoded: bool) -> None:
    try:
        flt = parse(text)
    except FilterError as exc:
        assert exc.render(text) is not None  # the caret rendering works for any position
        return
    assert flt.matches(Subject(subject_text, undecoded)) in (True, False, None)  # type: ignore[arg-type]
    again = parse(unparse(flt.ast))  # what is printed parses back to the same filter
    assert again == flt or isinstance(again, Filter)


@FUZZ
@given(
    size=st.integers(1, 200_000),
    pattern=st.sampled_from(["/.*Timeout.*Exception/", "/(a+)+$/", "/(a|aa)*b/"]),
)
def test_regex_filters_stay_linear(size: int, pattern: str) -> None:
    flt = parse(f"value:{pattern}")
    flt.matches(Subject("a" * size, False))  # type: ignore[arg-type]
