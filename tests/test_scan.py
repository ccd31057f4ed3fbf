"""The raw-bytes filter scan never changes which records match: property tests of the engine's
`match` (which uses dlq_tui.scan) against decoding every record and evaluating the filter."""

from __future__ import annotations

import json
import re
import sys
from array import array
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlq_tui.decode import dlq_headers
from dlq_tui.decode.view import RecordDecoder
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.scan import ANY_WIDTH_1_TO_8, NOT_PLAIN_HEADER, UNICODE_FOLDED, header_kind, plan_scan
from dlq_tui.triage.arena import MemoryArena
from dlq_tui.triage.filter import parse
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore

WORDS = [
    "timeout",
    "Timeout",
    "wrong",
    "product",
    "null",
    "Infinity",
    "inf",
    "kafka",
    "iks",
    "SOCK",
    "fqcn",
    "abc",
]
# Look-alikes: Kelvin sign, long s, dotted and dotless i; halves of words; JSON escapes.
ODD = [
    "\u212aafka",
    "\u017fOCK",
    "\u0130ks",
    "\u0131ks",
    "é",
    "time",
    "out",
    "1e999",
    "\x1b",
    "\x00",
    "\x7f",
    "\n",
    ":",
    '"',
]
ESCAPES = ["\\u0074imeout", "wr\\u006fng", "\\n", "\\\\", '\\"']

SAFE = [" ", "-", ".", "x", "ORD-1", "{", "a b", "é"]
# Mostly text that the scan may decide from its bytes, sometimes what it must not.
fragments = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(SAFE),
    st.sampled_from(WORDS),
    st.sampled_from(ODD),
    st.text(max_size=3),
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(fragments, max_size=5)))


@st.composite
def payloads(draw: st.DrawFn) -> bytes | None:
    kind = draw(
        st.sampled_from(["none", "text", "text", "json", "json", "json-nl", "json-raw", "binary", "wire"])
    )
    if kind == "none":
        return None
    if kind == "binary":
        return draw(st.binary(max_size=20))
    if kind == "wire":
        return b"\x00\x00\x00\x00\x01" + draw(texts()).encode()
    if kind == "json-raw":  # with escapes as a producer may write them
        inner = "".join(
            draw(st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(ESCAPES)), max_size=4))
        )
        return ('{"reason": "' + inner + '", "nested": {"w": "' + inner + '"}}').encode()
    if kind == "text":
        return (
            draw(texts()).encode("utf-8", "surrogatepass")
            if draw(st.integers(0, 5))
            else draw(st.binary(max_size=8))
        )
    obj = {
        "reason": draw(texts()),
        "n": draw(st.sampled_from([1, 2.5, 10**30])),
        "nested": {"w": draw(texts())},
    }
    raw = json.dumps(obj, ensure_ascii=draw(st.booleans()))
    if kind == "json-nl":
        raw = raw.replace(", ", ",\n ").replace('"n": 1', '"n": 1e999')
    return raw.encode("utf-8", "surrogatepass")


INT_HEADERS = {
    "kafka_dlt-original-partition": 4,
    "kafka_dlt-original-offset": 8,
    "kafka_dlt-original-timestamp": 8,
}
HEADER_NAMES = [
    "kafka_dlt-exception-fqcn",
    "kafka_dlt-exception-message",
    "kafka_dlt-original-offset",
    "kafka_dlt-original-partition",
    "kafka_dlt-original-timestamp",
    "__connect.errors.exception.message",
    "x-wrong",
    "trace",
    "__value_schema_id",
    "retry_topic-attempts",
    "dead-letter-offset",
    "springDeserializerExceptionValue",
]


@st.composite
def header_values(draw: st.DrawFn, name: str) -> bytes | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    if name in INT_HEADERS:
        width = draw(st.sampled_from([INT_HEADERS[name], 3]))
        value = draw(st.sampled_from([b"\x00\x00\x00\x00\x00abc", b"\x00\x00\x00\x00\x00abc", b"\x01" * 8]))
        return value[-width:].rjust(width, b"\x00")
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=6))
    return draw(texts()).encode("utf-8", "surrogatepass")


@st.composite
def records(draw: st.DrawFn) -> list[RawRecord]:
    out = []
    for i in range(draw(st.integers(1, 8))):
        names = draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=4))
        headers = tuple((n, draw(header_values(n))) for n in names)
        out.append(RawRecord(i % 2, i, 1_700_000_000_000 + i, 0, draw(payloads()), draw(payloads()), headers))
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


atoms = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(lambda w: f"*{w}*"),
    st.sampled_from(WORDS).map(lambda w: f"{w[:2]}*{w[3:]}"),
    st.sampled_from(WORDS).map(lambda w: f"value:{w}"),
    st.sampled_from(WORDS).map(lambda w: f"value.reason:*{w}*"),
    st.sampled_from(WORDS).map(lambda w: f"value.nested.w:{w}*"),
    st.sampled_from(WORDS).map(lambda w: f"key:*{w}*"),
    st.sampled_from(WORDS).map(lambda w: f"error:{w}"),
    st.sampled_from(WORDS).map(lambda w: f"header.kafka_dlt-exception-message:*{w}*"),
    st.sampled_from(WORDS).map(lambda w: f"/{w}/"),
    texts().filter(lambda t: t.strip() != "").map(_quote),
    st.sampled_from(["partition:0", "offset:>=2", "value.n:inf", "inf", "null"]),
)


@st.composite
def filters(draw: st.DrawFn) -> str:
    parts = draw(st.lists(atoms, min_size=1, max_size=3))
    parts = [("-" if draw(st.booleans()) and draw(st.booleans()) else "") + p for p in parts]
    joiner = draw(st.sampled_from([" ", " OR ", " AND "]))
    return joiner.join(parts)


def _session(recs: list[RawRecord], fmt: str = "auto") -> TriageSession:
    config = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        source="s",
        group="g",
        key_format=fmt,
        value_format=fmt,
    )
    session = TriageSession(config)
    session.store = RecordStore(chunk_size=64, arena=MemoryArena())
    session.store.extend(recs)
    return session


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recs=records(), text=filters(), fmt=st.sampled_from(["auto", "auto", "json", "avro", "string"]))
def test_scan_never_changes_the_result(recs: list[RawRecord], text: str, fmt: str) -> None:
    try:
        flt = parse(text)
    except ValueError:
        return
    session = _session(recs, fmt)
    decoder = RecordDecoder(fmt, fmt)
    expected = [row for row in range(len(recs)) if flt.matches(decoder.decode_uncached(recs[row]))]
    assert list(session.match(flt, range(len(recs)))) == expected, text
    assert list(session.match(flt, range(len(recs)))) == expected  # again, with the flags cached


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recs=records(), text=filters(), fmt=st.sampled_from(["auto", "auto", "json", "avro", "string"]))
def test_scan_with_unknown_rows_agrees_with_the_evaluator(recs: list[RawRecord], text: str, fmt: str) -> None:
    """What the app's live count uses: matches and the rows the filter cannot judge, both equal to
    the decoding evaluator's three-valued verdict, in the order of the rows asked about."""
    try:
        flt = parse(text)
    except ValueError:
        return
    session = _session(recs, fmt)
    decoder = RecordDecoder(fmt, fmt)
    verdicts = [flt.evaluate(decoder.decode_uncached(r)) for r in recs]
    rows = array("i", range(len(recs) - 1, -1, -1))
    for _ in range(2):  # the second time with the plain flags known
        result = session.match_with_unknown(flt, rows)
        assert list(result.matched) == [r for r in rows if verdicts[r] is True], text
        assert list(result.unknown) == [r for r in rows if verdicts[r] is None], text
        assert (result.reason is None) == (not result.unknown)


def test_plans_for_typical_filters() -> None:
    names = ["kafka_dlt-exception-fqcn", "kafka_dlt-exception-message"]
    formats = ("auto", "auto")
    assert plan_scan(parse("timeout"), names, formats).exact
    assert plan_scan(parse("*Timeout* -partition:1"), names, formats).exact
    plan = plan_scan(parse("value.reason:wrong*"), names, formats)
    assert plan.clauses == ((b"wrong",),) and not plan.exact
    assert plan_scan(parse("timeout OR value:wrong"), names, formats).clauses == ((b"timeout", b"wrong"),)
    assert not plan_scan(parse("-timeout"), names, formats).clauses
    assert not plan_scan(parse("exception"), names, formats).useful  # in a header name
    assert not plan_scan(parse("null"), names, formats).useful  # decoding writes (null)
    assert not plan_scan(parse("timeout"), names, ("auto", "bytes")).useful  # hex is not the bytes
    assert not plan_scan(parse("/timeout/"), names, formats).useful


def test_unicode_folding_letters_are_all_known() -> None:
    """Every ASCII letter that a non-ASCII character lower-cases to, or matches ignoring case."""
    found = set()
    for c in range(0x80, sys.maxunicode + 1):
        ch = chr(c)
        found.update(x for x in ch.lower() if x.isascii() and x.isalpha())
    for a in "abcdefghijklmnopqrstuvwxyz":
        rx = re.compile(a, re.IGNORECASE)
        found.update(a for c in range(0x80, 0x3000) if rx.fullmatch(chr(c)))
        found.update(a for c in (0x212A, 0x212B, 0x17F, 0x130, 0x131) if rx.fullmatch(chr(c)))
    assert found <= UNICODE_FOLDED


def test_header_kinds_follow_the_decoders_table() -> None:
    for name, spec in dlq_headers.HEADERS.items():
        kind = header_kind(name)
        expected = {
            dlq_headers.Enc.TEXT: 0,
            dlq_headers.Enc.INT_TEXT: 0,
            dlq_headers.Enc.INT32: 4,
            dlq_headers.Enc.INT64: 8,
            dlq_headers.Enc.BIGINT: ANY_WIDTH_1_TO_8,
        }.get(spec.enc, NOT_PLAIN_HEADER)
        assert kind == expected, name
    assert header_kind("x-custom") == 0
    assert header_kind("__value_schema_id") == NOT_PLAIN_HEADER


def _agree(recs: list[RawRecord], text: str, fmt: str = "auto") -> None:
    flt = parse(text)
    decoder = RecordDecoder(fmt, fmt)
    expected = [row for row in range(len(recs)) if flt.matches(decoder.decode_uncached(recs[row]))]
    assert list(_session(recs, fmt).match(flt, range(len(recs)))) == expected, (text, fmt)


def _rec(key: bytes | None, value: bytes | None, *headers: tuple[str, bytes | None]) -> RawRecord:
    return RawRecord(0, 0, 0, 0, key, value, tuple(headers))


def test_cases_the_bytes_alone_would_get_wrong() -> None:
    """Each of these has bytes that do not say what decoding shows; the scan must decode them."""
    _agree([_rec(b"k1", b'{"reason": "\\u0074imeout"}')], "value.reason:*timeout*")  # JSON escape
    _agree([_rec(b"k1", "\u212aafka".encode())], "kafka")  # Kelvin sign lower-cases to k
    _agree([_rec("\u017fofa".encode(), b"1")], "key:SOFA")  # long s matches s ignoring case
    _agree([_rec(b"time", b"out")], "timeout")  # key and value are stored back to back
    _agree([_rec(b"k1", b"v", ("kafka_dlt-original-offset", b"\x00\x00\x00\x00\x00abc"))], "abc")
    _agree(
        [_rec(b"k1", b"v", ("kafka_dlt-original-offset", b"\x01\x02"))], "expected"
    )  # the note on a bad width
    _agree([_rec(b"k1", b"v", ("other", "\x85\uabef".encode()))], "eaafaf")  # binary header shown as hex
    _agree([_rec(b"k1", b"v", ("trace", None))], "null")
    _agree([_rec(b"k1", b'{"n": 1e999}')], "value.n:inf*")
    _agree([_rec(b"k1", b"v", ("timeout-ms", b"5"))], "timeout")  # in a header name
    _agree([_rec(b"k1", b"1", ("x", b"1"))], "header.x:1 ORD")  # a plain row, nothing found
    _agree([_rec(b"k1", b"\x00\x00\x00\x00\x00abc")], "abc")  # Confluent wire format, shown as hex
    _agree([_rec(b"k1", b"Nabc", ("__value_schema_id", b"\x00\x00\x00\x00\x07"))], "abc")  # named schema
    _agree([_rec(b"k1", b"v", ("retry_topic-attempts", b"123456789"))], "expected")  # 1..8 bytes only
    _agree(
        [_rec(b"k1", b"v", ("springDeserializerExceptionValue", b"plain text"))], "serialization"
    )  # Java summary
    _agree([_rec(b"k1", b"not json")], "-timeout", "json")  # unknown, not false: NOT unknown is no match
    _agree([_rec(b"k1", b"not avro")], "-timeout", "avro")

    # Rows back to back: a word found in one row, the search goes on right where the next starts.
    def rows(*kv: tuple[bytes | None, bytes]) -> list[RawRecord]:
        return [RawRecord(0, i, 0, 0, k, v) for i, (k, v) in enumerate(kv)]

    _agree(rows((b"k", b"wrong"), (None, b"wrong x"), (b"w", b"rong")), "value:wrong")
    _agree(rows((b"k", b"is wro"), (b"ng", b"v"), (None, b"Wrong")), "value:wrong")


def test_word_scan_in_worker_processes_agrees(tmp_path: Path) -> None:
    """Frozen chunks of a file arena are searched by worker processes; the result is the same."""
    from dlq_tui.scan import PlainFlags, scan
    from dlq_tui.scan_pool import MIN_CHUNKS, WordPool
    from dlq_tui.triage.arena import FileArena

    recs = [
        RawRecord(
            0,
            i,
            0,
            0,
            b"k%d" % i,
            (b"SocketTimeout " if i % 3 == 0 else b"fine ")
            + b"x" * (i % 50)
            + (b" TIME" if i % 5 == 0 else b""),
            (("kafka_dlt-exception-message", b"TimeOut" if i % 7 == 0 else b"none"),),
        )
        for i in range(400)
    ]
    store = RecordStore(chunk_size=512, arena=FileArena(tmp_path))
    store.extend(recs)
    assert store.chunk_location(MIN_CHUNKS) is not None
    decoder = RecordDecoder()
    pool = WordPool()
    try:
        for text in ("timeout", "*TIME*", "fine"):
            flt = parse(text)
            plan = plan_scan(flt, store.header_names(), ("auto", "auto"))
            assert plan.exact
            expected = [r for r in range(len(recs)) if flt.matches(decoder.decode_uncached(recs[r]))]
            rows = array("i", range(len(recs) - 1, -1, -1))  # any order is kept
            got = scan(
                store,
                PlainFlags(store),
                plan,
                flt,
                rows,
                lambda r: decoder.decode_uncached(recs[r]),
                pool=pool,
            )
            assert sorted(got) == expected and list(got) == sorted(got, reverse=True), text
    finally:
        pool.close()
        store.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recs=records(), chunk=st.sampled_from([1, 64, 4096]))
def test_vectorised_row_flags_equal_the_row_by_row_ones(recs: list[RawRecord], chunk: int) -> None:
    from dlq_tui.scan import PlainFlags

    store = RecordStore(chunk_size=chunk, arena=MemoryArena())
    store.extend(recs)
    vectorised = PlainFlags(store)
    got = bytes(vectorised.ensure(len(store)))
    one_by_one = PlainFlags(store)
    assert list(got) == [one_by_one._compute(r) for r in range(len(store))]


KEY_TEXTS = ["ORD0001", " ORD0001", "ORD0001 ", '"ORD0001"', "123", "1e999", "[1, 2]", "true", "ordé"]
KEY_TEXTS += ["123 ", "[1,\n 2]", "[1,2]", '{"k": "ORD0001"}', "{not json", "\u212aey", "Key", ""]
KEYS = st.one_of(
    st.none(),
    st.sampled_from(KEY_TEXTS).map(str.encode),
    st.sampled_from([b"\x00\x00\x00\x00\x01k", b"ord\xff", b"a\x01"]),
    texts().map(lambda t: t.encode("utf-8", "surrogatepass")),
)
HEADER_POOL = [
    (),
    (("kafka_dlt-exception-message", b"SocketTimeout"),),
    (("kafka_dlt-exception-message", b"SocketTimeout"), ("kafka_dlt-exception-fqcn", b"a.b.Wrong")),
    (("kafka_dlt-exception-fqcn", b"a.b.Wrong"), ("kafka_dlt-original-topic", b"orders")),
    (("kafka_dlt-original-topic", b"orders"),),
    (("kafka_dlt-original-topic", b"orderz"),),  # differs from the one above in its last byte
    (("kafka_dlt-original-topic", None), ("trace", b"\xff")),
    (("__value_schema_id", b"\x00\x00\x00\x00\x07"),),
]
FIELD_FILTERS = st.one_of(
    st.sampled_from(KEY_TEXTS).map(lambda k: "key:" + _quote(k)),
    st.sampled_from(KEY_TEXTS).map(lambda k: "-key:" + _quote(k)),
    st.sampled_from(["key:ord*", "key:*1*", "key:*", "key:/^ORD/", "key:*\u212a*", "key:KEY", "key:inf"]),
    st.sampled_from(
        ["error:Timeout", "error:*wrong*", "exception:*Wrong", "origin:orders", "-origin:orders"]
    ),
    st.sampled_from(["header.trace:*", "error:Timeout OR origin:orders", "error:timeout -header.trace:*"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys=st.lists(KEYS, min_size=1, max_size=10),
    headers=st.lists(st.sampled_from(HEADER_POOL), min_size=10, max_size=10),
    data=st.data(),
    fmt=st.sampled_from(["auto", "auto", "json", "avro", "string"]),
)
def test_key_and_header_filters_agree_with_the_evaluator(
    keys: list[bytes | None],
    headers: list[tuple[tuple[str, bytes | None], ...]],
    data: st.DataObject,
    fmt: str,
) -> None:
    """`key:` filters test a plain row's key bytes as text; header-only filters judge each distinct
    header block once. Both equal the decoding evaluator, matches and unknowns, in every format."""
    shown = [k.decode("utf-8", "replace") for k in keys if k]
    near = st.sampled_from(shown or ["x"]).flatmap(
        lambda k: st.sampled_from(["key:" + _quote(k), "key:" + _quote(k.strip()), f"key:{_quote(k[:2])}*"])
    )
    text = data.draw(st.one_of(near, FIELD_FILTERS))
    recs = [RawRecord(0, i, 0, 0, k, b'{"v": 1}', headers[i]) for i, k in enumerate(keys)]
    try:
        flt = parse(text)
    except ValueError:
        return
    session = _session(recs, fmt)
    decoder = RecordDecoder(fmt, fmt)
    verdicts = [flt.evaluate(decoder.decode_uncached(r)) for r in recs]
    rows = array("i", range(len(recs)))
    assert list(session.match(flt, rows)) == [r for r in rows if verdicts[r] is True], text
    result = session.match_with_unknown(flt, rows)
    assert list(result.matched) == [r for r in rows if verdicts[r] is True], text
    assert list(result.unknown) == [r for r in rows if verdicts[r] is None], text


REASONS = ["wrong product", "Wrong", "too late", "", "1e999", "null", "true", "x\\u0077rong"]
VALUE_SHAPES = [
    '{{"reason": "{r}"}}',
    '{{"reason": "{r}", "reason": "dup"}}',
    '{{"reason": ["{r}", "late"]}}',
    '{{"reason": {{"code": "{r}"}}}}',
    '{{"other": "{r}"}}',
    '[{{"reason": "{r}"}}]',
    '{{"reason":\n "{r}"}}',
    '  {{"reason": "{r}"}}  ',
    '{{"reason": {n}}}',
    "reason: {r}",
    '{{"reason": "{r}"',
    "\x00\x00\x00\x00\x01{r}",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.tuples(
            st.sampled_from(VALUE_SHAPES), st.sampled_from(REASONS), st.sampled_from(["1", "2.50", "1e999"])
        ),
        min_size=1,
        max_size=12,
    ),
    texts_=st.lists(
        st.sampled_from(
            [
                "wrong*",
                "*wrong*",
                "wrong product",
                "WRONG",
                "too*",
                "*e*",
                '""',
                "dup",
                "inf",
                "1",
                "2.5",
                "/^w/",
            ]
        ),
        min_size=1,
        max_size=4,
    ),
    path=st.sampled_from(["reason", "reason.code", "reason.0", "0.reason"]),
    fmt=st.sampled_from(["auto", "auto", "json", "string"]),
)
def test_value_field_filters_agree_with_the_evaluator(
    values: list[tuple[str, str, str]], texts_: list[str], path: str, fmt: str
) -> None:
    """`value.<path>:` filters read the decoded-field cache: filter after filter on one session (the
    cache filled by the earlier ones), equal to the decoding evaluator, matches and unknowns."""
    recs = [
        RawRecord(0, i, 0, 0, b"k", shape.format(r=r, n=n).encode(), ())
        for i, (shape, r, n) in enumerate(values)
    ]
    session = _session(recs, fmt)
    decoder = RecordDecoder(fmt, fmt)
    rows = array("i", range(len(recs)))
    for pattern in texts_:
        flt = parse(f"value.{path}:{pattern}")
        verdicts = [flt.evaluate(decoder.decode_uncached(r)) for r in recs]
        result = session.match_with_unknown(flt, rows)
        assert list(result.matched) == [r for r in rows if verdicts[r] is True], flt.text
        assert list(result.unknown) == [r for r in rows if verdicts[r] is None], flt.text
        assert list(session.match(flt, rows[::-1])) == [r for r in rows[::-1] if verdicts[r] is True]


def test_filters_idle_is_false_while_any_scan_runs() -> None:
    """`warm()` waits on this between its group-index steps: a filter the user typed goes first."""
    from dlq_tui.engine import FiltersIdle

    idle = FiltersIdle()
    assert idle.idle
    with idle.busy():
        assert not idle.idle
        with idle.busy():  # the live count and the table's own filter at once
            assert not idle.idle
        assert not idle.idle
    assert idle.idle
    idle.wait()  # returns at once when idle
    try:
        with idle.busy():
            raise RuntimeError("a scan that fails")
    except RuntimeError:
        pass
    assert idle.idle
