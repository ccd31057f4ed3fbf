"""Tokenizer and recursive-descent parser of the filter language (see docs/filters.md).

Grammar (AND binds tighter than OR; NOT and `-` bind tightest)::

    filter   := or_expr? END
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*
    unary    := ("NOT" | "-")* primary
    primary  := "(" or_expr ")" | FIELD value | WORD | QUOTED | REGEX
    value    := WORD | QUOTED | REGEX          (immediately after "name:", no space)

Nothing is ever evaluated: the text becomes a tree of `filter_ast` nodes, or a `FilterError`.
"""

from __future__ import annotations

import enum
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol, cast

import re2

from dlq_tui.triage.filter_ast import (
    FIELD_PREFIX,
    And,
    Compare,
    FilterError,
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

MAX_DEPTH = 100
"""Deepest nesting of parentheses and NOTs accepted (keeps recursion far from Python's limit)."""

KNOWN_FIELDS = (
    "key, value, value.<path>, header.<name>, error, exception, origin, group, partition, offset, ts"
)
_SIMPLE_TEXT_FIELDS = {
    "key": TextField.KEY,
    "error": TextField.ERROR,
    "origin": TextField.ORIGIN,
    "exception": TextField.EXCEPTION,
    "group": TextField.GROUP,
}


class Kind(enum.Enum):
    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    MINUS = "-"
    WORD = "word"
    QUOTED = "quoted string"
    REGEX = "regex"
    FIELD = "field"
    END = "end of filter"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # decoded content: the word, the unescaped string or regex, the field name
    pos: int  # index of the token's first character in the source
    end: int  # index just past it


_TERM_START = frozenset({Kind.LPAREN, Kind.NOT, Kind.MINUS, Kind.WORD, Kind.QUOTED, Kind.REGEX, Kind.FIELD})
_KEYWORD_KINDS = {"AND": Kind.AND, "OR": Kind.OR, "NOT": Kind.NOT}


class Regex(Protocol):
    def search(self, text: str) -> object: ...


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would print its parse errors on stderr (over the TUI)


def compile_regex(text: str) -> Regex:
    """A `/regex/` compiled for RE2, which matches in time linear in the text (Python's `re` can
    take hours on one 5 MB value: issue 13.6) and releases the GIL while it matches. The syntax
    is Python's minus backreferences and lookaround. Python's `re` parses first, for its error
    positions (without its FutureWarnings, which would be printed over the TUI). Raises
    `re.error`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        re.compile(text)
    try:
        return cast(Regex, re2.compile(text, _RE2_OPTIONS))
    except re2.error as exc:
        detail = (
            exc.args[0].decode("utf-8", "replace")
            if exc.args and isinstance(exc.args[0], bytes)
            else str(exc)
        )
        raise re.error(
            f"{detail} (regexes run on RE2, in linear time: no backreferences or lookaround)"
        ) from None


def _boundary(src: str, i: int) -> bool:
    return i >= len(src) or src[i].isspace() or src[i] in "()"


def _word_end(src: str, i: int) -> int:
    n = len(src)
    while i < n and not src[i].isspace() and src[i] not in "()":
        i += 1
    return i


def _quoted(src: str, start: int) -> Token:
    """A `"..."` string at `start`; `\\"` and `\\\\` are escapes, other backslashes are literal."""
    buf: list[str] = []
    i, n = start + 1, len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in '"\\':
            buf.append(src[i + 1])
            i += 2
        elif c == '"':
            return Token(Kind.QUOTED, "".join(buf), start, i + 1)
        else:
            buf.append(c)
            i += 1
    raise FilterError("unclosed quote", start)


def _regex(src: str, start: int) -> Token:
    """A `/.../` regex at `start`; `\\/` is a slash, other escapes pass through to `re`."""
    buf: list[str] = []
    where: list[int] = []  # source index of each pattern character, for error positions
    i, n = start + 1, len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            if src[i + 1] == "/":
                buf.append("/")
                where.append(i)
            else:
                buf.extend((c, src[i + 1]))
                where.extend((i, i + 1))
            i += 2
        elif c == "/":
            text = "".join(buf)
            try:
                compile_regex(text)
            except re.error as e:
                pos = where[e.pos] if e.pos is not None and e.pos < len(where) else i
                raise FilterError(f"invalid regex: {e.msg}", pos) from None
            except (ValueError, OverflowError, RecursionError) as e:
                raise FilterError(f"invalid regex: {e}", start) from None
            return Token(Kind.REGEX, text, start, i + 1)
        else:
            buf.append(c)
            where.append(i)
            i += 1
    raise FilterError("unclosed regex (a '/' starts a regex; quote the word to search for it)", start)


def _delimited(src: str, i: int) -> Token:
    tok = _quoted(src, i) if src[i] == '"' else _regex(src, i)
    if not _boundary(src, tok.end):
        what = "closing quote" if tok.kind is Kind.QUOTED else "regex"
        raise FilterError(f"expected a space after the {what}", tok.end)
    return tok


def tokenize(src: str) -> list[Token]:
    """Split filter text into tokens, ending with an END token."""
    out: list[Token] = []
    i, n = 0, len(src)
    while True:
        while i < n and src[i].isspace():
            i += 1
        if i >= n:
            out.append(Token(Kind.END, "", n, n))
            return out
        c = src[i]
        if c in "()":
            out.append(Token(Kind.LPAREN if c == "(" else Kind.RPAREN, c, i, i + 1))
            i += 1
        elif c == "-":
            if i + 1 >= n or src[i + 1].isspace() or src[i + 1] == ")":
                raise FilterError("expected a term right after '-'", i + 1)
            out.append(Token(Kind.MINUS, c, i, i + 1))
            i += 1
        elif c in '"/':
            tok = _delimited(src, i)
            out.append(tok)
            i = tok.end
        elif m := FIELD_PREFIX.match(src, i):
            out.append(Token(Kind.FIELD, m.group(1), i, m.end()))
            i = m.end()
            if _boundary(src, i):
                raise FilterError(f"expected a value right after '{m.group(0)}'", i)
            if src[i] in '"/':
                tok = _delimited(src, i)
            else:
                end = _word_end(src, i)
                tok = Token(Kind.WORD, src[i:end], i, end)
            out.append(tok)
            i = tok.end
        else:
            end = _word_end(src, i)
            word = src[i:end]
            out.append(Token(_KEYWORD_KINDS.get(word, Kind.WORD), word, i, end))
            i = end


def _word_pattern(text: str) -> Pattern:
    return Pattern(PatternKind.GLOB if ("*" in text or "?" in text) else PatternKind.LITERAL, text)


def _token_pattern(tok: Token) -> Pattern:
    if tok.kind is Kind.QUOTED:
        return Pattern(PatternKind.LITERAL, tok.text)
    if tok.kind is Kind.REGEX:
        return Pattern(PatternKind.REGEX, tok.text)
    return _word_pattern(tok.text)


# --- numbers and times -------------------------------------------------------------------------

_INT = re.compile(r"[0-9]+", re.ASCII)
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?",
    re.ASCII | re.IGNORECASE,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000


def _int_point(text: str, pos: int, field: NumField) -> Point:
    if not _INT.fullmatch(text):
        raise FilterError(f"{field.value} expects a whole number, not {text!r}", pos)
    if len(text) > 19:
        raise FilterError(f"number too large: {text}", pos)
    n = int(text)
    return Point(str(n), n, n + 1)


def _tz(spec: str | None, pos: int) -> timezone:
    if spec is None or spec.upper() == "Z":
        return UTC
    digits = spec[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or "0")
    if hours > 23 or minutes > 59:
        raise FilterError(f"invalid UTC offset {spec!r}", pos)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if spec[0] == "-" else delta)


def _time_point(text: str, pos: int) -> Point:
    """ISO date or date-time; without an offset it is UTC. The point spans its precision."""
    m = _TIME.fullmatch(text)
    if not m:
        raise FilterError(
            f"ts expects a date or date-time like 2026-11-01 or 2026-11-01T10:30:00Z, not {text!r}", pos
        )
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        dt = datetime(
            int(y),
            int(mo),
            int(d),
            int(h or 0),
            int(mi or 0),
            int(s or 0),
            int((frac or "0").ljust(6, "0")),
            tzinfo=_tz(tz, pos),
        )
    except ValueError as e:
        raise FilterError(f"invalid date {text!r}: {e}", pos) from None
    delta = dt - _EPOCH
    lo_us = delta.days * _DAY_US + delta.seconds * 1_000_000 + delta.microseconds
    if frac:
        span = 10 ** (6 - len(frac))
    elif s:
        span = 1_000_000
    elif mi:
        span = 60_000_000
    elif h:
        span = 3_600_000_000
    else:
        span = _DAY_US
    # Timestamps are whole milliseconds: t*1000 >= lo_us  <=>  t >= ceil(lo_us / 1000).
    return Point(text, -(-lo_us // 1000), -(-(lo_us + span) // 1000))


def _point(field: NumField, text: str, pos: int) -> Point:
    return _time_point(text, pos) if field is NumField.TS else _int_point(text, pos, field)


def _numeric(field: NumField, tok: Token) -> Compare | Range:
    what = "a date" if field is NumField.TS else "a number"
    example = "ts:>=2026-11-01" if field is NumField.TS else f"{field.value}:>=100"
    if tok.kind is not Kind.WORD:
        raise FilterError(
            f"{field.value} expects {what}, a comparison like {example} or a range like a..b", tok.pos
        )
    s, pos = tok.text, tok.pos
    for op in (">=", "<=", ">", "<", "="):
        if s.startswith(op):
            rest = s[len(op) :]
            if not rest:
                raise FilterError(f"expected {what} after '{op}'", pos + len(op))
            if rest[0] in "<>=":
                raise FilterError(f"unknown comparison '{op}{rest[0]}' (use > >= < <= =)", pos)
            return Compare(field, Op(op), _point(field, rest, pos + len(op)))
    if ".." in s:
        a, _, b = s.partition("..")
        if not a and not b:
            raise FilterError(f"a range needs a start or an end, e.g. {field.value}:100..200", pos)
        start = _point(field, a, pos) if a else None
        end = _point(field, b, pos + len(a) + 2) if b else None
        if start is not None and end is not None and start.lo >= end.hi:
            raise FilterError(f"empty range: {a} is after {b}", pos)
        return Range(field, start, end)
    return Compare(field, Op.EQ, _point(field, s, pos))


# --- the parser --------------------------------------------------------------------------------


def _field_term(ftok: Token, vtok: Token) -> Node:
    base, dot, rest = ftok.text.partition(".")
    lbase = base.lower()
    sub_pos = ftok.pos + len(base)
    if lbase in ("partition", "offset", "ts"):
        if dot:
            raise FilterError(f"'{lbase}' has no sub-fields", sub_pos)
        return _numeric(NumField(lbase), vtok)
    name = ""
    if lbase in _SIMPLE_TEXT_FIELDS:
        if dot:
            raise FilterError(f"'{lbase}' has no sub-fields", sub_pos)
        field = _SIMPLE_TEXT_FIELDS[lbase]
    elif lbase == "value":
        field = TextField.VALUE_FIELD if dot else TextField.VALUE
        if dot and (not rest or "" in rest.split(".")):
            raise FilterError("expected a field path like value.reason or value.customer.id", sub_pos + 1)
        name = rest
    elif lbase == "header":
        if not rest:
            raise FilterError(
                "expected a header name, e.g. header.kafka_dlt-exception-fqcn", sub_pos + len(dot)
            )
        field, name = TextField.HEADER, rest
    else:
        raise FilterError(
            f"unknown field '{ftok.text}'; known fields: {KNOWN_FIELDS}"
            " (quote the word to search for it as text)",
            ftok.pos,
        )
    return TextTerm(field, _token_pattern(vtok), name)


def _join(cls: type[And] | type[Or], parts: list[Node]) -> Node:
    if len(parts) == 1:
        return parts[0]
    flat: list[Node] = []
    for p in parts:
        flat.extend(p.children if isinstance(p, cls) else (p,))
    return cls(tuple(flat))


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = tokenize(src)
        self.i = 0

    def peek(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.peek().kind is Kind.END:
            return And(())
        node = self.or_expr(0)
        tok = self.peek()
        if tok.kind is not Kind.END:  # only a stray ')' can stop or_expr early
            raise FilterError("unexpected ')' (no '(' to close)", tok.pos)
        return node

    def or_expr(self, depth: int) -> Node:
        parts = [self.and_expr(depth)]
        while self.peek().kind is Kind.OR:
            self.take()
            parts.append(self.and_expr(depth))
        return _join(Or, parts)

    def and_expr(self, depth: int) -> Node:
        parts = [self.unary(depth)]
        while True:
            kind = self.peek().kind
            if kind is Kind.AND:
                self.take()
            elif kind not in _TERM_START:
                break
            parts.append(self.unary(depth))
        return _join(And, parts)

    def unary(self, depth: int) -> Node:
        nots = 0
        while self.peek().kind in (Kind.NOT, Kind.MINUS):
            tok = self.take()
            nots += 1
            if depth + nots > MAX_DEPTH:
                raise FilterError("filter is nested too deeply", tok.pos)
        node = self.primary(depth + nots)
        for _ in range(nots):
            node = Not(node)
        return node

    def primary(self, depth: int) -> Node:
        tok = self.take()
        if tok.kind is Kind.LPAREN:
            if depth + 1 > MAX_DEPTH:
                raise FilterError("filter is nested too deeply", tok.pos)
            node = self.or_expr(depth + 1)
            close = self.peek()
            if close.kind is not Kind.RPAREN:
                raise FilterError("expected ')'", close.pos)
            self.take()
            return node
        if tok.kind is Kind.FIELD:
            return _field_term(tok, self.take())
        if tok.kind in (Kind.WORD, Kind.QUOTED, Kind.REGEX):
            return TextTerm(TextField.TEXT, _token_pattern(tok))
        if tok.kind is Kind.END:
            prev = self.toks[self.i - 2] if self.i >= 2 else None
            after = f" after '{self.src[prev.pos : prev.end]}'" if prev else ""
            raise FilterError(f"expected a term{after}", tok.pos)
        raise FilterError(f"expected a term, found '{tok.text}'", tok.pos)


def parse_ast(text: str) -> Node:
    """Parse filter text into a tree. Raises `FilterError` (with `.text` set) on bad input."""
    try:
        return _Parser(text).parse()
    except FilterError as e:
        e.text = text
        raise
