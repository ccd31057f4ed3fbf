"""Decoded-field caches (issue 9): `value.<path>:` terms over plain rows, with each row's field
decoded once and kept for the next filter or keystroke on the same field.

For a plain row (`dlq_tui.scan`) in the auto value format, the values at a path are what
`DecodedRecord.value_fields` gives for the value decoded by `decode_bytes` (a plain row has no
schema header and no wire format), and a `value.<path>:` term over them is True or False, never
unknown. A `FieldColumn` keeps, per row, a small code for those values (one table entry per
distinct tuple of values): a later filter on the same path tests each distinct entry once.

Memory: 4 bytes per row per cached path, at most `MAX_PATHS` paths, and at most `MAX_DISTINCT`
distinct entries or `MAX_CHARS` characters per path (rows past that are decoded each time).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Sequence

import numpy as np

from dlq_tui.decode.formats import Format, decode_bytes
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.scan import Clause, PlainFlags, fold_case, rows_having
from dlq_tui.scan_fields import Judge, PagesBack, column, row_bounds
from dlq_tui.scan_pool import PLAIN_ASCII, PLAIN_UNICODE
from dlq_tui.triage.filter import Filter, text_test
from dlq_tui.triage.filter_ast import TextField, TextTerm
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore

__all__ = ["MAX_CHARS", "MAX_DISTINCT", "MAX_PATHS", "FieldColumns", "scan_value_field", "value_field_term"]

MAX_PATHS = 2
MAX_DISTINCT = 65536
MAX_CHARS = 16 << 20

NOT_KEPT = -1  # not decoded yet, or its values did not fit
_NO_RAW = RawRecord(0, 0, 0, 0, None, None)
_PART = 65536


def _true(test: Callable[[str], object], values: Sequence[str] | None) -> bool:
    """The term on a plain row (`filter._text_predicate`'s value_field: never unknown here)."""
    return bool(values) and any(test(v) for v in values or ())


def value_field_term(flt: Filter, formats: tuple[str, str]) -> TextTerm | None:
    """The term when `flt` is one ``value.<path>:`` term and values are decoded auto."""
    ast = flt.ast
    auto = Format(formats[1]) is Format.AUTO
    return ast if isinstance(ast, TextTerm) and ast.field is TextField.VALUE_FIELD and auto else None


def plain_value_fields(raw: bytes | None, path: str) -> list[str] | None:
    """`DecodedRecord.value_fields(path)` of a plain row's value, decoded as the auto format does."""
    return DecodedRecord(_NO_RAW, value=decode_bytes(raw, Format.AUTO)).value_fields(path)


class FieldColumn:
    """One path's decoded values per row, as codes into a table of distinct values."""

    def __init__(self) -> None:
        self.codes = array("i")
        self.table: list[tuple[str, ...] | None] = []
        self._index: dict[tuple[str, ...] | None, int] = {}
        self._chars = 0
        self._lock = threading.Lock()  # two scans (the live count, the table) may add at once

    def grow(self, rows: int) -> None:
        """Codes for `rows` rows (new rows not decoded yet)."""
        with self._lock:
            if len(self.codes) < rows:
                self.codes.extend(array("i", [NOT_KEPT]) * (rows - len(self.codes)))

    def code(self, values: list[str] | None) -> int:
        """The code of `values` (NOT_KEPT when the table is full)."""
        key = None if values is None else tuple(values)
        code = self._index.get(key)
        if code is not None:
            return code
        with self._lock:
            code = self._index.get(key)
            if code is not None:
                return code
            size = 0 if key is None else sum(map(len, key))
            if len(self.table) >= MAX_DISTINCT or self._chars + size > MAX_CHARS:
                return NOT_KEPT
            code = len(self.table)
            self.table.append(key)  # before the index: a code read without the lock has its entry
            self._index[key] = code
            self._chars += size
        return code


class FieldColumns:
    """The cached paths of one store (the last `MAX_PATHS` used)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._paths: dict[str, FieldColumn] = {}

    def get(self, path: str) -> FieldColumn:
        col = self._paths.pop(path, None) or FieldColumn()
        self._paths[path] = col  # the most recently used last
        while len(self._paths) > MAX_PATHS:
            del self._paths[next(iter(self._paths))]
        return col


def scan_value_field(
    store: RecordStore,
    plain: PlainFlags,
    col: FieldColumn,
    term: TextTerm,
    clauses: tuple[Clause, ...],
    unicode_safe: bool,
    rows: array[int] | range,
    judge: Judge,
    *,
    cancelled: Callable[[], bool] | None = None,
    unknown: array[int] | None = None,
) -> array[int]:
    """The rows of `rows` that the one-term filter ``value.<path>:...`` matches. Plain rows: from
    `col` (decoding and keeping the rows not in it yet, but only those holding the term's words);
    other rows: `judge` (the decoding evaluator)."""
    wanted = np.asarray(rows if isinstance(rows, array) else array("i", rows), dtype=np.int64)
    if not len(wanted):
        return array("i")
    flags = np.frombuffer(bytes(plain.ensure(int(wanted.max()) + 1, cancelled)), np.uint8)[wanted]
    is_plain = (flags == PLAIN_ASCII) | (flags == PLAIN_UNICODE)
    col.grow(len(store))
    codes = column(col.codes, np.int32)[wanted]
    missing = is_plain & (codes == NOT_KEPT)
    verdicts = np.zeros(len(wanted), np.int8)  # 1 match, -1 unknown, 0 no match
    skipped = np.zeros(len(wanted), bool)  # plain rows without a required word: False
    if missing.any():
        if clauses:  # rows without a required word cannot match: not decoded (nor kept)
            chunk, start, end = row_bounds(store)
            skippable = missing & ((flags == PLAIN_ASCII) | ((flags == PLAIN_UNICODE) & unicode_safe))
            has = np.ones(len(chunk), bool)
            for c in np.unique(chunk[wanted[skippable]]).tolist():
                if cancelled is not None and cancelled():
                    return array("i")
                folded = fold_case(store.chunk_buffer(c))
                store.release_pages(c)
                lo = int(np.searchsorted(chunk, c, side="left"))
                hi = int(np.searchsorted(chunk, c, side="right"))
                starts, ends = start[lo:hi].tolist(), end[lo:hi].tolist()
                for clause in clauses:
                    found = np.zeros(hi - lo, bool)
                    for word in clause:
                        found |= rows_having(folded, word, starts, ends)
                    has[lo:hi] &= found
            skipped = skippable & ~has[wanted]
        todo = wanted[missing & ~skipped]
        path, value_at, codes_out = term.name, store.value_at, col.codes
        pages = PagesBack(store)
        for n, row in enumerate(todo.tolist()):
            if n & 63 == 63 and cancelled is not None and cancelled():
                return array("i")
            pages.row(row)
            codes_out[row] = col.code(plain_value_fields(value_at(row), path))
        store.release_pages()
        codes = column(col.codes, np.int32)[wanted]
    test = text_test(term.field, term.pattern)
    table = np.array([_true(test, v) for v in col.table] + [False], np.int8)
    kept = is_plain & (codes != NOT_KEPT)
    verdicts[kept] = table[codes[kept]]
    # Plain rows not kept (a word missing: False, left so; the table full: decoded now), and
    # other rows. Only these are listed: a Python list of every skipped row took ~24 MB at 1M.
    path = term.name
    for n, i in enumerate(np.flatnonzero(~kept & ~skipped).tolist()):
        if n & 63 == 63 and cancelled is not None and cancelled():
            return array("i")
        row = int(wanted[i])
        if is_plain[i]:  # the table is full: decoded each time
            values = plain_value_fields(store.value_at(row), path)
            verdicts[i] = _true(test, values)
            continue
        verdict = judge(row)
        verdicts[i] = 1 if verdict else (-1 if verdict is None else 0)
    if unknown is not None:
        unknown.extend(wanted[verdicts == -1].tolist())
    return array("i", wanted[verdicts == 1].astype(np.int32).tobytes())
