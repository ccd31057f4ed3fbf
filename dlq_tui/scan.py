"""Filter scans over the record store that decode only what they must (issue 9).

Decoding a record (JSON parse, DLQ headers, texts) costs tens of microseconds; a million of them
take seconds. Most filters are words, and most DLQ records are text: their decoded texts are their
bytes. So a scan first looks at the raw bytes:

* **plain rows.** A row is *plain* when every text a filter can see of it is its own bytes: key and
  value are UTF-8 text without binary control bytes and without backslashes (no JSON escapes, no
  Avro or other wire format, nothing shown as hex), and every header value is printable UTF-8 text
  or one of Spring's fixed-width integer headers (shown as digits / an ISO time) or null (shown as
  ``(null)``). Decoding a plain row may re-render JSON (whitespace, number formats), but it never
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
  decoding at all.

Case: a non-ASCII character can lower-case (or regex-match, ignoring case) to ``i``, ``k`` or ``s``
(``İ``, ``K``, ``ſ``, ``ı``); a word with those letters is not used on a row with non-ASCII bytes.
Header names are searchable too: a word found in any stored header name is not used at all.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dlq_tui.decode.formats import Format
from dlq_tui.triage.filter import Filter
from dlq_tui.triage.filter_ast import And, Compare, Not, Or, PatternKind, Range, TextField, TextTerm
from dlq_tui.triage.records import FilterSubject
from dlq_tui.triage.store import RecordStore

__all__ = ["PlainFlags", "ScanPlan", "plan_scan", "scan"]

# Spring Kafka's binary integer headers and their widths (dlq_headers shows them as numbers; any
# other width is shown as hex with a note: not plain).
DERIVED_INT_HEADERS = {
    "kafka_dlt-original-partition": 4,
    "kafka_dlt-original-offset": 8,
    "kafka_dlt-original-timestamp": 8,
}
# Words that decoding can produce on its own: ``(null)`` for a null header, ``Infinity``/``inf``
# for huge JSON numbers. A word inside one of them is never used.
DERIVED_WORDS = ("null", "infinity", "nan")
# ASCII letters that a non-ASCII character lower-cases or case-folds to.
UNICODE_FOLDED = frozenset("iks")

_WORD = re.compile(r"[A-Za-z]{3,}")
_LETTERS3 = re.compile(rb"[A-Za-z]{3}")
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\\]|\xc2[\x80-\x9f]")
_HDR_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")

# PlainFlags values
UNKNOWN, PLAIN_ASCII, PLAIN_UNICODE, NOT_PLAIN = 0, 1, 2, 3


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
    exact = exact_ok and _exact_words(flt.ast, exact_words) and all(usable(w) for w in exact_words)
    words = {w for c in clauses for w in c} | (set(exact_words) if exact else set())
    return ScanPlan(tuple(clauses), exact, tuple(words))


class PlainFlags:
    """Per row: whether it is plain (see the module docstring), computed on first need and kept.
    Rows are never changed, so neither is their flag."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store
        self._flags = bytearray()

    def get(self, row: int) -> int:
        flags = self._flags
        if row >= len(flags):
            flags.extend(bytes(len(self._store) - len(flags)))
        flag = flags[row]
        if flag == UNKNOWN:
            flag = flags[row] = self._compute(row)
        return flag

    def _compute(self, row: int) -> int:
        store = self._store
        ascii_only = True
        key, value = store.key_at(row), store.value_at(row)
        if key and value and key[-1:].isalpha() and value[:1].isalpha():
            return NOT_PLAIN  # stored back to back: letters would run from key into value
        for data in (key, value):
            if data is None:
                continue
            if _BINARY.search(data) is not None:
                return NOT_PLAIN
            if not data.isascii():
                ascii_only = False
                try:
                    data.decode()
                except UnicodeDecodeError:
                    return NOT_PLAIN
        for name, hvalue in store.headers_at(row):
            if hvalue is None:
                continue
            if len(hvalue) > 0xFFFF:
                return NOT_PLAIN  # its stored length could spell letters
            width = DERIVED_INT_HEADERS.get(name)
            if width is not None:
                # Shown as a number: fine unless the width is wrong (hex and a note) or its raw
                # bytes spell a word themselves (they are in the bytes the scan searches).
                if len(hvalue) != width or _LETTERS3.search(hvalue) is not None:
                    return NOT_PLAIN
                continue
            if _HDR_BINARY.search(hvalue) is not None:
                return NOT_PLAIN
            if not hvalue.isascii():
                ascii_only = False
                try:
                    hvalue.decode()
                except UnicodeDecodeError:
                    return NOT_PLAIN
        return PLAIN_ASCII if ascii_only else PLAIN_UNICODE


def scan(
    store: RecordStore,
    plain: PlainFlags,
    plan: ScanPlan,
    flt: Filter,
    rows: Iterable[int],
    subject: Callable[[int], FilterSubject],
    *,
    cancelled: Callable[[], bool] | None = None,
) -> array[int]:
    """The rows of `rows` that `flt` matches, decoding (through `subject`) only rows that the plan
    cannot decide from their bytes."""
    out = array("i")
    folded = UNICODE_FOLDED
    unicode_safe = not any(folded & set(w.decode()) for w in plan.words)
    clauses = plan.clauses
    exact = plan.exact
    matches = flt.matches
    span = store.row_span
    chunk_of = store.chunk_buffer
    lowered: dict[int, bytes] = {}
    for n, row in enumerate(rows):
        if cancelled is not None and n % 4096 == 0 and cancelled():
            break
        flag = plain.get(row)
        if flag == NOT_PLAIN or (flag == PLAIN_UNICODE and not unicode_safe):
            if matches(subject(row)):
                out.append(row)
            continue
        c, start, end = span(row)
        low = lowered.get(c)
        if low is None:
            if len(lowered) > 4:
                lowered.clear()
            low = lowered[c] = bytes(chunk_of(c)).lower()
        if exact:
            if matches(_BytesSubject(store, row, low, start, end)):
                out.append(row)
            continue
        for clause in clauses:
            for word in clause:
                if low.find(word, start, end) >= 0:
                    break
            else:
                break  # no word of this clause: cannot match
        else:
            if matches(subject(row)):
                out.append(row)
    return out


class _BytesSubject:
    """A plain row as a `FilterSubject` for exact plans: numbers from the columns, and a full text
    that contains a plan word exactly when the row's bytes do (only such words are asked for)."""

    __slots__ = ("_end", "_low", "_row", "_start", "_store")

    def __init__(self, store: RecordStore, row: int, low: bytes, start: int, end: int) -> None:
        self._store = store
        self._row = row
        self._low = low
        self._start = start
        self._end = end

    @property
    def partition(self) -> int:
        return self._store.partition_at(self._row)

    @property
    def offset(self) -> int:
        return self._store.offset_at(self._row)

    @property
    def timestamp(self) -> int:
        return self._store.timestamp_at(self._row)

    def full_text(self) -> str:
        return self._low[self._start : self._end].decode("latin-1")

    def _never(self) -> str:  # exact plans have bare words only
        raise AssertionError("exact scan plans only read the full text")

    def key_text(self) -> str:
        return self._never()

    def value_text(self) -> str:
        return self._never()

    def value_fields(self, path: str) -> list[str] | None:
        raise AssertionError("exact scan plans only read the full text")

    def header_text(self, name: str) -> str | None:
        raise AssertionError("exact scan plans only read the full text")

    def error_text(self) -> str:
        return self._never()
