"""Field terms without the full decode (issue 9): what a filter over a million rows can take
from the bytes of one part of each row, with the decoding evaluator's own functions.

* **header-only filters** (`error:`, `exception:`, `origin:`, `header.<name>:` and their
  combinations): the verdict is a function of the row's stored header block (names by id, values
  as bytes), and a DLQ repeats few of them. Each distinct block is judged once, by the decoding
  evaluator, and the verdict is kept for the scan (`scan_by_headers`; at most
  `HEADER_MEMO_BYTES` of blocks are kept).
* **key-only filters** (`key:ORD00*`): on a plain row (`dlq_tui.scan`) in the auto or string
  format, the key's text is its bytes as UTF-8 unless it may be JSON (then `decode_bytes` says),
  and never unknown; the term's test is run on that text (`scan_keys`).
* **plain subjects**: any other filter on a plain row decodes its key and value without reading
  the headers for a schema id: a plain row has no schema header and no wire format
  (`PlainRecord`).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from dlq_tui.decode.formats import Decoded, Format, decode_bytes
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.scan_pool import NOT_PLAIN, UNKNOWN
from dlq_tui.triage.filter import Filter, text_test
from dlq_tui.triage.filter_ast import TextField, TextTerm
from dlq_tui.triage.records import FilterSubject
from dlq_tui.triage.store import RecordStore, RowView

__all__ = [
    "HEADER_ACCESSORS",
    "HEADER_MEMO_BYTES",
    "PagesBack",
    "PlainRecord",
    "column",
    "headers_only",
    "key_term",
    "row_bounds",
    "scan_by_headers",
    "scan_keys",
]

HEADER_ACCESSORS = frozenset({"error_text", "exception_text", "origin_text", "header_text"})
"""`FilterSubject` members computed from the headers alone."""

HEADER_MEMO_BYTES = 32 << 20
"""At most this many bytes of distinct header blocks are kept per scan (then blocks not seen yet
are judged by decoding, as before)."""

_CHECK = 1024  # rows between looks at `cancelled`
_PART = 65536  # rows handled as Python lists at a time

Judge = Callable[[int], "bool | None"]


def headers_only(flt: Filter) -> bool:
    """Whether every term of `flt` reads headers only (its verdict is one of the header block)."""
    return bool(flt.accessors) and flt.accessors <= HEADER_ACCESSORS


def key_term(flt: Filter, formats: tuple[str, str]) -> TextTerm | None:
    """The key term when `flt` is one `key:` term and keys are decoded auto or as strings."""
    ast = flt.ast
    keys_ok = Format(formats[0]) in (Format.AUTO, Format.STRING)
    return ast if isinstance(ast, TextTerm) and ast.field is TextField.KEY and keys_ok else None


def column(values: array[int], dtype: Any) -> np.ndarray:
    """A copy of a store column as a numpy array: a view would stop the store from growing (a
    live count runs while the DLQ is still loading, or followed)."""
    return np.frombuffer(values[:], dtype) if len(values) else np.zeros(0, dtype)


def row_bounds(store: RecordStore) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chunk, start, end) of every row's bytes, as int64 arrays (`RecordStore.row_span`)."""
    pos = column(store.positions(), np.int64)
    if not len(pos):
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    chunk = pos >> 32
    start = np.bitwise_and(pos, 0xFFFFFFFF, out=pos)  # in the copy: one 8 MB array less at 1M rows
    chunk_len = np.array([len(store.chunk_buffer(c)) for c in range(int(chunk.max()) + 1)], np.int64)
    end = chunk_len[chunk]
    np.copyto(end[:-1], start[1:], where=chunk[1:] == chunk[:-1])  # no temporary copies
    return chunk, start, end


class PagesBack:
    """Hands back the arena pages of a chunk once decoding moves on to another chunk (`row(r)`
    before decoding row r; rows mostly come in order): decoding reads rows in place."""

    __slots__ = ("_current", "_pos", "_store")

    def __init__(self, store: RecordStore) -> None:
        self._store = store
        self._pos = store.positions()
        self._current = -1

    def row(self, row: int) -> None:
        c = self._pos[row] >> 32
        if c != self._current:
            if self._current >= 0:
                self._store.release_pages(self._current)
            self._current = c


def _wanted(rows: Iterable[int]) -> np.ndarray:
    return np.asarray(rows if isinstance(rows, array) else array("i", rows), dtype=np.int64)


def scan_by_headers(
    store: RecordStore,
    rows: Iterable[int],
    judge: Judge,
    *,
    cancelled: Callable[[], bool] | None = None,
    unknown: array[int] | None = None,
) -> array[int]:
    """The rows of `rows` that a header-only filter matches: `judge(row)` (the decoding
    evaluator) runs once per distinct stored header block; rows with the same block share it."""
    wanted = _wanted(rows)
    out = array("i")
    if not len(wanted):
        return out
    chunk, start, end = row_bounds(store)
    _, klen, vlen, _ = store.layout_columns()
    # In place, from int32 lengths: no int64 temporaries of a row each (8 MB apiece at 1M rows).
    block_starts = start
    block_starts += np.maximum(column(klen, np.int32), 0)
    block_starts += np.maximum(column(vlen, np.int32), 0)
    memo: dict[bytes, bool | None] = {}
    room = HEADER_MEMO_BYTES
    append, get = out.append, memo.get
    add_unknown = unknown.append if unknown is not None else None
    current, buf = -1, store.chunk_buffer(0)
    missing = object()
    for part in range(0, len(wanted), _PART):
        if cancelled is not None and cancelled():
            break
        rows_part = wanted[part : part + _PART]  # Python lists of a part at a time: bounded memory
        block_start, block_end = block_starts[rows_part].tolist(), end[rows_part].tolist()
        chunks = chunk[rows_part].tolist()
        for n, row in enumerate(rows_part.tolist()):
            if n % _CHECK == 0 and cancelled is not None and cancelled():
                break
            c = chunks[n]
            if c != current:
                if current >= 0:
                    store.release_pages(current)
                current, buf = c, store.chunk_buffer(c)
            block = bytes(buf[block_start[n] : block_end[n]])
            verdict = get(block, missing)
            if verdict is missing:
                verdict = judge(row)
                if len(block) <= room:
                    memo[block] = verdict
                    room -= len(block)
            if verdict:
                append(row)
            elif verdict is None and add_unknown is not None:
                add_unknown(row)
    store.release_pages()
    return out


# Bytes a JSON text may start with (after whitespace): such a key is decoded as `decode_bytes` does.
_MAYBE_JSON = frozenset(b' \t\r\n{["-0123456789tfn')


def scan_keys(
    store: RecordStore,
    flags: bytearray,
    term: TextTerm,
    key_format: str,
    rows: Iterable[int],
    judge: Judge,
    *,
    cancelled: Callable[[], bool] | None = None,
    unknown: array[int] | None = None,
) -> array[int]:
    """The rows of `rows` that the one-term filter ``key:...`` (`term`) matches. A plain row's key
    is tested as text without decoding the row; other rows (and unclassified ones: `flags` may be
    short) are judged by `judge` (the decoding evaluator)."""
    wanted = _wanted(rows)
    out = array("i")
    if not len(wanted):
        return out
    test = text_test(term.field, term.pattern)
    fmt = Format(key_format)
    auto = fmt is Format.AUTO
    chunk, start, _ = row_bounds(store)
    _, klen, _, _ = store.layout_columns()
    kl = column(klen, np.int32)
    flag_array = np.frombuffer(bytes(flags), np.uint8)
    row_flags = np.full(len(wanted), UNKNOWN, np.uint8)
    known = wanted < len(flag_array)
    row_flags[known] = flag_array[wanted[known]]
    plain_rows = (row_flags != UNKNOWN) & (row_flags != NOT_PLAIN)
    append = out.append
    add_unknown = unknown.append if unknown is not None else None
    current, buf = -1, store.chunk_buffer(0)
    for part in range(0, len(wanted), _PART):
        if cancelled is not None and cancelled():
            break
        rows_part = wanted[part : part + _PART]  # Python lists of a part at a time: bounded memory
        plain = plain_rows[part : part + _PART].tolist()
        key_start, key_len, chunks = (
            start[rows_part].tolist(),
            kl[rows_part].tolist(),
            chunk[rows_part].tolist(),
        )
        for n, row in enumerate(rows_part.tolist()):
            if n % _CHECK == 0 and cancelled is not None and cancelled():
                break
            if plain[n]:
                c = chunks[n]
                if c != current:
                    if current >= 0:
                        store.release_pages(current)
                    current, buf = c, store.chunk_buffer(c)
                length = key_len[n]
                if length < 0:
                    text = ""  # a null key
                else:
                    raw = bytes(buf[key_start[n] : key_start[n] + length])
                    json_like = auto and raw and raw[0] in _MAYBE_JSON
                    text = decode_bytes(raw, fmt).text if json_like else raw.decode()
                if test(text):
                    append(row)
                continue
            verdict = judge(row)
            if verdict:
                append(row)
            elif verdict is None and add_unknown is not None:
                add_unknown(row)
    store.release_pages()
    return out


class PlainRecord(DecodedRecord):
    """A plain row's decoded view: key and value are decoded without looking for a schema-id
    header (a plain row has none, and no wire format), so a filter on them never reads the
    headers. Everything else is `DecodedRecord`'s; the group id comes from `group_of`."""

    __slots__ = ("_group_of",)

    def __init__(
        self,
        raw: RowView,
        key_format: Format,
        value_format: Format,
        group_of: Callable[[int], str],
    ) -> None:
        super().__init__(raw, key_format=key_format, value_format=value_format)
        self._group_of = group_of

    @property
    def key(self) -> Decoded:
        key = self._key
        if key is None:
            key = self._key = decode_bytes(self.raw.key, self._formats[0])
        return key

    @property
    def value(self) -> Decoded:
        value = self._value
        if value is None:
            value = self._value = decode_bytes(self.raw.value, self._formats[1])
        return value

    def group_id(self) -> str:
        raw = self.raw
        assert isinstance(raw, RowView)
        return self._group_of(raw.row)


def plain_subjects(
    store: RecordStore,
    flags: Callable[[int], int],
    formats: tuple[Format, Format],
    group_of: Callable[[int], str],
    other: Callable[[int], FilterSubject],
) -> Callable[[int], FilterSubject]:
    """A subject maker for scans: `PlainRecord` for plain rows, `other(row)` for the rest."""
    key_format, value_format = formats

    def subject(row: int) -> FilterSubject:
        if flags(row) in (UNKNOWN, NOT_PLAIN):
            return other(row)
        return PlainRecord(store.view(row), key_format, value_format, group_of)

    return subject
