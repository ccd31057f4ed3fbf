"""Failure groups over a record store: a compact per-row group index and group summaries.

The index keeps one small int per row (an ``array('I')``) into a table of interned fingerprints. It is
filled lazily, in chunks. Records with the same sequence of header names share a *plan* (which header
gives the exception, root cause, message and origin topic, by the precedence of `parse_dlq_headers`);
records whose exception, origin and message agree except for digits share one cache entry, so
message normalisation runs once per failure shape, not once per record. Java-serialized exceptions
and null header values take the full `parse_dlq_headers` (cached by their fingerprint headers).

Thread-safety: `GroupIndex` takes its own lock, so the screen's worker and a filter's worker may both
ask; it reads the store only below the row count it saw when it started (the store appends, never
changes a stored row). Decisions are passed in as a snapshot taken on the event loop
(`decisions_snapshot`), because the staged buffer belongs to the event loop.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise, repeat
from operator import itemgetter
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from dlq_tui.decode.dlq_headers import CONVENTIONS, FINGERPRINT_HEADERS, HEADERS, parse_dlq_headers
from dlq_tui.triage.decisions import Decision, StagedBuffer
from dlq_tui.triage.fingerprint import Fingerprint, fingerprint, normalize_message
from dlq_tui.triage.records import Header, RecordId
from dlq_tui.triage.store import RecordStore

__all__ = [
    "DecisionsSnapshot",
    "GroupIndex",
    "GroupSummary",
    "decisions_snapshot",
]

CHUNK = 65_536
# distinct fingerprint-header sets remembered (bounded memory on huge DLQs)
_CACHE_LIMIT = 50_000
# bytes of raw header blocks remembered for the row-by-row rules
_BLOCKS_LIMIT = 16 << 20
_CONVENTION_IDS = list(CONVENTIONS)
_NO_RANK = 1 << 30
_EXC, _CAUSE, _MSG, _TOPIC, _JAVA = 0, 1, 2, 3, 4
_ROLE = {
    "exception_class": _EXC,
    "exception_cause_class": _CAUSE,
    "exception_message": _MSG,
    "original_topic": _TOPIC,
    "java": _JAVA,
}
# header name -> (precedence: lower wins, fingerprint role or -1, convention priority)
_FAST: dict[str, tuple[int, int, int]] = {
    name: (
        _CONVENTION_IDS.index(spec.convention) * 2 + spec.rank,
        _ROLE.get(spec.target, -1),
        _CONVENTION_IDS.index(spec.convention),
    )
    for name, spec in HEADERS.items()
}
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_NCONV = len(_CONVENTION_IDS) + 1  # the conventions, and "none"
_first = itemgetter(0)
_HDR_SIZE = 8  # a stored header: <name id: u32 LE><value length: i32 LE, -1 for None><value>


@lru_cache(maxsize=8)
def _mix(width: int) -> npt.NDArray[np.uint64]:
    """Odd 64-bit multipliers that hash a row of header name ids (rows that hash alike are
    checked against each other, so a collision costs time, not correctness)."""
    rng = np.random.default_rng(20261128)
    return rng.integers(1, 1 << 63, size=width, dtype=np.uint64) | np.uint64(1)


def _u32(data: npt.NDArray[np.uint8], at: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The little-endian u32 at each of `at` in `data`."""
    out = data[at].astype(np.int64)
    out |= data[at + 1].astype(np.int64) << 8
    out |= data[at + 2].astype(np.int64) << 16
    out |= data[at + 3].astype(np.int64) << 24
    return out


# For one sequence of header names: (convention index, or _NCONV - 1 for none; the positions of the
# headers that give the exception, cause, message and origin topic, -1 if none; whether the full
# parse is needed (a Java-serialized exception); the first convention present, for the full parse).
_Plan = tuple[int, int, int, int, int, bool, int]


def _plan(names: tuple[str, ...]) -> _Plan:
    """Which header of a record with these header names gives each part of the fingerprint, by
    the precedence of `parse_dlq_headers` (lowest rank wins; for equal names the last one)."""
    best = [_NO_RANK] * 4
    pos = [-1] * 4
    conv = _NO_RANK
    slow = False
    for i, name in enumerate(names):
        info = _FAST.get(name)
        if info is None:
            continue
        rank, role, c = info
        conv = min(conv, c)
        if role == _JAVA:
            slow = True
        elif role >= 0 and rank <= best[role]:
            best[role] = rank
            pos[role] = i
    first = _NCONV - 1 if conv == _NO_RANK else conv
    # the convention that gives the exception class, else the origin topic (as parse_dlq_headers)
    for role in (_EXC, _TOPIC):
        if pos[role] >= 0:
            conv = _FAST[names[pos[role]]][2]
            break
    return (_NCONV - 1 if conv == _NO_RANK else conv), pos[0], pos[1], pos[2], pos[3], slow, first


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")


DecisionsSnapshot = Mapping[int, Mapping[int, Decision]]
"""Staged decisions as ``{partition: {offset: decision}}``."""


def decisions_snapshot(buffer: StagedBuffer) -> dict[int, dict[int, Decision]]:
    """A copy of the staged decisions that a worker thread may read (take it on the event loop)."""
    return {p: dict(buffer.partition_items(p)) for p in buffer.partitions()}


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """One failure group among the rows asked about. `count` = undecided + decided + resolved."""

    id: str
    kind: str  # "error", "origin" (no error headers) or "none" (no error and no origin headers)
    count: int
    undecided: int
    decided: int
    resolved: int
    exception: str
    message: str
    origin_topic: str
    first_timestamp: int | None
    last_timestamp: int | None
    partitions: tuple[int, ...]
    convention: str  # the convention of most of its records ('' for none)
    conventions: tuple[str, ...]
    merge: int = 0
    purge: int = 0
    skip: int = 0

    @property
    def label(self) -> str:
        return Fingerprint(self.kind, self.exception, self.message, self.origin_topic).label()  # type: ignore[arg-type]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "count": self.count,
            "undecided": self.undecided,
            "decided": self.decided,
            "resolved": self.resolved,
            "exception": self.exception or None,
            "message": self.message or None,
            "origin_topic": self.origin_topic or None,
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
            "partitions": list(self.partitions),
            "convention": self.convention or None,
            "conventions": list(self.conventions),
            "kind": self.kind,
            "label": self.label,
            "filter": f"group:{self.id}",
        }


class GroupIndex:
    """Per-row failure group numbers over a `RecordStore`, filled lazily in chunks."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._rows = array("I")  # row -> group number
        self._fps: list[Fingerprint] = []
        self._ids: list[str] = []
        self._by_fp: dict[Fingerprint, int] = {}
        self._by_id: dict[str, int] = {}
        # rows per (group number, convention): index g * _NCONV + convention (the last: none)
        self._conv_counts: list[int] = []
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._cache: dict[tuple[bytes | None, ...], int] = {}
        self._messages: dict[bytes, str] = {}
        self._slow: dict[tuple[Header, ...], tuple[int, int]] = {}
        self._blocks: dict[bytes, tuple[int, int]] = {}  # raw header bytes -> (group, convention)
        self._blocks_size = 0

    def __len__(self) -> int:
        """Rows indexed so far."""
        return len(self._rows)

    def _intern(self, fp: Fingerprint) -> int:
        g = self._by_fp.get(fp)
        if g is None:
            g = self._by_fp[fp] = len(self._fps)
            self._fps.append(fp)
            self._ids.append(fp.id)
            self._by_id[fp.id] = g
            self._conv_counts.extend([0] * _NCONV)
        return g

    def update(self, upto: int | None = None) -> int:
        """Index the rows not indexed yet, up to `upto` (default: all stored). Returns rows indexed."""
        with self._lock:
            return self._update(upto)

    def _update(self, upto: int | None) -> int:
        store = self._store
        end = len(store) if upto is None else min(upto, len(store))
        start = len(self._rows)
        if end <= start:
            return 0
        pos_col, klen_col, vlen_col, count_col = store.layout_columns()
        # Copies (array slices): a view would stop the loader from growing the columns.
        pos = np.frombuffer(pos_col[start:end], dtype=np.int64)
        chunks = pos >> 32
        cuts = [0, *(np.flatnonzero(chunks[1:] != chunks[:-1]) + 1).tolist(), end - start]
        for a, b in pairwise(cuts):  # rows of one arena chunk at a time
            lo, hi = start + a, start + b
            for step in range(lo, hi, CHUNK):
                top = min(step + CHUNK, hi)
                self._index_chunk(
                    int(chunks[a]),
                    pos[step - start : top - start] & 0xFFFFFFFF,
                    np.frombuffer(klen_col[step:top], dtype=np.int32),
                    np.frombuffer(vlen_col[step:top], dtype=np.int32),
                    np.frombuffer(count_col[step:top], dtype=np.int32),
                    step,
                )
        return end - start

    def _index_chunk(
        self,
        chunk: int,
        starts: npt.NDArray[np.int64],
        klen: npt.NDArray[np.int32],
        vlen: npt.NDArray[np.int32],
        count: npt.NDArray[np.int32],
        first_row: int,
    ) -> None:
        """Index rows `first_row ...` (all in arena chunk `chunk`) at once: their header names and
        value positions are read for all rows together with numpy; rows with the same sequence of
        header names share a plan; the values that make the fingerprint are sliced out and looked
        up in the cache, and only new failure shapes are computed in Python."""
        store = self._store
        buf = store.chunk_buffer(chunk)
        if isinstance(buf, bytearray):  # the chunk being filled: a view would pin its size
            buf = bytes(buf)
        data = np.frombuffer(buf, dtype=np.uint8)
        n = len(starts)
        width = int(count.max()) if n else 0
        nid = np.full((n, width + 1), -1, dtype=np.int64)  # one spare column: -1 ends every row
        length = np.zeros((n, width), dtype=np.int64)
        vstart = np.zeros((n, width), dtype=np.int64)
        at = starts + np.maximum(klen, 0) + np.maximum(vlen, 0)
        block_start = at.copy()
        for j in range(width):
            rows = np.flatnonzero(count > j)
            p = at[rows]
            nid[rows, j] = _u32(data, p)
            n_j = _u32(data, p + 4).astype(np.uint32).view(np.int32).astype(np.int64)
            length[rows, j] = n_j
            vstart[rows, j] = p + _HDR_SIZE
            at[rows] = p + _HDR_SIZE + np.maximum(n_j, 0)
        # Rows with the same header names: a hash of the name ids, checked against one row of each.
        sig = (nid + 2).astype(np.uint64) @ _mix(width + 1)
        _, first, inverse = np.unique(sig, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        same = (nid == nid[first][inverse]).all(axis=1)
        groups = np.zeros(n, dtype=np.int64)
        convs = np.zeros(n, dtype=np.int64)
        slow_rows: list[int] = list(np.flatnonzero(~same).tolist())
        names_of = store.header_name
        order = np.argsort(inverse, kind="stable")
        bounds = np.zeros(len(first) + 1, dtype=np.int64)
        np.cumsum(np.bincount(inverse, minlength=len(first)), out=bounds[1:])
        for u, rep in enumerate(first.tolist()):
            rows = order[bounds[u] : bounds[u + 1]]
            rows = rows[same[rows]]
            if not len(rows):
                continue
            names = tuple(names_of(int(i)) for i in nid[rep, : int(count[rep])])
            plan = self._plans.get(names)
            if plan is None:
                plan = self._plans[names] = _plan(names)
            conv, p_exc, p_cause, p_msg, p_topic, slow, _ = plan
            if slow:
                slow_rows.extend(rows.tolist())
                continue
            roles = [p for p in (p_exc, p_cause, p_msg, p_topic) if p >= 0]
            if roles:
                null = (length[rows][:, roles] < 0).any(axis=1)
                if null.any():  # a null value: the full rules, row by row
                    slow_rows.extend(rows[null].tolist())
                    rows = rows[~null]

            def values(p: int, rows: npt.NDArray[np.intp] = rows) -> list[bytes] | None:
                if p < 0:
                    return None
                s = vstart[rows, p]
                return list(map(buf.__getitem__, map(slice, s.tolist(), (s + length[rows, p]).tolist())))

            exc, cause, msg, topic = values(p_exc), values(p_cause), values(p_msg), values(p_topic)
            if cause is not None and exc is not None:
                cause = [c or e for c, e in zip(cause, exc, strict=True)]
            what = cause if cause is not None else exc
            if msg is not None:
                # Digits never change what normalisation makes of a message (a property test
                # holds it to that): messages that differ in numbers share one entry.
                msg = list(map(bytes.translate, msg, repeat(_ZERO_DIGITS)))
            k = len(rows)
            keys = list(
                zip(
                    what if what is not None else repeat(None, k),
                    msg if msg is not None else repeat(None, k),
                    topic if topic is not None else repeat(None, k),
                    strict=False,
                )
            )
            cache = self._cache
            found = list(map(cache.get, keys))
            for i, g in enumerate(found):
                if g is None:
                    key = keys[i]
                    g = cache.get(key)
                    if g is None:
                        g = cache[key] = self._fast_group(None, key[0], key[1], key[2])
                        if len(cache) >= _CACHE_LIMIT:
                            cache.clear()
                    found[i] = g
            groups[rows] = cast(list[int], found)
            convs[rows] = conv
        # The full rules, row by row, remembered by the raw bytes of the row's headers (a DLQ's
        # Java-serialized exceptions often repeat byte for byte).
        blocks = self._blocks
        for i, lo, hi in zip(slow_rows, block_start[slow_rows].tolist(), at[slow_rows].tolist(), strict=True):
            block = buf[lo:hi]
            hit = blocks.get(block)
            if hit is None:
                headers = store.headers_at(first_row + i)
                names = tuple(map(_first, headers))
                plan = self._plans.get(names)
                if plan is None:
                    plan = self._plans[names] = _plan(names)
                hit = self._group_of_headers(headers, plan)
                self._blocks_size += len(block)
                if self._blocks_size > _BLOCKS_LIMIT:
                    blocks.clear()
                    self._blocks_size = len(block)
                blocks[block] = hit
            groups[i], convs[i] = hit
        self._rows.extend(groups.tolist())
        slots = groups * _NCONV + convs
        tally = np.bincount(slots, minlength=len(self._conv_counts))
        counts = self._conv_counts
        for slot in np.flatnonzero(tally).tolist():
            counts[slot] += int(tally[slot])

    def _group_of_headers(self, headers: Sequence[Header], plan: _Plan) -> tuple[int, int]:
        """The group number and convention of one row, from its headers (the row-by-row rules)."""
        conv, p_exc, p_cause, p_msg, p_topic, slow, first = plan
        if slow:
            return self._slow_group(headers, first)
        exc = headers[p_exc][1] if p_exc >= 0 else None
        cause = headers[p_cause][1] if p_cause >= 0 else None
        msg = headers[p_msg][1] if p_msg >= 0 else None
        topic = headers[p_topic][1] if p_topic >= 0 else None
        if (
            (exc is None and p_exc >= 0)
            or (cause is None and p_cause >= 0)
            or (msg is None and p_msg >= 0)
            or (topic is None and p_topic >= 0)
        ):
            return self._slow_group(headers, first)  # a null value: the full rules
        if msg is not None:
            msg = msg.translate(_ZERO_DIGITS)
        key = (cause or exc, msg, topic)
        g = self._cache.get(key, -1)
        if g < 0:
            g = self._cache[key] = self._fast_group(exc, cause, msg, topic)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
        return g, conv

    def _fast_group(
        self, exc: bytes | None, cause: bytes | None, msg: bytes | None, topic: bytes | None
    ) -> int:
        message = None
        if msg is not None:  # digits zeroed already
            message = self._messages.get(msg)
            if message is None:
                message = normalize_message(msg.decode(errors="replace"))
                if len(self._messages) >= _CACHE_LIMIT:
                    self._messages.clear()
                self._messages[msg] = message
        return self._intern(fingerprint(_text(exc), _text(cause), message, _text(topic), normalize=False))

    def _slow_group(self, headers: Sequence[Header], conv: int) -> tuple[int, int]:
        """Java-serialized exceptions and null values: the full `parse_dlq_headers` rules. Returns
        the group number and the convention: the one of the exception class or else the origin
        topic, if any, else `conv` (the first convention present)."""
        relevant = tuple((n, v) for n, v in headers if n in FINGERPRINT_HEADERS)
        hit = self._slow.get(relevant)
        if hit is None:
            info = parse_dlq_headers(relevant)
            named = (
                info.source if info.exception_class is not None or info.original_topic is not None else None
            )
            hit = (self._intern(info.fingerprint()), -1 if named is None else _CONVENTION_IDS.index(named))
            if len(self._slow) >= _CACHE_LIMIT:
                self._slow.clear()
            self._slow[relevant] = hit
        g, named_conv = hit
        return g, conv if named_conv < 0 else named_conv

    # -- queries ----------------------------------------------------------------------------------

    def group_of(self, row: int) -> str:
        """The group id of a stored row (indexing up to it first if needed)."""
        if row >= len(self._rows):
            self.update(max(row + 1, len(self._rows) + CHUNK))
        return self._ids[self._rows[row]]

    def fingerprint(self, group_id: str) -> Fingerprint | None:
        g = self._by_id.get(group_id)
        return None if g is None else self._fps[g]

    def rows_of(self, group_id: str, rows: Iterable[int] | None = None) -> array[int]:
        """The rows of `rows` (default: every stored row) in the group, in the given order."""
        self.update()
        out = array("i")
        g = self._by_id.get(group_id)
        if g is None:
            return out
        index = self._rows
        source = range(len(index)) if rows is None else rows
        out.extend(r for r in source if index[r] == g)
        return out

    def _tally(
        self,
        index: array[int],
        rows: Iterable[int] | None,
        resolved: bytes | bytearray | None,
        n: int,
    ) -> tuple[list[int], list[int], list[int], list[int], list[list[int]]]:
        """Per group number (of `n`), over `rows` (None: all) below ``len(index)``: rows, resolved
        rows, first and last timestamp, partitions. With numpy over the store's columns (copies:
        the loader may grow them meanwhile)."""
        store = self._store
        limit = len(index)
        groups = np.frombuffer(index, dtype=np.uint32).astype(np.int64)
        ts = np.frombuffer(store.timestamp_column()[:limit], dtype=np.int64)
        partitions = np.frombuffer(store.partition_column()[:limit], dtype=np.int32).astype(np.int64)
        flags = np.zeros(limit, dtype=np.uint8)  # rows without a flag are not resolved
        if resolved is not None:
            m = min(limit, len(resolved))
            flags[:m] = np.frombuffer(bytes(resolved[:m]), dtype=np.uint8)
        if rows is not None:
            if isinstance(rows, range):
                picked = np.arange(rows.start, rows.stop, rows.step, dtype=np.int64)
            elif isinstance(rows, array):
                picked = np.array(rows, dtype=np.int64)
            else:
                picked = np.fromiter(rows, dtype=np.int64)
            picked = picked[(picked >= 0) & (picked < limit)]
            groups, ts, partitions, flags = groups[picked], ts[picked], partitions[picked], flags[picked]
        count = np.bincount(groups, minlength=n)
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(first, groups, ts)
        np.maximum.at(last, groups, ts)
        res = np.bincount(groups, weights=flags, minlength=n).astype(np.int64)
        parts: list[list[int]] = [[] for _ in range(n)]
        if len(groups):
            width = int(partitions.max()) + 1
            for key in np.unique(groups * width + partitions).tolist():
                parts[key // width].append(key % width)
        return count.tolist(), res.tolist(), first.tolist(), last.tolist(), parts

    def summaries(
        self,
        rows: Iterable[int] | None = None,
        *,
        resolved: bytes | bytearray | None = None,
        decisions: DecisionsSnapshot | None = None,
        index_all: bool = True,
    ) -> list[GroupSummary]:
        """Group summaries over `rows` (default: every stored row), sorted by count (largest first,
        then by id). `resolved` holds one flag per row (1 = resolved); `decisions` the staged ones.
        With `index_all=False` only rows indexed so far count (for partial results while a worker
        indexes a big DLQ with `update(upto)` in steps)."""
        if rows is not None and not isinstance(rows, (range, array, list, tuple)):
            rows = array("i", rows)  # read twice below
        if index_all:
            self.update()
        store = self._store
        with self._lock:
            index = self._rows
            n = len(self._fps)
            ids = self._ids
            fps = list(self._fps)
            conv_counts = list(self._conv_counts)
            # Rows indexed after this point may carry group numbers >= n: not counted now.
            limit = len(index)
        count, res, first, last, parts = self._tally(index[:limit], rows, resolved, n)
        flags = resolved if resolved is not None else b""
        has_flags = len(flags) > 0
        per_decision = [[0, 0, 0] for _ in range(n)]
        slot = {Decision.MERGE: 0, Decision.PURGE: 1, Decision.SKIP: 2}
        if decisions:
            wanted: Container[int] | None = (
                None if rows is None else rows if isinstance(rows, range) else set(rows)
            )
            for p, by_offset in decisions.items():
                for offset, decision in by_offset.items():
                    drow = store.row_of(RecordId(p, offset))
                    if drow is None or drow >= limit or (wanted is not None and drow not in wanted):
                        continue
                    if has_flags and flags[drow]:
                        continue  # a resolved record counts as resolved, whatever is staged
                    per_decision[index[drow]][slot[decision]] += 1
        out: list[GroupSummary] = []
        for g in range(n):
            if not count[g]:
                continue
            fp = fps[g]
            m, pu, sk = per_decision[g]
            decided = m + pu + sk
            seen = {
                c: k
                for c, k in zip(
                    _CONVENTION_IDS, conv_counts[g * _NCONV : g * _NCONV + _NCONV - 1], strict=True
                )
                if k
            }
            ordered = sorted(seen, key=lambda c: (-seen[c], _CONVENTION_IDS.index(c)))
            out.append(
                GroupSummary(
                    id=ids[g],
                    kind=fp.kind,
                    count=count[g],
                    undecided=count[g] - res[g] - decided,
                    decided=decided,
                    resolved=res[g],
                    exception=fp.exception,
                    message=fp.message,
                    origin_topic=fp.origin_topic,
                    first_timestamp=first[g],
                    last_timestamp=last[g],
                    partitions=tuple(parts[g]),
                    convention=ordered[0] if ordered else "",
                    conventions=tuple(ordered),
                    merge=m,
                    purge=pu,
                    skip=sk,
                )
            )
        out.sort(key=lambda s: (-s.count, s.id))
        return out
