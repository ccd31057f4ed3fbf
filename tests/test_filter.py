"""The filter language: parsing, matching, errors, and properties of the parser and printer."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dlq_tui.triage.filter import MATCH_ALL, Filter, FilterError, parse, unparse
from dlq_tui.triage.filter_ast import (
    And,
    Compare,
    Node,
    Not,
    NumField,
    Op,
    Or,
    Pattern,
    PatternKind,
    Point,
    Range,
    TextField,
    TextTerm,
)
from dlq_tui.triage.filter_parse import MAX_DEPTH, _time_point, compile_regex


def ms(text: str) -> int:
    """Epoch milliseconds of an ISO date-time (UTC unless it says otherwise)."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


@dataclass
class Rec:
    """A FilterSubject for tests: the decoded texts are given directly."""

    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    key: str = ""
    value: str = ""
    fields: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    origin: str | None = None
    exception: str = ""
    group: str = ""

    def key_text(self) -> str:
        return self.key

    def value_text(self) -> str:
        return self.value

    def value_fields(self, path: str) -> list[str] | None:
        return self.fields.get(path)

    def header_text(self, name: str) -> str | None:
        return self.headers.get(name)

    def error_text(self) -> str:
        return self.error

    def full_text(self) -> str:
        return "\n".join([self.key, self.value, *self.headers.values(), self.error])

    def origin_text(self) -> str | None:
        return self.origin

    def exception_text(self) -> str:
        return self.exception

    def group_id(self) -> str:
        return self.group


FQCN = "kafka_dlt-exception-fqcn"


def seed(n: int, reason: str = "wrong product", exc: str = "ListenerExecutionFailedException") -> Rec:
    """A record like the seed DLQ `invoice-voided-dead-letter-queue`."""
    key = f"ORD{n:03d}"
    return Rec(
        partition=n % 3,
        offset=n * 10,
        timestamp=ms("2026-11-01T00:00:00") + n * 3_600_000,
        key=key,
        value=f'{{"orderId": "{key}", "reason": "{reason}", "customer": {{"id": "C{n}"}}}}',
        fields={"orderId": [key], "reason": [reason], "customer.id": [f"C{n}"], "tags": ["a", "urgent"]},
        headers={
            FQCN: f"org.springframework.kafka.listener.{exc}",
            "kafka_dlt-original-topic": "invoice-voided",
            "kafka_dlt-exception-message": "Listener failed; nested exception is TimeoutException",
        },
        error=f"org.springframework.kafka.listener.{exc}: Listener failed",
    )


R1 = seed(1)
R2 = seed(2, reason="customer request", exc="TimeoutException")
R3 = seed(3, reason="Wrong Product *special*")


def m(text: str, rec: Rec) -> bool:
    return parse(text).matches(rec)


# --- terms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key:ORD001", True),
        ("key:ord001", True),  # case-insensitive
        ("key:ORD00", False),  # key literal: exact, not substring
        ("key:ORD00*", True),
        ("key:ORD00?", True),
        ("key:*001", True),
        ("key:ORD?", False),
        ('key:"ORD001"', True),
        ('key:"ORD00*"', False),  # quotes make * literal
        ("key:/^ORD0+1$/", True),
        ("key:/^ord/", False),  # regex is case-sensitive
        ("key:/(?i)^ord/", True),
        ("key:/RD0/", True),  # regex searches
    ],
)
def test_key(text: str, expected: bool) -> None:
    assert m(text, R1) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('value:"wrong product"', True),
        ('value:"WRONG PRODUCT"', True),
        ("value:wrong", True),  # value literal: substring
        ("value:wrong*delivered", False),
        ("value:wrong*product", True),  # glob anywhere in the value
        ("value:*product*", True),
        ("value:/reason.: .wrong/", True),
        ('value:"customer request"', False),
    ],
)
def test_value(text: str, expected: bool) -> None:
    assert m(text, R1) is expected


@pytest.mark.parametrize(
    ("text", "r1", "r2", "r3"),
    [
        ("value.reason:wrong*", True, False, True),
        ('value.reason:"wrong product"', True, False, False),
        ("value.reason:wrong", False, False, False),  # field literal: whole value
        ('value.reason:"Wrong Product *special*"', False, False, True),
        ("value.reason:*special?", False, False, True),
        ("value.customer.id:C2", False, True, False),
        ("value.tags:urgent", True, True, True),  # any of several values
        ("value.missing:*", False, False, False),  # a missing field never matches
        ("-value.missing:*", True, True, True),
        ("value.reason:/^cust/", False, True, False),
    ],
)
def test_value_field(text: str, r1: bool, r2: bool, r3: bool) -> None:
    assert [m(text, r) for r in (R1, R2, R3)] == [r1, r2, r3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("header.kafka_dlt-exception-fqcn:*Timeout*", True),
        ("header.kafka_dlt-exception-fqcn:*timeoutexception", True),
        ("header.kafka_dlt-exception-fqcn:Timeout", False),  # header literal: whole value
        ("header.kafka_dlt-exception-fqcn:org.springframework.kafka.listener.TimeoutException", True),
        ("header.kafka_dlt-original-topic:invoice-voided", True),
        ("header.kafka_dlt-original-topic:*", True),  # presence
        ("header.absent.header_x-y:*", False),
        ("-header.absent.header_x-y:*", True),
        ("error:*Timeout*", True),
        ("error:timeout", True),  # error literal: substring
        ("error:Listener*failed", True),
        ("error:/Timeout\\w+:/", True),
    ],
)
def test_header_and_error(text: str, expected: bool) -> None:
    assert m(text, R2) is expected
    assert m(text, R1) is (expected and ("Timeout" not in text and "timeout" not in text))


@pytest.mark.parametrize(
    ("text", "matching"),
    [
        ("partition:0", [0, 3, 6, 9]),
        ("partition:=1", [1, 4, 7]),
        ("partition:>1", [2, 5, 8]),
        ("partition:>=1", [1, 2, 4, 5, 7, 8]),
        ("partition:<1", [0, 3, 6, 9]),
        ("partition:<=0", [0, 3, 6, 9]),
        ("offset:>=50", [5, 6, 7, 8, 9]),
        ("offset:30..60", [3, 4, 5, 6]),
        ("offset:30..", [3, 4, 5, 6, 7, 8, 9]),
        ("offset:..20", [0, 1, 2]),
        ("offset:40..40", [4]),
        ("offset:41..49", []),
        ("offset:<0", []),
    ],
)
def test_partition_offset(text: str, matching: list[int]) -> None:
    assert [n for n in range(10) if m(text, seed(n))] == matching


def at(ts: str) -> Rec:
    return Rec(timestamp=ms(ts))


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        (
            "ts:2026-11-01",
            ["2026-11-01T00:00:00", "2026-11-01T23:59:59.999"],
            ["2026-10-31T23:59:59.999", "2026-11-02"],
        ),
        ("ts:>2026-11-01", ["2026-11-02T00:00:00"], ["2026-11-01T23:59:59.999"]),
        ("ts:>=2026-11-01", ["2026-11-01T00:00:00"], ["2026-10-31T23:59:59.999"]),
        ("ts:<2026-11-01", ["2026-10-31T23:59:59.999"], ["2026-11-01T00:00:00"]),
        ("ts:<=2026-11-01", ["2026-11-01T23:59:59.999"], ["2026-11-02T00:00:00"]),
        (
            "ts:2026-11-01..2026-11-03",
            ["2026-11-01", "2026-11-03T23:59:59.999"],
            ["2026-11-04", "2026-10-31T23:00"],
        ),
        ("ts:2026-11-01T10:00", ["2026-11-01T10:00:00", "2026-11-01T10:00:59.999"], ["2026-11-01T10:01"]),
        ("ts:2026-11-01T10", ["2026-11-01T10:59:59.999"], ["2026-11-01T11:00"]),
        ("ts:>=2026-11-01T10:00:00Z", ["2026-11-01T10:00:00"], ["2026-11-01T09:59:59.999"]),
        ("ts:>=2026-11-01T12:00:00+02:00", ["2026-11-01T10:00:00"], ["2026-11-01T09:59:59.999"]),
        ("ts:2026-11-01T10:00:00.250", ["2026-11-01T10:00:00.250"], ["2026-11-01T10:00:00.251"]),
        ("ts:2026-11-01T10:00:00.5", ["2026-11-01T10:00:00.599"], ["2026-11-01T10:00:00.600"]),
        ("ts:2026-11-01T10:00..", ["2027-01-01"], ["2026-11-01T09:59:59.999"]),
        ("ts:..2026-11-01T10:00", ["2026-11-01T10:00:59.999"], ["2026-11-01T10:01"]),
    ],
)
def test_ts_in_utc_by_precision(text: str, inside: list[str], outside: list[str]) -> None:
    f = parse(text)
    assert all(f.matches(at(t)) for t in inside)
    assert not any(f.matches(at(t)) for t in outside)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ord001", True),  # bare word: case-insensitive substring of the full text
        ("invoice-voided", True),
        ("ORD001 wrong", True),
        ("ORD001 customer", True),  # "customer" is in the value
        ("ORD001 request", False),
        ('"wrong product"', True),
        ('"product wrong"', False),
        ("nested*timeout", True),
        ("/ORD0+1/", True),
        ("/ord0+1/", False),
        ("/invoice\\/voided|invoice-voided/", True),
        ("and", False),  # lowercase keywords are plain words
        ("listener and", False),
    ],
)
def test_full_text(text: str, expected: bool) -> None:
    assert m(text, R1) is expected


def test_empty_filter_matches_everything() -> None:
    for text in ("", "   ", "\t\n"):
        f = parse(text)
        assert f.matches(R1) and f.matches(Rec())
        assert f.matches_all and not f.needs_decode
        assert f == MATCH_ALL
    assert MATCH_ALL.matches(R2) and MATCH_ALL.text == ""


# --- boolean structure ---------------------------------------------------------------------


def test_precedence_or_is_lower_than_and() -> None:
    assert parse("a OR b c").ast == parse("a OR (b AND c)").ast
    assert parse("a b OR c").ast == parse("(a b) OR c").ast
    assert parse("a OR b c").ast != parse("(a OR b) c").ast
    # ORD002's partition is 2: "key:ORD001 OR key:ORD002 partition:0" is ORD001, or ORD002 on partition 0
    f = parse("key:ORD001 OR key:ORD002 partition:0")
    assert f.matches(R1) and not f.matches(R2)
    assert parse("(key:ORD001 OR key:ORD002) partition:2").matches(R2)


@pytest.mark.parametrize(
    ("text", "r1", "r2"),
    [
        ("key:ORD001 AND value.reason:wrong*", True, False),
        ("key:ORD001 value.reason:wrong*", True, False),
        ("key:ORD001 OR key:ORD002", True, True),
        ("NOT key:ORD001", False, True),
        ("-key:ORD001", False, True),
        ("NOT NOT key:ORD001", True, False),
        ("--key:ORD001", True, False),
        ("-(key:ORD001 OR key:ORD002)", False, False),
        ("NOT (key:ORD001 OR key:ORD002)", False, False),
        ("-key:ORD001 -key:ORD003", False, True),
        ("NOT key:ORD001 OR key:ORD001", True, True),  # (NOT a) OR a
        ("(((key:ORD002)))", False, True),
        ('-"wrong product"', False, True),
        ("-/wrong/", False, True),
        ("(key:ORD001)(key:ORD001)", True, False),
    ],
)
def test_boolean(text: str, r1: bool, r2: bool) -> None:
    assert (m(text, R1), m(text, R2)) == (r1, r2)


def test_flattening() -> None:
    ast = parse("a (b c) d").ast
    assert isinstance(ast, And) and len(ast.children) == 4
    ast = parse("a OR (b OR c)").ast
    assert isinstance(ast, Or) and len(ast.children) == 3


def test_quoted_escapes() -> None:
    ast = parse(r'"say \"hi\" c:\\temp\x"').ast
    assert ast == TextTerm(TextField.TEXT, Pattern(PatternKind.LITERAL, 'say "hi" c:\\temp\\x'))
    assert parse(r'key:"a\\"').ast == TextTerm(TextField.KEY, Pattern(PatternKind.LITERAL, "a\\"))
    assert m(r'"quote \" inside"', Rec(value='a quote " inside b'))
    assert parse('"AND"').ast == TextTerm(TextField.TEXT, Pattern(PatternKind.LITERAL, "AND"))
    assert parse('"key:x"').ast == TextTerm(TextField.TEXT, Pattern(PatternKind.LITERAL, "key:x"))


def test_regex_slash_escape() -> None:
    assert parse(r"/a\/b/").ast == TextTerm(TextField.TEXT, Pattern(PatternKind.REGEX, "a/b"))
    assert parse(r"/a\d\\/").ast == TextTerm(TextField.TEXT, Pattern(PatternKind.REGEX, r"a\d\\"))


def test_field_names() -> None:
    assert parse("KEY:x").ast == parse("key:x").ast
    assert parse("Value.Reason:x").ast == TextTerm(
        TextField.VALUE_FIELD, Pattern(PatternKind.LITERAL, "x"), "Reason"
    )
    assert parse("header.a.b_c-d:x").ast == TextTerm(
        TextField.HEADER, Pattern(PatternKind.LITERAL, "x"), "a.b_c-d"
    )
    # a value may contain ':' and a leading '-' or keyword after the field is literal
    assert parse("key:a:b").ast == TextTerm(TextField.KEY, Pattern(PatternKind.LITERAL, "a:b"))
    assert parse("key:-x").ast == TextTerm(TextField.KEY, Pattern(PatternKind.LITERAL, "-x"))
    assert parse("key:OR").ast == TextTerm(TextField.KEY, Pattern(PatternKind.LITERAL, "OR"))
    # a word whose prefix is not a field name is a plain word
    assert parse("12:30").ast == TextTerm(TextField.TEXT, Pattern(PatternKind.LITERAL, "12:30"))


def test_numeric_ast() -> None:
    assert parse("partition:007").ast == Compare(NumField.PARTITION, Op.EQ, Point("7", 7, 8))
    assert parse("offset:100..200").ast == Range(
        NumField.OFFSET, Point("100", 100, 101), Point("200", 200, 201)
    )
    day = ms("2026-11-01T00:00:00")
    assert parse("ts:>2026-11-01").ast == Compare(
        NumField.TS, Op.GT, Point("2026-11-01", day, day + 86_400_000)
    )


# --- what a filter reads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "accessors", "needs_decode"),
    [
        ("partition:0", {"partition"}, False),
        ("offset:>=100 ts:>2026-11-01", {"offset", "timestamp"}, False),
        ("partition:0 OR -offset:5..9", {"partition", "offset"}, False),
        ("key:ORD*", {"key_text"}, True),
        ("partition:0 key:ORD*", {"partition", "key_text"}, True),
        ("value:x value.a:y", {"value_text", "value_fields"}, True),
        ("header.h:x OR error:y", {"header_text", "error_text"}, True),
        ("word", {"full_text"}, True),
        ("/re/", {"full_text"}, True),
    ],
)
def test_accessors(text: str, accessors: set[str], needs_decode: bool) -> None:
    f = parse(text)
    assert f.accessors == accessors
    assert f.needs_decode is needs_decode


@dataclass
class Undecodable(Rec):
    """Fails the test if a text accessor is called."""

    def key_text(self) -> str:
        raise AssertionError("decoded")

    def full_text(self) -> str:
        raise AssertionError("decoded")

    def value_fields(self, path: str) -> list[str] | None:
        raise AssertionError("decoded")


def test_structural_terms_short_circuit_before_text() -> None:
    rec = Undecodable(partition=0, offset=5)
    assert not parse("key:ORD* partition:1").matches(rec)
    assert not parse("word value.x:y offset:>10 key:x").matches(rec)
    assert parse("key:ORD* OR partition:0").matches(rec)
    assert not parse("-(key:x OR partition:0)").matches(rec)
    with pytest.raises(AssertionError):
        parse("key:ORD* partition:0").matches(rec)


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ('key:"ORD001', 4, "unclosed quote"),
        ('value:"wrong \\" product', 6, "unclosed quote"),
        ("(key:ORD001 OR key:ORD002", 25, "expected ')'"),
        ("((a) b", 6, "expected ')'"),
        ("key:ORD001 OR", 13, "expected a term after 'OR'"),
        ("key:ORD001 AND", 14, "expected a term after 'AND'"),
        ("OR key:x", 0, "expected a term, found 'OR'"),
        ("a AND OR b", 6, "expected a term, found 'OR'"),
        ("NOT", 3, "expected a term after 'NOT'"),
        ("a )", 2, "unexpected ')'"),
        ("()", 1, "expected a term, found ')'"),
        ("a - b", 3, "expected a term right after '-'"),
        ("a -", 3, "expected a term right after '-'"),
        ("offset:>=abc", 9, "offset expects a whole number"),
        ("offset:=>5", 7, "unknown comparison '=>'"),
        ("offset:>>5", 7, "unknown comparison '>>'"),
        ("partition:>", 11, "expected a number after '>'"),
        ("partition:-1", 10, "whole number"),
        ('partition:"0"', 10, "partition expects a number"),
        ("partition:/0/", 10, "partition expects a number"),
        ("offset:5..3", 7, "empty range"),
        ("offset:..", 7, "needs a start or an end"),
        ("offset:1..2..3", 10, "whole number"),
        ("offset:99999999999999999999", 7, "too large"),
        ("ts:2026-02-30", 3, "invalid date '2026-02-30'"),
        ("ts:>2026-11-01T25:00", 4, "invalid date"),
        ("ts:yesterday", 3, "ts expects a date"),
        ("ts:2026-11-01T10:00+25:00", 3, "invalid UTC offset"),
        ("ts:2026-11-03..2026-11-01", 3, "empty range"),
        ("/ab(/", 3, "invalid regex"),
        ("key:/a[/", 6, "invalid regex"),
        ("/unclosed", 0, "unclosed regex"),
        ("foo:bar", 0, "unknown field 'foo'"),
        ("key:x timestamp:>5", 6, "unknown field 'timestamp'"),
        ("key.x:1", 3, "'key' has no sub-fields"),
        ("offset.x:1", 6, "'offset' has no sub-fields"),
        ("value.:x", 6, "expected a field path"),
        ("value.a..b:x", 6, "expected a field path"),
        ("header:x", 6, "expected a header name"),
        ("key:", 4, "expected a value right after 'key:'"),
        ("key: ORD001", 4, "expected a value right after 'key:'"),
        ('"abc"def', 5, "expected a space after the closing quote"),
        ("/a/b", 3, "expected a space after the regex"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), MAX_DEPTH, "nested too deeply"),
        ("-" * (MAX_DEPTH + 1) + "a", MAX_DEPTH, "nested too deeply"),
    ],
)
def test_error_positions(text: str, position: int, fragment: str) -> None:
    with pytest.raises(FilterError) as info:
        parse(text)
    err = info.value
    assert fragment in err.message
    assert err.position == position, err
    assert err.text == text
    assert str(err) == f"{err.message} at column {position + 1}"


def test_unknown_field_lists_known_fields() -> None:
    with pytest.raises(FilterError) as info:
        parse("foo:bar")
    for known in ("key", "value", "value.<path>", "header.<name>", "error", "partition", "offset", "ts"):
        assert known in info.value.message


def test_error_str_and_render() -> None:
    err = FilterError("expected ')'", 11, "(key:ORD001")
    assert str(err) == "expected ')' at column 12"
    assert err.column == 12
    assert err.render() == "(key:ORD001\n           ^"
    with pytest.raises(FilterError) as info:
        parse('key:ORD001 value:"oops')
    assert info.value.render() == 'key:ORD001 value:"oops\n                 ^'
    with pytest.raises(FilterError) as info:
        parse("注文\tfoo:x")
    assert info.value.render() == "注文 foo:x\n     ^"


def test_nesting_at_the_limit_is_fine() -> None:
    depth = MAX_DEPTH
    assert parse("(" * depth + "ORD001" + ")" * depth).matches(R1)
    assert parse("-" * depth + "ORD001").matches(R1) is (depth % 2 == 0)


# --- the printer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "key:ORD00* value.reason:wrong* OR -(partition:0 OR offset:100..200) ts:>2026-11-01",
        'value:"wrong product" header.kafka_dlt-exception-fqcn:*Timeout* error:x',
        r'"a \"b\"" /a\/b/ key:/^x$/ "-x" "OR" "key:x" "" key:""',
        "offset:..5 offset:5.. ts:2026-11-01T10:00:00.5+02:00 partition:<=3 --a",
    ],
)
def test_unparse_round_trip_examples(text: str) -> None:
    ast = parse(text).ast
    assert parse(unparse(ast)).ast == ast


def test_from_ast_and_equality() -> None:
    ast = Or(
        (
            TextTerm(TextField.KEY, Pattern(PatternKind.LITERAL, "ORD 001")),
            Compare(NumField.OFFSET, Op.GE, Point("5", 5, 6)),
        )
    )
    f = Filter.from_ast(ast)
    assert f.text == 'key:"ORD 001" OR offset:>=5'
    assert f == parse('key:"ORD 001" OR offset:>=5') and hash(f) == hash(parse(f.text))
    assert repr(f) == "Filter('key:\"ORD 001\" OR offset:>=5')"
    with pytest.raises(ValueError):
        unparse(TextTerm(TextField.KEY, Pattern(PatternKind.GLOB, "a *")))


# --- properties ----------------------------------------------------------------------------


def parse_or_error(text: str) -> None:
    try:
        f = parse(text)
    except FilterError as e:
        assert 0 <= e.position <= len(text)
        e.render()
        return
    f.matches(R1)
    f.matches(Rec())


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_arbitrary_text_never_crashes(text: str) -> None:
    parse_or_error(text)


TOKENS = [
    *("key:", "value:", "value.reason:", "value.a.b:", "header.kafka_dlt-exception-fqcn:", "error:"),
    *("partition:", "offset:", "ts:", "foo:", "AND", "OR", "NOT", "and", "-", "(", ")", '"', '\\"', "\\"),
    *("/", "\\/", "*", "?", "..", ">", ">=", "<", "<=", "=", "=>", "0", "100", "2026-11-01", "2026-13-45"),
    *("T10:00", "T10:00:00.123", "Z", "+02:00", ":", "ORD00", "wrong product", "[", "a{2}", "(?i)"),
    *(" ", "\t"),
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), max_size=12),
    st.lists(st.sampled_from(["", " "]), min_size=12, max_size=12),
)
def test_parse_token_soup_never_crashes(tokens: list[str], seps: list[str]) -> None:
    parse_or_error("".join(t + s for t, s in zip(tokens, seps, strict=False)))


# A generator of canonical trees (as `parse` builds them) for the round trip.

WORD_CHARS = "abcORD019_.-:*?\\\"'é"
name_st = st.from_regex(r"[a-z][a-z0-9_]{0,4}(\.[a-z][a-z0-9_]{0,4}){0,2}", fullmatch=True)
header_st = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,14}", fullmatch=True)


def _valid_regex(text: str) -> bool:
    try:
        compile_regex(text)
    except (re.error, ValueError, OverflowError, RecursionError):
        return False
    i = 0
    while i < len(text):  # `\/` never survives tokenizing (it becomes `/`)
        if text[i] == "\\":
            if text[i + 1 : i + 2] == "/":
                return False
            i += 2
        else:
            i += 1
    return True


def _glob_st() -> st.SearchStrategy[str]:
    return st.tuples(
        st.text(WORD_CHARS, max_size=4), st.sampled_from("*?"), st.text(WORD_CHARS, max_size=4)
    ).map("".join)


pattern_st = st.one_of(
    st.builds(Pattern, st.just(PatternKind.LITERAL), st.text(max_size=8)),
    st.builds(Pattern, st.just(PatternKind.LITERAL), st.text(WORD_CHARS, max_size=6)),
    st.builds(Pattern, st.just(PatternKind.GLOB), _glob_st()),
    st.builds(
        Pattern, st.just(PatternKind.REGEX), st.text("ab/\\.*+?()[]^$|d ", max_size=8).filter(_valid_regex)
    ),
)


@st.composite
def text_term_st(draw: st.DrawFn) -> TextTerm:
    fld = draw(st.sampled_from(list(TextField)))
    name = ""
    if fld is TextField.VALUE_FIELD:
        name = draw(name_st)
    elif fld is TextField.HEADER:
        name = draw(header_st)
    term = TextTerm(fld, draw(pattern_st), name)
    try:
        unparse(term)
    except ValueError:  # a glob that cannot be written unquoted here (e.g. a bare `-x*`)
        assume(False)
    return term


TIME_TEXTS = [
    *("2026-11-01", "2026-11-01T10", "2026-11-01T10:00", "2026-11-01T10:00:59", "2026-11-01T10:00:59.5"),
    *("2026-11-01T10:00:59.123456Z", "2026-11-01t10:00+02:00", "2026-11-01T23:59:59-0130"),
    *("1970-01-01", "9999-12-31"),
]


@st.composite
def point_st(draw: st.DrawFn, fld: NumField) -> Point:
    if fld is NumField.TS:
        text = draw(st.sampled_from(TIME_TEXTS))
        return _time_point(text, 0)
    n = draw(st.integers(0, 10**12))
    return Point(str(n), n, n + 1)


@st.composite
def number_term_st(draw: st.DrawFn) -> Compare | Range:
    fld = draw(st.sampled_from(list(NumField)))
    if draw(st.booleans()):
        return Compare(fld, draw(st.sampled_from(list(Op))), draw(point_st(fld)))
    start = draw(st.none() | point_st(fld))
    end = draw(st.none() | point_st(fld))
    assume(start is not None or end is not None)
    assume(start is None or end is None or start.lo < end.hi)
    return Range(fld, start, end)


def _flat(cls: type[And] | type[Or], parts: list[Node]) -> Node:
    out: list[Node] = []
    for p in parts:
        out.extend(p.children if isinstance(p, cls) else (p,))
    return cls(tuple(out))


node_st: st.SearchStrategy[Node] = st.recursive(
    st.one_of(text_term_st(), number_term_st()),
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda ps: _flat(And, ps)),
        st.lists(inner, min_size=2, max_size=3).map(lambda ps: _flat(Or, ps)),
    ),
    max_leaves=8,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(node_st)
def test_round_trip_printed_tree_parses_back_equal(node: Node) -> None:
    text = unparse(node)
    assert parse(text).ast == node, text


# A plain reference interpreter, to check the compiled (reordered, specialised) predicates.


def _texts(t: TextTerm, r: Rec) -> list[str]:
    match t.field:
        case TextField.TEXT:
            return [r.full_text()]
        case TextField.KEY:
            return [r.key_text()]
        case TextField.VALUE:
            return [r.value_text()]
        case TextField.ERROR:
            return [r.error_text()]
        case TextField.HEADER:
            h = r.header_text(t.name)
            return [] if h is None else [h]
        case TextField.VALUE_FIELD:
            return r.value_fields(t.name) or []
        case TextField.ORIGIN:
            o = r.origin_text()
            return [] if o is None else [o]
        case TextField.EXCEPTION:
            return [r.exception_text()]
        case TextField.GROUP:
            return [r.group_id()]


def _text_matches(t: TextTerm, s: str) -> bool:
    p = t.pattern
    if p.kind is PatternKind.REGEX:
        return compile_regex(p.text).search(s) is not None
    whole = t.field in (
        TextField.KEY,
        TextField.VALUE_FIELD,
        TextField.HEADER,
        TextField.ORIGIN,
        TextField.GROUP,
    )
    glob = p.text.replace("[", "[[]") if p.kind is PatternKind.GLOB else fnmatch_escape(p.text)
    return fnmatch.fnmatchcase(s.lower(), (glob if whole else f"*{glob}*").lower())


def fnmatch_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def reference(node: Node, r: Rec) -> bool:
    if isinstance(node, TextTerm):
        return any(_text_matches(node, s) for s in _texts(node, r))
    if isinstance(node, Compare | Range):
        x = {NumField.PARTITION: r.partition, NumField.OFFSET: r.offset, NumField.TS: r.timestamp}[node.field]
        if isinstance(node, Range):
            return (node.start is None or x >= node.start.lo) and (node.end is None or x < node.end.hi)
        v = node.value
        return {
            Op.EQ: v.lo <= x < v.hi,
            Op.GT: x >= v.hi,
            Op.GE: x >= v.lo,
            Op.LT: x < v.lo,
            Op.LE: x < v.hi,
        }[node.op]
    if isinstance(node, Not):
        return not reference(node.child, r)
    if isinstance(node, And):
        return all(reference(c, r) for c in node.children)
    return any(reference(c, r) for c in node.children)


SMALL = "abcORD01_-*?é "
rec_st = st.builds(
    Rec,
    partition=st.integers(0, 3),
    offset=st.integers(0, 10**12 + 2),
    timestamp=st.sampled_from(
        [0, ms("2026-11-01"), ms("2026-11-01T10:00:59.5"), ms("2026-11-01T08:30"), 253402300799999]
    ),
    key=st.text(SMALL, max_size=6),
    value=st.text(SMALL, max_size=10),
    fields=st.dictionaries(name_st, st.lists(st.text(SMALL, max_size=4), max_size=2), max_size=2),
    headers=st.dictionaries(header_st, st.text(SMALL, max_size=5), max_size=2),
    error=st.text(SMALL, max_size=6),
    origin=st.none() | st.text(SMALL, max_size=5),
    exception=st.text(SMALL, max_size=6),
    group=st.text("0123456789abcdef", max_size=3),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(node_st, st.lists(rec_st, min_size=1, max_size=4))
def test_compiled_filter_agrees_with_reference_interpreter(node: Node, recs: list[Rec]) -> None:
    f = Filter.from_ast(node)
    for r in recs:
        assert f.matches(r) is reference(node, r), (f.text, r)
