"""The filter language's syntax tree, its error type, and the printer back to text.

Nodes are frozen dataclasses, so two parses of equivalent text compare equal. `unparse` prints a
node as filter text that parses back to an equal node (for the trees `parse` produces).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import TypeAlias


class FilterError(ValueError):
    """A filter that does not parse. `position` is a 0-based index into the filter text
    (`len(text)` when something is missing at the end)."""

    def __init__(self, message: str, position: int, text: str | None = None) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position
        self.text = text

    def __str__(self) -> str:
        return f"{self.message} at column {self.position + 1}"

    @property
    def column(self) -> int:
        """1-based column, as shown in the message."""
        return self.position + 1

    def render(self, text: str | None = None) -> str:
        """Two lines: the filter text, and a caret under the error position.

        `text` defaults to the text the error was raised for. Control characters are shown as
        spaces and wide (CJK) characters count two columns, so the caret lines up in a terminal.
        """
        src = self.text if text is None else text
        if src is None:
            return " " * self.position + "^"
        shown = "".join(" " if (c.isspace() or not c.isprintable()) else c for c in src)
        width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in shown[: self.position])
        return f"{shown}\n{' ' * width}^"


class TextField(enum.Enum):
    """Which decoded text a text term looks at."""

    TEXT = "text"  # bare words and /regex/: FilterSubject.full_text()
    KEY = "key"
    VALUE = "value"
    VALUE_FIELD = "value."  # value.<path>: FilterSubject.value_fields(path)
    HEADER = "header."  # header.<name>: FilterSubject.header_text(name)
    ERROR = "error"
    ORIGIN = "origin"  # the origin topic from DLQ headers: FilterSubject.origin_text()
    EXCEPTION = "exception"  # exception and root-cause class: FilterSubject.exception_text()
    GROUP = "group"  # the failure group id: FilterSubject.group_id()

    @property
    def whole(self) -> bool:
        """True when a literal or glob must match the whole text (key, a value field, a header);
        False when it may match anywhere inside it (whole value, error, full text)."""
        return self in _WHOLE_FIELDS


_WHOLE_FIELDS = frozenset(
    {TextField.KEY, TextField.VALUE_FIELD, TextField.HEADER, TextField.ORIGIN, TextField.GROUP}
)


class PatternKind(enum.Enum):
    LITERAL = "literal"  # an unquoted word without * or ?, or any quoted string
    GLOB = "glob"  # an unquoted word with * (any run of characters) or ? (one character)
    REGEX = "regex"  # /.../, Python `re` syntax, searched (not anchored)


@dataclass(frozen=True, slots=True)
class Pattern:
    kind: PatternKind
    text: str


@dataclass(frozen=True, slots=True)
class TextTerm:
    """`key:ORD00*`, `value.reason:wrong*`, `header.x:y`, `error:...`, a bare word, `/re/`."""

    field: TextField
    pattern: Pattern
    name: str = ""  # the path for VALUE_FIELD, the header name for HEADER, else ""


class NumField(enum.Enum):
    PARTITION = "partition"
    OFFSET = "offset"
    TS = "ts"


class Op(enum.Enum):
    EQ = "="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


@dataclass(frozen=True, slots=True)
class Point:
    """A number or time as written, and the half-open interval `[lo, hi)` it denotes.

    An integer n denotes `[n, n + 1)`. A time denotes the span of its precision in epoch
    milliseconds: `2026-11-01` is that whole UTC day, `2026-11-01T10:00` that minute.
    """

    text: str
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class Compare:
    """`offset:>=100`, `partition:0` (op EQ), `ts:>2026-11-01`."""

    field: NumField
    op: Op
    value: Point


@dataclass(frozen=True, slots=True)
class Range:
    """`offset:100..200`, inclusive at both ends; one end may be open (`100..`, `..200`)."""

    field: NumField
    start: Point | None
    end: Point | None


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    """All children match. `And(())` is the empty filter and matches everything."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node: TypeAlias = TextTerm | Compare | Range | Not | And | Or

KEYWORDS = frozenset({"AND", "OR", "NOT"})

# `name:` at the start of a token makes a field term. Shared with the tokenizer.
FIELD_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*):")

_BARE_SPECIAL = frozenset('()"\\*?')


def _is_space_or_paren(c: str) -> bool:
    return c.isspace() or c in "()"


def _literal_text(text: str, bare: bool) -> str:
    """A literal as an unquoted word when that reads back the same, else quoted."""
    plain = (
        text != ""
        and text[0] not in '"/'
        and not any(c.isspace() or c in _BARE_SPECIAL for c in text)
        and not (bare and (text[0] == "-" or text in KEYWORDS or FIELD_PREFIX.match(text)))
    )
    if plain:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _glob_text(text: str, bare: bool) -> str:
    ok = (
        text != ""
        and text[0] not in '"/'
        and ("*" in text or "?" in text)
        and not any(_is_space_or_paren(c) for c in text)
        and not (bare and (text[0] == "-" or text in KEYWORDS or FIELD_PREFIX.match(text)))
    )
    if not ok:
        raise ValueError(f"glob {text!r} cannot be written in filter syntax")
    return text


def _regex_text(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
            continue
        out.append("\\/" if c == "/" else c)
        i += 1
    return "/" + "".join(out) + "/"


def _pattern_text(p: Pattern, bare: bool) -> str:
    if p.kind is PatternKind.REGEX:
        return _regex_text(p.text)
    if p.kind is PatternKind.GLOB:
        return _glob_text(p.text, bare)
    return _literal_text(p.text, bare)


def _field_prefix(t: TextTerm) -> str:
    if t.field is TextField.TEXT:
        return ""
    if t.field in (TextField.VALUE_FIELD, TextField.HEADER):
        return f"{t.field.value}{t.name}:"
    return f"{t.field.value}:"


def _atom(node: Node) -> str:
    if isinstance(node, TextTerm):
        return _field_prefix(node) + _pattern_text(node.pattern, node.field is TextField.TEXT)
    if isinstance(node, Compare):
        op = "" if node.op is Op.EQ else node.op.value
        return f"{node.field.value}:{op}{node.value.text}"
    if isinstance(node, Range):
        start = node.start.text if node.start else ""
        end = node.end.text if node.end else ""
        return f"{node.field.value}:{start}..{end}"
    if isinstance(node, Not):
        return "-" + _atom(node.child)
    return "(" + unparse(node) + ")"


def unparse(node: Node) -> str:
    """Filter text for `node`; `parse(unparse(n)).ast == n` for trees that `parse` produces."""
    if isinstance(node, Or):
        return " OR ".join(
            unparse(c) if isinstance(c, And) and c.children else _atom(c) for c in node.children
        )
    if isinstance(node, And):
        return " ".join(_atom(c) for c in node.children)
    return _atom(node)
