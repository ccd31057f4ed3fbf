"""The filter language: `parse(text)` -> `Filter`, evaluated against a `FilterSubject`.

The user-facing reference is docs/filters.md. In short::

    key:ORD00*   value:"wrong product"   value.reason:wrong*   header.kafka_dlt-exception-fqcn:*Timeout*
    error:*Timeout*   exception:*Timeout*   origin:orders   group:3fa9c2e1b0   partition:0   offset:>=100   offset:100..200   ts:>2026-11-01   timeout   /re/
    a b (AND)   a AND b   a OR b   NOT a   -a   (a OR b) c

Matching rules:

* All text matching is case-insensitive, except `/regex/` (Python `re`, case-sensitive unless the
  pattern says `(?i)`; searched anywhere in the text, anchor with `^`/`$`).
* An unquoted word with `*` (any run of characters, also none) or `?` (one character) is a glob;
  anything else, and every quoted string, is a literal (quotes make `*` and `?` ordinary).
* `key:`, `value.<path>:` and `header.<name>:` hold one short value each, so a literal or glob
  must match the *whole* text: `key:ORD001` is that key exactly, `key:ORD00*` a prefix.
* `value:`, `error:` and bare words look at long text, so a literal or glob matches *anywhere*
  inside it: `value:"wrong product"` is a substring test, `error:*Timeout*` = `error:Timeout`.
* `value.<path>` matches when any of the values at that path matches; a missing field or a missing
  header never matches (so `-header.x:*` selects records without it).
* A key or value that could not be decoded (registry down, a poison record) makes a term over it
  *unknown* (unless the shown fallback text matches): NOT unknown is unknown, AND/OR follow
  Kleene's three-valued logic, and an unknown record is not a match — not even of a negation.
* `partition`, `offset` and `ts` take `N`, `>N`, `>=N`, `<N`, `<=N`, `=N` or inclusive ranges
  `A..B`, `A..`, `..B`. Times are ISO dates or date-times; without a UTC offset they are UTC.
  A time stands for the whole span of its precision: `ts:2026-11-01` is that day,
  `ts:>2026-11-01` starts the next day, `ts:<=2026-11-01` includes the day,
  `ts:2026-11-01..2026-11-03` is three whole days.

Evaluation is compiled once per parse into nested closures (globs and regexes precompiled); `AND`
and `OR` short-circuit and evaluate cheap partition/offset/ts tests before any text test, so a
lazily decoding subject decodes only the records those tests let through.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from dlq_tui.triage.filter_ast import (
    And,
    Compare,
    FilterError,
    Node,
    Not,
    NumField,
    Op,
    Pattern,
    PatternKind,
    Range,
    TextField,
    TextTerm,
    unparse,
)
from dlq_tui.triage.filter_parse import compile_regex, parse_ast
from dlq_tui.triage.records import FilterSubject

__all__ = [
    "MATCH_ALL",
    "STRUCTURAL_ACCESSORS",
    "Filter",
    "FilterError",
    "Node",
    "parse",
    "text_test",
    "unparse",
]

Predicate = Callable[[FilterSubject], bool | None]
"""True (match), False (no match) or None (unknown: the filter looks at a key or value that could
not be decoded, and the answer depends on it)."""

STRUCTURAL_ACCESSORS = frozenset({"partition", "offset", "timestamp"})
"""Accessors that need no decoding."""

_ACCESSOR = {
    TextField.TEXT: "full_text",
    TextField.KEY: "key_text",
    TextField.VALUE: "value_text",
    TextField.VALUE_FIELD: "value_fields",
    TextField.HEADER: "header_text",
    TextField.ERROR: "error_text",
    TextField.ORIGIN: "origin_text",
    TextField.EXCEPTION: "exception_text",
    TextField.GROUP: "group_id",
}
_NUM_ACCESSOR = {NumField.PARTITION: "partition", NumField.OFFSET: "offset", NumField.TS: "timestamp"}

# Relative evaluation cost, used to order the operands of AND/OR (cheapest first).
_COST = {
    TextField.KEY: 10,
    TextField.HEADER: 10,
    TextField.ERROR: 20,
    TextField.GROUP: 15,
    TextField.ORIGIN: 20,
    TextField.EXCEPTION: 20,
    TextField.VALUE_FIELD: 30,
    TextField.VALUE: 40,
    TextField.TEXT: 50,
}
_NUM_COST = 1
_REGEX_COST = 5

_FLAGS = re.IGNORECASE | re.DOTALL


def _glob_regex(glob: str, whole: bool) -> str:
    """`*` and `?` only; everything else literal. Runs of `*` collapse; in search mode the
    leading and trailing `*` are dropped (they add nothing to an unanchored search)."""
    glob = re.sub(r"\*+", "*", glob)
    if not whole:
        glob = glob.strip("*")
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)


def _has_case(text: str) -> bool:
    return text.lower() != text or text.upper() != text


def _text_test(field: TextField, pattern: Pattern) -> Callable[[str], object]:
    """A test of one decoded text; its result is used for truthiness only."""
    if pattern.kind is PatternKind.REGEX:
        return compile_regex(pattern.text).search
    whole = field.whole
    lit: str | None = pattern.text if pattern.kind is PatternKind.LITERAL else None
    if lit is None:
        # `*Timeout*` (whole) and `Timeout*` (anywhere) are plain substring tests.
        core = re.sub(r"\*+", "*", pattern.text)
        if not whole or (len(core) > 2 and core[0] == core[-1] == "*"):
            core = core.strip("*")
            if "*" not in core and "?" not in core:
                whole, lit = False, core
    if lit is None:
        rx = _glob_regex(pattern.text, whole)
    elif not whole:  # a substring test: `in` is several times faster than an IGNORECASE search
        if not _has_case(lit):
            return _contains(lit)
        return _contains_lower(lit.lower())
    elif not _has_case(lit):  # digits, punctuation
        return lit.__eq__
    else:
        rx = re.escape(lit)
    compiled = re.compile(rx, _FLAGS)
    return compiled.fullmatch if whole else compiled.search


text_test = _text_test
"""The test a text term runs on one decoded text (for scans that find the text another way)."""


def _contains(needle: str) -> Callable[[str], bool]:
    def contains(text: str) -> bool:
        return needle in text

    return contains


def _contains_lower(needle: str) -> Callable[[str], bool]:
    def contains_lower(text: str) -> bool:
        return needle in text.lower()

    return contains_lower


def _undecoded(s: FilterSubject, part: str) -> bool:
    """Whether the subject says its key or value (`part`) could not be decoded (registry down, a
    poison record). Subjects that cannot tell (no `is_undecoded`) are always decoded."""
    check = getattr(s, "is_undecoded", None)
    return bool(check is not None and check(part))


def _text_predicate(term: TextTerm) -> Predicate:
    """A text term: True or False; None (unknown) where the text it looks at could not be
    decoded and the test did not match what is shown instead (hex, or the raw text)."""
    test = _text_test(term.field, term.pattern)
    name = term.name
    field = term.field
    if field is TextField.KEY:

        def key(s: FilterSubject) -> bool | None:
            if test(s.key_text()):
                return True
            return None if _undecoded(s, "key") else False

        return key
    if field is TextField.VALUE:

        def value(s: FilterSubject) -> bool | None:
            if test(s.value_text()):
                return True
            return None if _undecoded(s, "value") else False

        return value
    if field is TextField.ERROR:

        def error(s: FilterSubject) -> bool:
            return bool(test(s.error_text()))

        return error
    if field is TextField.TEXT:

        def text(s: FilterSubject) -> bool | None:
            if test(s.full_text()):
                return True
            return None if _undecoded(s, "value") or _undecoded(s, "key") else False

        return text
    if field in _DLQ_TERMS:
        return _dlq_predicate(field, test)
    if field is TextField.HEADER:

        def header(s: FilterSubject) -> bool:
            t = s.header_text(name)
            return False if t is None else bool(test(t))

        return header

    def value_field(s: FilterSubject) -> bool | None:
        values = s.value_fields(name)
        if values:
            for v in values:
                if test(v):
                    return True
        return None if _undecoded(s, "value") else False

    return value_field


_DLQ_TERMS = frozenset({TextField.ORIGIN, TextField.EXCEPTION, TextField.GROUP})


def _dlq_predicate(field: TextField, test: Callable[[str], object]) -> Predicate:
    """`origin:`, `exception:` and `group:`: a record without an origin topic never matches `origin:`."""
    if field is TextField.ORIGIN:

        def origin(s: FilterSubject) -> bool:
            t = s.origin_text()
            return False if t is None else bool(test(t))

        return origin
    if field is TextField.EXCEPTION:

        def exception(s: FilterSubject) -> bool:
            return bool(test(s.exception_text()))

        return exception

    def group(s: FilterSubject) -> bool:
        return bool(test(s.group_id()))

    return group


def _bounds(node: Compare | Range) -> tuple[int | None, int | None]:
    """The half-open interval `[lo, hi)` of accepted values; None is unbounded."""
    if isinstance(node, Range):
        return (node.start.lo if node.start else None, node.end.hi if node.end else None)
    lo, hi = node.value.lo, node.value.hi
    match node.op:
        case Op.EQ:
            return lo, hi
        case Op.GT:
            return hi, None
        case Op.GE:
            return lo, None
        case Op.LT:
            return None, lo
        case Op.LE:
            return None, hi


def _number_predicate(node: Compare | Range) -> Predicate:
    get: Callable[[FilterSubject], int] = operator.attrgetter(_NUM_ACCESSOR[node.field])
    lo, hi = _bounds(node)
    if lo is not None and hi is not None:
        if hi == lo + 1:

            def equal(s: FilterSubject) -> bool:
                return get(s) == lo

            return equal

        def between(s: FilterSubject) -> bool:
            return lo <= get(s) < hi

        return between
    if lo is not None:

        def at_least(s: FilterSubject) -> bool:
            return get(s) >= lo

        return at_least
    assert hi is not None

    def below(s: FilterSubject) -> bool:
        return get(s) < hi

    return below


def _always(_s: FilterSubject) -> bool:
    return True


# Three-valued (Kleene) logic: None is "unknown" (a term over a field that could not be decoded).
# AND is False if any operand is False, else unknown if any is; OR is True if any operand is True,
# else unknown if any is; NOT unknown is unknown. Operands short-circuit as before.


def _all(preds: list[Predicate]) -> Predicate:
    if not preds:
        return _always
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds

        def both(s: FilterSubject) -> bool | None:
            x = a(s)
            if x is False:
                return False
            y = b(s)
            if y is False:
                return False
            return None if x is None or y is None else True

        return both

    def every(s: FilterSubject) -> bool | None:
        unknown = False
        for p in preds:
            r = p(s)
            if r is False:
                return False
            if r is None:
                unknown = True
        return None if unknown else True

    return every


def _any(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds

        def either(s: FilterSubject) -> bool | None:
            x = a(s)
            if x is True:
                return True
            y = b(s)
            if y is True:
                return True
            return None if x is None or y is None else False

        return either

    def some(s: FilterSubject) -> bool | None:
        unknown = False
        for p in preds:
            r = p(s)
            if r is True:
                return True
            if r is None:
                unknown = True
        return None if unknown else False

    return some


def _not(inner: Predicate) -> Predicate:
    def negation(s: FilterSubject) -> bool | None:
        r = inner(s)
        return None if r is None else not r

    return negation


def _compile(node: Node) -> tuple[Predicate, int]:
    """A predicate for `node` and its relative cost. Terms are pure, so reordering the operands
    of AND/OR (cheapest first) does not change the result, only how soon it is known."""
    if isinstance(node, TextTerm):
        cost = _COST[node.field] + (_REGEX_COST if node.pattern.kind is PatternKind.REGEX else 0)
        return _text_predicate(node), cost
    if isinstance(node, Compare | Range):
        return _number_predicate(node), _NUM_COST
    if isinstance(node, Not):
        inner, cost = _compile(node.child)
        return _not(inner), cost
    parts = sorted((_compile(c) for c in node.children), key=lambda pc: pc[1])
    preds = [p for p, _ in parts]
    total = sum(c for _, c in parts)
    return (_all(preds) if isinstance(node, And) else _any(preds)), total


def _accessors(node: Node, out: set[str]) -> set[str]:
    if isinstance(node, TextTerm):
        out.add(_ACCESSOR[node.field])
    elif isinstance(node, Compare | Range):
        out.add(_NUM_ACCESSOR[node.field])
    elif isinstance(node, Not):
        _accessors(node.child, out)
    else:
        for c in node.children:
            _accessors(c, out)
    return out


class Filter:
    """A parsed filter.

    `matches(subject)` is an attribute holding the compiled predicate (called once per record, so
    it is the closure itself rather than a method wrapping it). It is three-valued: True (match),
    False, or None (unknown: the answer depends on a key or value that could not be decoded, e.g.
    with the registry down); None is falsy, so an unknown record never matches, not even a
    negation. `evaluate` is the same predicate, for callers that count the unknown ones.
    `text` is the source text, `ast` the syntax tree, `accessors` the `FilterSubject` members the
    filter reads, and `needs_decode` whether any of them needs decoding (False for filters on
    partition/offset/ts only).
    """

    __slots__ = ("accessors", "ast", "evaluate", "matches", "needs_decode", "text")

    text: str
    ast: Node
    accessors: frozenset[str]
    needs_decode: bool
    matches: Predicate
    evaluate: Predicate

    def __init__(self, text: str, ast: Node) -> None:
        self.text = text
        self.ast = ast
        self.accessors = frozenset(_accessors(ast, set()))
        self.needs_decode = not self.accessors <= STRUCTURAL_ACCESSORS
        self.matches = self.evaluate = _compile(ast)[0]

    @classmethod
    def from_ast(cls, ast: Node) -> Filter:
        """A filter for a tree built in code (e.g. "same key as this record"); `text` is printed."""
        return cls(unparse(ast), ast)

    @property
    def matches_all(self) -> bool:
        """True for the empty filter."""
        return self.ast == And(())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and other.ast == self.ast

    def __hash__(self) -> int:
        return hash(self.ast)

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


def parse(text: str) -> Filter:
    """Parse filter text. Raises `FilterError(message, position)`; an empty or blank text gives a
    filter that matches everything."""
    return Filter(text, parse_ast(text))


MATCH_ALL = Filter("", And(()))
"""The empty filter: matches every record and needs no decoding."""
