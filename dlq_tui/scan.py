"""Filter scans over the record store that decode only what they must (issue 9).

Decoding a record (JSON parse, DLQ headers, texts) costs tens of microseconds; a million of them
take seconds. Most filters are words, and most DLQ records are text: their decoded texts are their
bytes. So a scan first looks at the raw bytes:

* **plain rows.** A row is *plain* when every text a filter can see of it is its own bytes: key and
  value are UTF-8 text without binary control bytes and without backslashes (no JSON escapes, no
  Avro or other wire format, nothing shown as hex), and every header value is printable UTF-8 text
  or a known binary integer header of the right width (shown as digits / an ISO time) or null (shown as
  ``(null)``), and no header names a schema for key or value. Decoding a plain row may re-render JSON (whitespace, number formats), but it never
  adds, removes or changes a run of letters: every run of ASCII letters of a decoded text is a run
  of the raw bytes, and the other way round, apart from derived words (``null``, ``Infinity``,
  ``inf``, ``nan``, single letters of numbers and times).
* **letter words.** From each literal or glob of a text term the scan takes the runs of at least
  three ASCII letters that are not part of a derived word. A term can only be true if its words
  occur (case-insensitively) in the row's bytes. Filters combine that per AND (all), OR (one of
  each branch); NOT, regexes, numbers and unknown terms require nothing. A plain row that lacks a
  required word cannot match and is dropped without decoding; everything else is decoded.
* **exact words.** When every text term of the filter is a bare word (or ``*word*``) made of
  letters only, a plain row's full text contains the word exactly when its bytes do (the separators
  between key, value and headers are not letters), so the filter is evaluated on the bytes: no
  decoding at all. Only in the ``auto`` and ``string`` formats: in the others a plain text that is
  not Avro/JSON is shown with an error, and terms over it are unknown rather than false.

Case: a non-ASCII character can lower-case (or regex-match, ignoring case) to ``i``, ``k`` or ``s``
(``İ``, ``K``, ``ſ``, ``ı``); a word with those letters is not used on a row with non-ASCII bytes.
Header names are searchable too: a word found in any stored header name is not used at all.
"""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np

from dlq_tui.decode.dlq_headers import HEADERS, Enc
from dlq_tui.decode.formats import Format
from dlq_tui.decode.wire import KEY_SCHEMA_ID_HEADER, VALUE_SCHEMA_ID_HEADER
from dlq_tui.scan_fields import PagesBack, column, row_bounds
from dlq_tui.scan_pool import (
    MIN_CHUNKS,
    NOT_PLAIN,
    PLAIN_ASCII,
    PLAIN_UNICODE,
    UNKNOWN,
    WordPool,
    chunk_flags_np,
    row_flag,
)
from dlq_tui.triage.arena import Buffer
from dlq_tui.triage.filter import Filter
from dlq_tui.triage.filter_ast import And, Compare, Not, Or, PatternKind, Range, TextField, TextTerm
from dlq_tui.triage.records import FilterSubject
from dlq_tui.triage.store import RecordStore

__all__ = ["PlainFlags", "ScanPlan", "fold_case", "plan_scan", "rows_having", "scan"]

# How a known DLQ header's bytes become text (`dlq_headers.HEADERS`): text stays text; binary
# integers are shown as numbers (their width is checked: a wrong one is shown as hex with a note);
# Java-serialized exceptions are summarised in words of their own (never plain).
NOT_PLAIN_HEADER = -1
ANY_WIDTH_1_TO_8 = 9


def header_kind(name: str) -> int:
    """0: shown as its own text (or unknown: printable text, else hex); 4 or 8: a big-endian
    integer of that width; `ANY_WIDTH_1_TO_8`; `NOT_PLAIN_HEADER`: a Java-serialized exception, or
    a header that names the key's or value's schema."""
    if name in SCHEMA_HEADERS:
        return NOT_PLAIN_HEADER
    spec = HEADERS.get(name)
    if spec is None or spec.enc in (Enc.TEXT, Enc.INT_TEXT):
        return 0
    if spec.enc is Enc.INT32:
        return 4
    if spec.enc is Enc.INT64:
        return 8
    if spec.enc is Enc.BIGINT:
        return ANY_WIDTH_1_TO_8
    return NOT_PLAIN_HEADER


# A key or value named by one of these headers is decoded with that schema (Avro field names are
# not in its bytes): such rows are never plain.
SCHEMA_HEADERS = frozenset({KEY_SCHEMA_ID_HEADER, VALUE_SCHEMA_ID_HEADER})
# Words that decoding can produce on its own: ``(null)`` for a null header, ``Infinity``/``inf``
# for huge JSON numbers. A word inside one of them is never used.
DERIVED_WORDS = ("null", "infinity", "nan")
# ASCII letters that a non-ASCII character lower-cases or case-folds to.
UNICODE_FOLDED = frozenset("iks")

_WORD = re.compile(r"[A-Za-z]{3,}")


def _words(text: str) -> list[bytes]:
    """Letter words of a literal or glob, longest first."""
    out = [w.lower() for w in _WORD.findall(text)]
    out = [w for w in out if not any(w in d for d in DERIVED_WORDS)]
    return [w.encode() for w in sorted(set(out), key=len, reverse=True)]


Clause = tuple[bytes, ...]  # at least one of these words must be in the row's bytes


def _requirements(node: object) -> list[Clause]:
    """Clauses that every match satisfies (sound: an empty list requires nothing)."""
    if isinstance(node, TextTerm):
        if node.pattern.kind is PatternKind.REGEX:
            return []
        words = _words(node.pattern.text)
        return [(words[0],)] if words else []
    if isinstance(node, And):
        return [c for child in node.children for c in _requirements(child)]
    if isinstance(node, Or):
        if not node.children:
            return []
        alternatives: list[bytes] = []
        for child in node.children:
            clauses = _requirements(child)
            if not clauses:
                return []
            alternatives.extend(clauses[0])
        return [tuple(dict.fromkeys(alternatives))]
    return []  # Not, Compare, Range, and terms added later: nothing required


def _exact_words(node: object, out: list[bytes]) -> bool:
    """True when every text term of the tree is a bare word of letters (or ``*word*``), the
    kind whose truth on a plain row is "the word is in the bytes"; collects the words."""
    if isinstance(node, TextTerm):
        if node.field is not TextField.TEXT or node.pattern.kind is PatternKind.REGEX:
            return False
        core = node.pattern.text
        if node.pattern.kind is PatternKind.GLOB:
            core = core.strip("*")
            if "*" in core or "?" in core:
                return False
        if not (len(core) >= 3 and core.isascii() and core.isalpha()):
            return False
        word = core.lower()
        if any(word in d for d in DERIVED_WORDS):
            return False
        out.append(word.encode())
        return True
    if isinstance(node, Not):
        return _exact_words(node.child, out)
    if isinstance(node, And | Or):
        return all(_exact_words(c, out) for c in node.children)
    return isinstance(node, Compare | Range)


@dataclass(frozen=True)
class ScanPlan:
    """What a scan may skip for one filter: `clauses` (words a plain row must contain) and
    `exact` (the filter can be decided on plain rows' bytes)."""

    clauses: tuple[Clause, ...]
    exact: bool
    words: tuple[bytes, ...]  # every word used (for the header-name and unicode checks)
    judged: bool = False
    """No term is unknown on a plain row (formats auto and string: a plain key or value always
    decodes, as JSON or text), so a row the plan skips is False, not unknown."""

    @property
    def useful(self) -> bool:
        return bool(self.clauses) or self.exact


NO_PLAN = ScanPlan((), False, ())


def plan_scan(flt: Filter, header_names: Iterable[str], formats: tuple[str, str]) -> ScanPlan:
    """The scan plan of `flt` for a store whose header names are `header_names`, decoded with
    (key format, value format). Words found in a header name are dropped (they match by name)."""
    if Format.BYTES in formats:  # shown as hex: the bytes are not the text
        return NO_PLAN
    names = [n.lower() for n in header_names]
    # Header ids of 65 and more are stored as a byte that is a letter: next to a value's letters
    # it would make a word that no text has.
    exact_ok = len(names) <= 65
    unicode_names = any(not n.isascii() for n in names)

    def usable(word: bytes) -> bool:
        w = word.decode()
        if any(w in n for n in names):
            return False
        return not (unicode_names and UNICODE_FOLDED & set(w))

    clauses = []
    for clause in _requirements(flt.ast):
        if all(usable(w) for w in clause):
            clauses.append(clause)
    exact_words: list[bytes] = []
    # In the avro and json modes a plain text that is not Avro or JSON is shown with an error:
    # terms over it are then unknown, not false (three-valued filters), which bytes cannot tell.
    judged = all(Format(f) in (Format.AUTO, Format.STRING) for f in formats)
    exact_ok = exact_ok and judged
    exact = exact_ok and _exact_words(flt.ast, exact_words) and all(usable(w) for w in exact_words)
    words = {w for c in clauses for w in c} | (set(exact_words) if exact else set())
    return ScanPlan(tuple(clauses), exact, tuple(words), judged)


class PlainFlags:
    """Per row: whether it is plain (see the module docstring), computed on first need and kept.
    Rows are never changed, so neither is their flag."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store
        self._flags = bytearray()
        self._widths: list[int] = []  # per header name id: Spring integer width, or 0
        # One classification at a time: a filter typed while `warm()` classifies waits for it
        # rather than doing the same work beside it.
        self._lock = threading.Lock()

    @property
    def flags(self) -> bytearray:
        """The flags so far (UNKNOWN where not computed yet; may be shorter than the store)."""
        return self._flags

    def ensure(
        self, rows: int, cancelled: Callable[[], bool] | None = None, pool: WordPool | None = None
    ) -> bytearray:
        """Compute the flags of rows below `rows` that are not known yet (frozen chunks of a file
        arena in `pool`'s worker processes when there are enough); returns the flags."""
        with self._lock:
            return self._ensure(rows, cancelled, pool)

    def _ensure(self, rows: int, cancelled: Callable[[], bool] | None, pool: WordPool | None) -> bytearray:
        flags = self._flags
        if rows > len(flags):
            flags.extend(bytes(rows - len(flags)))
        first = flags.find(UNKNOWN)
        if first < 0 or first >= rows:
            return flags
        if pool is not None:
            self._ensure_in_pool(first, rows, pool)
        else:
            self._ensure_vectorised(first, rows, cancelled)
        compute = self._compute
        for row in range(first, rows):
            if row & 4095 == 0:
                if cancelled is not None and cancelled():
                    break
                if row & 65535 == 0:
                    self._store.release_pages()  # what the last rows paged in
            if flags[row] == UNKNOWN:
                flags[row] = compute(row)
        self._store.release_pages()
        return flags

    def _ensure_vectorised(self, first: int, rows: int, cancelled: Callable[[], bool] | None) -> None:
        """Flags of rows `first` to `rows` chunk by chunk with numpy (`chunk_flags_np`); rows with
        non-ASCII bytes are left to `row_flag`."""
        store, flags = self._store, self._flags
        pos, klen, vlen, count = (
            column(c, t)
            for c, t in zip(store.layout_columns(), (np.int64, np.int32, np.int32, np.int32), strict=True)
        )
        widths = np.asarray(self.widths() or [0], np.int16)
        chunk = pos[first:rows] >> 32
        for c in np.unique(chunk).tolist():
            if cancelled is not None and cancelled():
                return
            lo = first + int(np.searchsorted(chunk, c, side="left"))
            hi = first + int(np.searchsorted(chunk, c, side="right"))
            buf = store.chunk_buffer(c)
            found, slow = chunk_flags_np(
                buf, pos[lo:hi] & 0xFFFFFFFF, klen[lo:hi], vlen[lo:hi], count[lo:hi], widths
            )
            flags[lo:hi] = found.tobytes()
            for i in slow.tolist():
                flags[lo + i] = self._compute(lo + i)
            store.release_pages(c)

    def _ensure_in_pool(self, first: int, rows: int, pool: WordPool) -> None:
        store, flags = self._store, self._flags
        pos, klen, vlen, count = (
            column(c, t)
            for c, t in zip(store.layout_columns(), (np.int64, np.int32, np.int32, np.int32), strict=True)
        )
        chunk = pos[first:rows] >> 32
        jobs = []
        for c in np.unique(chunk).tolist():
            location = store.chunk_location(c)
            if location is None:
                continue
            lo = first + int(np.searchsorted(chunk, c, side="left"))
            hi = first + int(np.searchsorted(chunk, c, side="right"))
            layout = np.stack(
                [pos[lo:hi] & 0xFFFFFFFF, klen[lo:hi], vlen[lo:hi], count[lo:hi]], axis=1
            ).astype(np.int64)
            jobs.append((lo, hi, location, layout.tobytes()))
        if len(jobs) < MIN_CHUNKS:
            return
        widths = self.widths()
        futures = [(lo, hi, pool.submit_flags(*loc, layout, widths)) for lo, hi, loc, layout in jobs]
        for lo, hi, future in futures:
            flags[lo:hi] = future.result()

    def get(self, row: int) -> int:
        flags = self._flags
        if row >= len(flags):
            flags.extend(bytes(len(self._store) - len(flags)))
        flag = flags[row]
        if flag == UNKNOWN:
            flag = flags[row] = self._compute(row)
        return flag

    def _compute(self, row: int) -> int:
        buf, p, klen, vlen, count = self._store.layout_at(row)
        return row_flag(buf, p, klen, vlen, count, self.widths())

    def widths(self) -> list[int]:
        """`header_kind` per header name id."""
        widths, store = self._widths, self._store
        names = store.header_names()
        while len(widths) < len(names):
            name = names[len(widths)]
            widths.append(header_kind(name))
        return widths


def scan(
    store: RecordStore,
    plain: PlainFlags,
    plan: ScanPlan,
    flt: Filter,
    rows: Iterable[int],
    subject: Callable[[int], FilterSubject],
    *,
    cancelled: Callable[[], bool] | None = None,
    pool: WordPool | None = None,
    unknown: array[int] | None = None,
) -> array[int]:
    """The rows of `rows` that `flt` matches, decoding (through `subject`) only rows that the plan
    cannot decide from their bytes. `pool` lends more cores to one-word scans. With `unknown`
    (only for a `judged` plan), the rows whose verdict is unknown are appended to it."""
    if unknown is not None and not plan.judged:
        raise ValueError("a scan can tell unknown rows only for a judged plan (formats auto, string)")
    unicode_safe = not any(UNICODE_FOLDED & set(w.decode()) for w in plan.words)
    if plan.exact and isinstance(flt.ast, TextTerm):
        word = _exact_words_of(flt.ast)
        return _scan_word(store, plain, word, flt, rows, subject, unicode_safe, cancelled, pool, unknown)
    if not plan.exact and isinstance(rows, array | range):
        return _scan_clauses(store, plain, plan.clauses, flt, rows, subject, unicode_safe, cancelled, unknown)
    if isinstance(rows, array | range) and len(rows):
        plain.ensure(max(rows) + 1, cancelled, pool)
    out = array("i")
    append = out.append
    clauses = plan.clauses
    exact = _exact_predicate(flt.ast, store) if plan.exact else None
    evaluate = flt.evaluate
    add_unknown = unknown.append if unknown is not None else None
    span = store.row_span
    flags = plain.flags
    get_flag = plain.get
    low = b""
    low_chunk = -1
    for n, row in enumerate(rows):
        if n & 63 == 0:  # decoding a row takes tens of µs: stop soon when asked
            if cancelled is not None and cancelled():
                break
            if n & 65535 == 0:
                store.release_pages()  # what decoding paged in (it reads rows in place)
        flag = flags[row] if row < len(flags) else UNKNOWN
        if flag == UNKNOWN:
            flag = get_flag(row)
        if flag == NOT_PLAIN or (flag == PLAIN_UNICODE and not unicode_safe):
            verdict = evaluate(subject(row))
            if verdict:
                append(row)
            elif verdict is None and add_unknown is not None:
                add_unknown(row)
            continue
        c, start, end = span(row)
        if c != low_chunk:
            low, low_chunk = fold_case(store.chunk_buffer(c)), c
            store.release_pages(c)
        if exact is not None:
            if exact(row, low, start, end):
                append(row)
            continue
        for clause in clauses:
            for word in clause:
                if low.find(word, start, end) >= 0:
                    break
            else:
                break  # no word of this clause: cannot match
        else:
            verdict = evaluate(subject(row))
            if verdict:
                append(row)
            elif verdict is None and add_unknown is not None:
                add_unknown(row)
    return out


def fold_case(buf: Buffer | bytearray) -> bytes:
    """`buf` with every byte OR 0x20: ASCII letters lower-cased, and no other byte becomes a
    letter (so a search for a lower-case word of letters is case-insensitive); vectorised."""
    if not len(buf):
        return b""
    return np.bitwise_or(np.frombuffer(buf, np.uint8), 0x20).tobytes()


def _exact_words_of(term: TextTerm) -> bytes:
    core = term.pattern.text.strip("*") if term.pattern.kind is PatternKind.GLOB else term.pattern.text
    return core.lower().encode()


def _scan_word(
    store: RecordStore,
    plain: PlainFlags,
    word: bytes,
    flt: Filter,
    rows: Iterable[int],
    subject: Callable[[int], FilterSubject],
    unicode_safe: bool,
    cancelled: Callable[[], bool] | None,
    pool: WordPool | None,
    unknown: array[int] | None = None,
) -> array[int]:
    """`scan` for a filter that is one word: plain rows are decided chunk by chunk, by finding the
    word in the case-folded chunk and mapping each hit to its row (no Python work per row)."""
    wanted = np.asarray(rows if isinstance(rows, array) else array("i", rows), dtype=np.int64)
    if not len(wanted):
        return array("i")
    # A copy: the flags may grow in another thread (a bytearray with a view cannot).
    flags = np.frombuffer(bytes(plain.ensure(int(wanted.max()) + 1, cancelled, pool)), np.uint8)
    row_flags = flags[wanted]
    ok = (row_flags == PLAIN_ASCII) | ((row_flags == PLAIN_UNICODE) & unicode_safe)
    decided = wanted[ok]
    matched = np.zeros(len(wanted), dtype=bool)
    if len(decided):
        chunk, start, end = row_bounds(store)
        # Per store row: the word is in its bytes (1 byte a row; `np.isin` of the hit rows against
        # the decided rows took ~50 MB of sort buffers at 1M rows).
        hit = np.zeros(len(chunk), dtype=bool)
        size = len(word)

        def rows_hit(c: int, hits: np.ndarray) -> None:
            in_chunk = _rows_of_chunk(chunk, c)
            at = np.searchsorted(start[in_chunk], hits, side="right") - 1
            keep = at >= 0
            r = in_chunk[at[keep]]
            hit[r[hits[keep] + size <= end[r]]] = True

        chunks = np.unique(chunk[decided]).tolist()
        futures = []
        if pool is not None:
            located = [(c, store.chunk_location(c)) for c in chunks]
            remote = [(c, loc) for c, loc in located if loc is not None]
            if len(remote) >= MIN_CHUNKS:
                futures = [(c, pool.submit(*loc, word)) for c, loc in remote]
                chunks = [c for c, loc in located if loc is None]
        for c in chunks:
            if cancelled is not None and cancelled():
                break
            folded = fold_case(store.chunk_buffer(c))
            store.release_pages(c)
            in_chunk = _rows_of_chunk(chunk, c)
            lo, hi = int(in_chunk[0]), int(in_chunk[-1]) + 1
            hit[lo:hi] |= rows_having(folded, word, start[lo:hi].tolist(), end[lo:hi].tolist())
        for c, future in futures:
            found = np.frombuffer(future.result(), np.int64)
            if len(found):
                rows_hit(c, found)
        matched[ok] = hit[decided]
    hits, undecided = _judge_rows(store, wanted, np.flatnonzero(~ok).tolist(), flt, subject, cancelled)
    matched[hits] = True
    if unknown is not None:
        unknown.extend(undecided)
    return array("i", wanted[matched].astype(np.int32).tobytes())


def _judge_rows(
    store: RecordStore,
    wanted: np.ndarray,
    positions: list[int],
    flt: Filter,
    subject: Callable[[int], FilterSubject],
    cancelled: Callable[[], bool] | None,
) -> tuple[list[int], list[int]]:
    """Decode and judge the rows `wanted[i]` for `i` in `positions` (those the bytes could not
    decide): the positions that match, and the rows the filter cannot judge (both in order).
    Stops early when cancelled."""
    evaluate = flt.evaluate
    pages = PagesBack(store)
    hits: list[int] = []
    undecided: list[int] = []
    for n, i in enumerate(positions):
        if n & 63 == 63 and cancelled is not None and cancelled():
            break
        row = int(wanted[i])
        pages.row(row)
        verdict = evaluate(subject(row))
        if verdict:
            hits.append(i)
        elif verdict is None:
            undecided.append(row)
    return hits, undecided


def _scan_clauses(
    store: RecordStore,
    plain: PlainFlags,
    clauses: tuple[Clause, ...],
    flt: Filter,
    rows: array[int] | range,
    subject: Callable[[int], FilterSubject],
    unicode_safe: bool,
    cancelled: Callable[[], bool] | None,
    unknown: array[int] | None,
) -> array[int]:
    """`scan` for a plan of required words: per chunk, each word is found in the case-folded chunk
    (one search per row that has it: the search goes on at that row's end) and a plain row
    without a word of every clause is dropped; only the other rows are decoded."""
    wanted = np.asarray(rows if isinstance(rows, array) else array("i", rows), dtype=np.int64)
    if not len(wanted):
        return array("i")
    flags = np.frombuffer(bytes(plain.ensure(int(wanted.max()) + 1, cancelled)), np.uint8)  # a copy
    row_flags = flags[wanted]
    ok = (row_flags == PLAIN_ASCII) | ((row_flags == PLAIN_UNICODE) & unicode_safe)
    chunk, start, end = row_bounds(store)
    possible = np.ones(len(chunk), bool)  # per store row: a word of every clause is in its bytes
    for c in np.unique(chunk[wanted[ok]]).tolist():
        if cancelled is not None and cancelled():
            return array("i")
        folded = fold_case(store.chunk_buffer(c))
        store.release_pages(c)
        in_chunk = _rows_of_chunk(chunk, c)
        lo, hi = int(in_chunk[0]), int(in_chunk[-1]) + 1
        starts, ends = start[lo:hi].tolist(), end[lo:hi].tolist()
        for clause in clauses:
            has = np.zeros(hi - lo, bool)
            for word in clause:
                has |= rows_having(folded, word, starts, ends)
            possible[lo:hi] &= has
    decided = ok & ~possible[wanted]  # plain rows without a required word: False
    hits, undecided = _judge_rows(store, wanted, np.flatnonzero(~decided).tolist(), flt, subject, cancelled)
    if unknown is not None:
        unknown.extend(undecided)
    matched = np.zeros(len(wanted), bool)
    matched[hits] = True
    return array("i", wanted[matched].astype(np.int32).tobytes())


def rows_having(folded: bytes, word: bytes, starts: list[int], ends: list[int]) -> np.ndarray:
    """Per row of one chunk (`starts`/`ends` of its rows' bytes in `folded`): whether `word` is
    within them. One search per row that has it: after a hit the search goes on at its row's end."""
    has = bytearray(len(starts))  # item assignment is cheaper than a numpy array's
    size, find = len(word), folded.find
    i = find(word)
    while i >= 0:
        r = bisect_right(starts, i) - 1
        if r >= 0 and i + size <= ends[r]:
            has[r] = 1
            i = find(word, ends[r])
        else:
            i = find(word, i + 1)
    return np.frombuffer(has, bool)


def _rows_of_chunk(chunk: np.ndarray, c: int) -> np.ndarray:
    """Row numbers whose bytes are in chunk `c` (rows fill chunks in order: one contiguous run)."""
    lo = int(np.searchsorted(chunk, c, side="left"))
    hi = int(np.searchsorted(chunk, c, side="right"))
    return np.arange(lo, hi, dtype=np.int64)


RowTest = Callable[[int, bytes, int, int], bool]


def _exact_predicate(node: object, store: RecordStore) -> RowTest:
    """The filter as a test of a plain row's lower-cased bytes (for trees `_exact_words` accepts):
    a word term is "the word is in the bytes", numbers come from the columns."""
    if isinstance(node, TextTerm):
        core = node.pattern.text.strip("*") if node.pattern.kind is PatternKind.GLOB else node.pattern.text
        word = core.lower().encode()

        def has(row: int, low: bytes, start: int, end: int) -> bool:
            return low.find(word, start, end) >= 0

        return has
    if isinstance(node, Not):
        inner = _exact_predicate(node.child, store)
        return lambda row, low, start, end: not inner(row, low, start, end)
    if isinstance(node, And | Or):
        parts = [_exact_predicate(c, store) for c in node.children]
        if isinstance(node, And):
            return lambda row, low, start, end: all(p(row, low, start, end) for p in parts)
        return lambda row, low, start, end: any(p(row, low, start, end) for p in parts)
    assert isinstance(node, Compare | Range)
    number = Filter.from_ast(node).matches
    return lambda row, low, start, end: number(cast(FilterSubject, store.view(row))) is True
