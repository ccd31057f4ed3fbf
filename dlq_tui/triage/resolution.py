"""The resolution model codec (pure; no Kafka client).

A record of a DLQ partition is *resolved* when its offset is below the group's committed offset,
or lies in one of the ranges listed in that commit's metadata string, e.g. ``dlqtui1:12-15,40``.

Offsets have gaps (transaction markers, aborted records, compacted-away records). A
``read_committed`` reader never sees a record at such an offset, so the model treats an offset in
a fully-read stretch of the log that holds no record as "nothing there": the committed offset may
advance over it and a metadata range may span it (``12-15`` is right when 14 is a transaction
marker and 12, 13, 15 are resolved). Outside the stretch the caller has read completely
(``known_start`` .. ``known_end``), every offset may hold a record, and nothing is assumed.
Ranges therefore mean "every record in here is resolved", which is also how ranges written by
other sessions are read.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_METADATA_BYTES",
    "METADATA_PREFIX",
    "Fit",
    "PartitionResolution",
    "RangeSet",
    "format_metadata",
    "format_ranges",
    "parse_metadata",
    "parse_ranges",
]

METADATA_PREFIX = "dlqtui1:"
DEFAULT_MAX_METADATA_BYTES = 4096
"""Kafka's default ``offset.metadata.max.bytes``."""

_MAX_OFFSET = (1 << 63) - 1
_ITEM = re.compile(r"([0-9]{1,19})(?:-([0-9]{1,19}))?", re.ASCII)


class RangeSet:
    """An immutable set of non-negative integers stored as sorted, disjoint, non-adjacent closed
    ranges ``(first, last)``."""

    __slots__ = ("_ends", "_starts")

    _starts: tuple[int, ...]
    _ends: tuple[int, ...]

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        items = sorted(ranges)
        starts: list[int] = []
        ends: list[int] = []
        for a, b in items:
            if a < 0 or b < a:
                raise ValueError(f"bad range {a}-{b}")
            if ends and a <= ends[-1] + 1:
                if b > ends[-1]:
                    ends[-1] = b
            else:
                starts.append(a)
                ends.append(b)
        self._starts = tuple(starts)
        self._ends = tuple(ends)

    @classmethod
    def of(cls, offsets: Iterable[int]) -> RangeSet:
        """The set of the given offsets."""
        return cls((o, o) for o in offsets)

    def __contains__(self, x: object) -> bool:
        if not isinstance(x, int):
            return False
        i = bisect_right(self._starts, x) - 1
        return i >= 0 and x <= self._ends[i]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._starts, self._ends, strict=True)

    def __len__(self) -> int:
        """The number of ranges (see `count` for the number of offsets)."""
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RangeSet):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    def __hash__(self) -> int:
        return hash((self._starts, self._ends))

    def __repr__(self) -> str:
        return f"RangeSet({format_ranges(self)!r})"

    @property
    def ranges(self) -> list[tuple[int, int]]:
        return list(self)

    def count(self) -> int:
        """The number of offsets in the set."""
        return sum(b - a + 1 for a, b in self)

    def offsets(self) -> Iterator[int]:
        for a, b in self:
            yield from range(a, b + 1)

    def above(self, n: int) -> RangeSet:
        """The members >= n."""
        i = bisect_right(self._ends, n - 1)
        if i == len(self._ends):
            return _EMPTY
        out = RangeSet()
        starts = list(self._starts[i:])
        starts[0] = max(starts[0], n)
        out._starts = tuple(starts)
        out._ends = self._ends[i:]
        return out

    def union(self, other: Iterable[tuple[int, int]]) -> RangeSet:
        return RangeSet([*self, *other])


_EMPTY = RangeSet()


def format_ranges(offsets: RangeSet | Iterable[int]) -> str:
    """``12-15,40``: the compact text of a set of offsets (no prefix)."""
    rs = offsets if isinstance(offsets, RangeSet) else RangeSet.of(offsets)
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in rs)


def parse_ranges(text: str) -> RangeSet | None:
    """Parse ``12-15,40``; None when the text is not exactly that grammar ('' is the empty set)."""
    if not text:
        return _EMPTY
    ranges: list[tuple[int, int]] = []
    for item in text.split(","):
        m = _ITEM.fullmatch(item)
        if m is None:
            return None
        a = int(m.group(1))
        b = a if m.group(2) is None else int(m.group(2))
        if b < a or b > _MAX_OFFSET:
            return None
        ranges.append((a, b))
    return RangeSet(ranges)


def format_metadata(offsets: RangeSet | Iterable[int]) -> str:
    """The commit metadata for a set of resolved offsets: ``dlqtui1:12-15,40``, or ``''`` when the
    set is empty (so a fully advanced commit carries no metadata)."""
    body = format_ranges(offsets)
    return METADATA_PREFIX + body if body else ""


def parse_metadata(metadata: str | None) -> RangeSet:
    """The resolved offsets listed in commit metadata. Anything that is not well-formed dlq-tui
    metadata (another tool's, truncated, corrupt) yields the empty set, never an exception: the
    safe reading, since it can only show records again, never hide one."""
    if not metadata or not metadata.startswith(METADATA_PREFIX):
        return _EMPTY
    parsed = parse_ranges(metadata[len(METADATA_PREFIX) :])
    return _EMPTY if parsed is None else parsed


def _range_chars(a: int, b: int) -> int:
    return len(str(a)) if a == b else len(str(a)) + 1 + len(str(b))


class _Known:
    """What the caller knows about one partition's log: `offsets` holds every record offset in
    ``[start, end)``; outside that stretch any offset may hold a record."""

    __slots__ = ("end", "hi", "lo", "offsets", "start")

    def __init__(self, offsets: Sequence[int], start: int, end: int) -> None:
        if end < start:
            raise ValueError(f"known_end {end} < known_start {start}")
        self.offsets = offsets
        self.start = start
        self.end = end
        self.lo = bisect_left(offsets, start)
        self.hi = bisect_left(offsets, end, self.lo)

    def is_record(self, x: int) -> bool:
        if x < self.start or x >= self.end:
            return True
        i = bisect_left(self.offsets, x, self.lo, self.hi)
        return i < self.hi and self.offsets[i] == x

    def any_between(self, lo: int, hi: int) -> bool:
        """Whether any offset strictly between lo and hi may hold a record."""
        x0, x1 = lo + 1, hi - 1
        if x0 > x1:
            return False
        if x0 < self.start or x1 >= self.end:
            return True
        i = bisect_left(self.offsets, x0, self.lo, self.hi)
        return i < self.hi and self.offsets[i] <= x1

    def first_from(self, pos: int) -> int:
        """The first offset >= pos that may hold a record."""
        if pos < self.start or pos >= self.end:
            return pos
        i = bisect_left(self.offsets, pos, self.lo, self.hi)
        return self.offsets[i] if i < self.hi else self.end


class Fit(NamedTuple):
    """A prefix of resolutions whose commit metadata fits the size limit."""

    resolution: PartitionResolution
    """The partition's state once `included` is resolved."""
    included: list[int]
    """The offsets to resolve in this commit (ascending)."""
    remaining: list[int]
    """The offsets left for a later commit (ascending)."""


@dataclass(frozen=True, slots=True)
class PartitionResolution:
    """One partition's resolution state: the committed offset and the resolved offsets above it.

    Members of `resolved_above` below `committed` are dropped on construction.
    """

    committed: int
    resolved_above: RangeSet = field(default=_EMPTY)

    def __post_init__(self) -> None:
        if self.committed < 0:
            raise ValueError("committed offset must be >= 0")
        if self.resolved_above and next(iter(self.resolved_above))[0] < self.committed:
            object.__setattr__(self, "resolved_above", self.resolved_above.above(self.committed))

    @classmethod
    def from_commit(cls, committed: int, metadata: str | None) -> PartitionResolution:
        """From the group's committed offset and its metadata (`parse_metadata` rules)."""
        return cls(committed, parse_metadata(metadata))

    @property
    def metadata(self) -> str:
        """The metadata string to commit along with `committed`."""
        return format_metadata(self.resolved_above)

    def is_resolved(self, offset: int) -> bool:
        return offset < self.committed or offset in self.resolved_above

    def resolve(
        self,
        offsets: Iterable[int],
        *,
        known: Sequence[int],
        known_start: int,
        known_end: int,
    ) -> PartitionResolution:
        """The state after also resolving `offsets`.

        `known` is ascending and lists *every* record offset in ``[known_start, known_end)``
        (the reader read that stretch completely, ``read_committed``); members outside it are
        ignored. Typically ``known_start`` is where the reader started and ``known_end`` its
        position (the snapshot end once fully loaded).

        The new committed offset is the first offset >= `committed` that may hold an unresolved
        record: inside the known stretch only record offsets count (gaps are skipped), outside it
        every offset counts. The new metadata lists the resolved records above it as ranges,
        each spanning only offsets that hold a resolved record or, inside the known stretch, no
        record at all. Monotonic; no record outside `offsets` changes state.

        Raises ValueError for an offset inside the known stretch that holds no record.
        """
        kn = _Known(known, known_start, known_end)
        resolved = self._new_offsets(offsets, kn)
        x = self.resolved_above.union((t, t) for t in resolved)
        return self._close(x, kn)

    def fit(
        self,
        offsets: Iterable[int],
        *,
        known: Sequence[int],
        known_start: int,
        known_end: int,
        max_bytes: int = DEFAULT_MAX_METADATA_BYTES,
    ) -> Fit:
        """Split `offsets` (taken ascending) so the metadata of one commit fits `max_bytes`.

        Returns the largest ascending prefix whose resolved state's metadata is at most
        `max_bytes` long, so a committer can commit in several complete transactions. When no
        prefix fits (not even the empty one), `included` is empty and `resolution` is this state
        with the same normalisation `resolve` applies; the caller must then report that the
        partition has too many unresolved holes to record (decide on the records in between).
        Same arguments and errors as `resolve`.
        """
        req = sorted(set(offsets))
        full = self.resolve(req, known=known, known_start=known_start, known_end=known_end)
        if len(full.metadata) <= max_bytes:
            return Fit(full, req, [])
        kn = _Known(known, known_start, known_end)
        sizes = self._prefix_sizes(req, kn)
        best = 0
        for k, size in enumerate(sizes):
            if size <= max_bytes:
                best = k
        included = req[:best]
        state = self.resolve(included, known=known, known_start=known_start, known_end=known_end)
        return Fit(state, included, req[best:])

    # -- internals ------------------------------------------------------------------------------

    def _new_offsets(self, offsets: Iterable[int], kn: _Known) -> list[int]:
        """Offsets that are not yet resolved, validated against what is known."""
        out: list[int] = []
        for t in offsets:
            if t < self.committed or t in self.resolved_above:
                continue
            if not kn.is_record(t):
                raise ValueError(f"offset {t} holds no record (known stretch)")
            out.append(t)
        return out

    def _close(self, x: RangeSet, kn: _Known) -> PartitionResolution:
        """Advance the committed offset over `x` and bridge `x`'s ranges across record-free gaps."""
        pos = self.committed
        committed: int | None = None
        groups: list[tuple[int, int]] = []
        open_a = open_b = 0
        for a, b in x:
            if committed is None:
                if kn.any_between(pos - 1, a):
                    committed = kn.first_from(pos)
                    open_a, open_b = a, b
                else:
                    pos = b + 1
            elif kn.any_between(open_b, a):
                groups.append((open_a, open_b))
                open_a, open_b = a, b
            else:
                open_b = b
        if committed is None:
            return PartitionResolution(kn.first_from(pos))
        groups.append((open_a, open_b))
        return PartitionResolution(committed, RangeSet(groups))

    def _prefix_sizes(self, req: list[int], kn: _Known) -> list[int]:
        """``len(self.resolve(req[:k]).metadata)`` for every k in ``0..len(req)``, in one sweep.

        Resolving ascending offsets only changes the state at and below the newest one, so the
        sweep keeps the exact state left of it and adds the already-resolved ranges right of it
        from suffix sums precomputed over those ranges alone.
        """
        s = list(self.resolved_above)
        m = len(s)
        # Group the existing ranges on their own: gend[j] = last range in j's group.
        gend = [0] * m
        for j in range(m - 1, -1, -1):
            gend[j] = gend[j + 1] if j + 1 < m and not kn.any_between(s[j][1], s[j + 1][0]) else j
        # tail_chars/tail_n[j]: metadata chars and range count of ranges j.. with j opening a group.
        tail_chars = [0] * (m + 1)
        tail_n = [0] * (m + 1)
        for j in range(m - 1, -1, -1):
            g = gend[j]
            tail_chars[j] = _range_chars(s[j][0], s[g][1]) + tail_chars[g + 1]
            tail_n[j] = 1 + tail_n[g + 1]

        prefix = len(METADATA_PREFIX)

        def total(chars: int, n: int) -> int:
            return 0 if n == 0 else prefix + chars + n - 1

        found = False
        pos = self.committed
        closed_chars = closed_n = 0
        open_a = open_b = 0
        j = 0

        def feed(a: int, b: int) -> None:
            nonlocal found, pos, closed_chars, closed_n, open_a, open_b
            if not found:
                if kn.any_between(pos - 1, a):
                    found = True
                    open_a, open_b = a, b
                else:
                    pos = b + 1
            elif kn.any_between(open_b, a):
                closed_chars += _range_chars(open_a, open_b)
                closed_n += 1
                open_a, open_b = a, b
            else:
                open_b = b

        def size_now() -> int:
            if found:
                if j < m and not kn.any_between(open_b, s[j][0]):
                    g = gend[j]
                    chars = closed_chars + _range_chars(open_a, s[g][1]) + tail_chars[g + 1]
                    return total(chars, closed_n + 1 + tail_n[g + 1])
                chars = closed_chars + _range_chars(open_a, open_b) + tail_chars[j]
                return total(chars, closed_n + 1 + tail_n[j])
            if j < m and not kn.any_between(pos - 1, s[j][0]):
                g = gend[j]
                return total(tail_chars[g + 1], tail_n[g + 1])
            return total(tail_chars[j], tail_n[j])

        sizes = [size_now()]
        for t in req:
            if t < self.committed or t in self.resolved_above:
                sizes.append(sizes[-1])
                continue
            if not kn.is_record(t):
                raise ValueError(f"offset {t} holds no record (known stretch)")
            while j < m and s[j][0] < t:
                feed(*s[j])
                j += 1
            feed(t, t)
            sizes.append(size_now())
        return sizes
