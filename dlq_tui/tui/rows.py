"""The record table's row source: which store rows the table shows, and their cells.

The view holds store row numbers partition by partition (`array('i')` each), so the table's order
does not depend on how the reader's fetches interleave the partitions, and index <-> row is a
binary search away. Cells are computed only for the rows being drawn: the columns come from the
store, the texts from the engine's decoded rows (cached), the mark from the staged decisions.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator

from dlq_tui.decode.sanitize import one_line
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.display import local_ts
from dlq_tui.engine_api import Engine
from dlq_tui.triage.decisions import Decision
from dlq_tui.tui.widgets.record_table import RowCells

__all__ = ["MARKS", "Selection", "ViewRows", "error_preview", "key_preview", "value_preview"]

PREVIEW_CHARS = 240
MARKS = {Decision.MERGE: "M", Decision.PURGE: "P", Decision.SKIP: "S"}
RESOLVED_MARK = "✓"
EDITED_MARK = "E"
"""A merge of an edited value."""


def key_preview(d: DecodedRecord, limit: int = PREVIEW_CHARS) -> str:
    if d.raw.key is None:
        return "(no key)"
    return _preview(d.key.kind, d.key.text, limit)


def value_preview(d: DecodedRecord, limit: int = PREVIEW_CHARS) -> str:
    if d.raw.value is None:
        return "(null: tombstone)"
    text = _preview(d.value.kind, d.value.text, limit)
    if d.value.error and d.value.kind in ("hex", "error"):
        return one_line(f"! undecodable: {d.value.error} | {text}", limit)
    return text


def _preview(kind: str, text: str, limit: int) -> str:
    if kind in ("hex", "error"):
        return one_line("0x" + text, limit)
    return one_line(text, limit)


def error_preview(d: DecodedRecord, limit: int = PREVIEW_CHARS) -> str:
    """The DLQ headers' failure, short: the innermost exception's class name and the message."""
    dlq = d.dlq
    cls = dlq.exception_cause_class or dlq.exception_class or ""
    short = cls.rsplit(".", 1)[-1]
    message = dlq.exception_message or ""
    if short and message:
        return one_line(f"{short}: {message}", limit)
    return one_line(short or message, limit)


class Selection:
    """The bulk selection: one flag byte per store row (a million selected rows cost 1 MB, not a
    set of a million ints), and the count."""

    __slots__ = ("_count", "_flags")

    def __init__(self) -> None:
        self._flags = bytearray()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __contains__(self, row: object) -> bool:
        return isinstance(row, int) and 0 <= row < len(self._flags) and self._flags[row] == 1

    def _grow(self, size: int) -> None:
        if size > len(self._flags):
            self._flags.extend(bytes(size - len(self._flags)))

    def toggle(self, row: int) -> bool:
        """Flip `row`; returns whether it is selected now."""
        self._grow(row + 1)
        selected = self._flags[row] == 0
        self._flags[row] = 1 if selected else 0
        self._count += 1 if selected else -1
        return selected

    def add_all(self, rows: Iterable[int]) -> int:
        """Select `rows`; returns how many were newly selected."""
        flags = self._flags
        added = 0
        for row in rows:
            if row >= len(flags):
                self._grow(row + 1)
                flags = self._flags
            if not flags[row]:
                flags[row] = 1
                added += 1
        self._count += added
        return added

    def discard_all(self, rows: Iterable[int]) -> None:
        flags = self._flags
        for row in rows:
            if row < len(flags) and flags[row]:
                flags[row] = 0
                self._count -= 1

    def clear(self) -> None:
        self._flags = bytearray(len(self._flags))
        self._count = 0

    def rows(self) -> array[int]:
        """The selected store rows, ascending."""
        if not self._count:
            return array("i")
        flags = self._flags
        out = array("i")
        i = flags.find(1)
        while i >= 0:
            out.append(i)
            i = flags.find(1, i + 1)
        return out


class ViewRows:
    """A `RowSource`: store rows shown partition by partition, each partition in offset order.

    Per partition an `array('i')` of store row numbers (ascending: a partition's records arrive in
    offset order); view index -> row is a binary search over the partitions' start indexes, row ->
    view index one more within its partition. Partition-major order keeps the table stable however
    the reader's fetches interleave the partitions. `selection` is the app's selection (shared).
    """

    __slots__ = ("_order", "_parts", "_starts", "engine", "selection")

    def __init__(self, engine: Engine, selection: Selection, rows: Iterable[int] = ()) -> None:
        self.engine = engine
        self.selection = selection
        self._parts: dict[int, array[int]] = {}
        self._order: list[int] = []  # partitions, ascending
        self._starts: list[int] = [0]  # view index of each partition's first row; last = len
        self.extend(rows)

    def __len__(self) -> int:
        return self._starts[-1]

    def row_at(self, index: int) -> int:
        if not 0 <= index < self._starts[-1]:
            raise IndexError(index)
        k = bisect_right(self._starts, index) - 1
        return self._parts[self._order[k]][index - self._starts[k]]

    def __iter__(self) -> Iterator[int]:
        for p in self._order:
            yield from self._parts[p]

    def to_array(self) -> array[int]:
        out = array("i")
        for p in self._order:
            out.extend(self._parts[p])
        return out

    def _position(self, row: int) -> tuple[int, int, bool]:
        """(index where `row` is or would go, its partition's slot, whether it is there)."""
        p = self.engine.partition_at(row)
        k = bisect_left(self._order, p)
        if k == len(self._order) or self._order[k] != p:
            return self._starts[k], k, False
        arr = self._parts[p]
        j = bisect_left(arr, row)
        return self._starts[k] + j, k, j < len(arr) and arr[j] == row

    def index_of(self, row: int) -> int | None:
        """The view index of store row `row`, or None if the view does not show it."""
        index, _k, found = self._position(row)
        return index if found else None

    def index_at_or_after(self, row: int) -> int:
        """The index of `row`, or of the row shown where it would be (clamped to the last)."""
        index, _k, _found = self._position(row)
        return min(index, max(0, len(self) - 1))

    def extend(self, rows: Iterable[int]) -> int | None:
        """Add `rows` (each partition's rows ascending and after those it has); returns the first
        view index that changed, None if nothing was added."""
        partition_at = self.engine.partition_at
        added: dict[int, array[int]] = {}
        for row in rows:
            p = partition_at(row)
            arr = added.get(p)
            if arr is None:
                arr = added[p] = array("i")
            arr.append(row)
        if not added:
            return None
        first = None
        for p, arr in added.items():
            part = self._parts.get(p)
            if part is None:
                insort(self._order, p)
                self._parts[p] = arr
            else:
                part.extend(arr)
        self._reindex()
        for p in added:
            k = self._order.index(p)
            end_before = self._starts[k + 1] - len(added[p])
            first = end_before if first is None else min(first, end_before)
        return first

    def _reindex(self) -> None:
        starts = [0]
        for p in self._order:
            starts.append(starts[-1] + len(self._parts[p]))
        self._starts = starts

    def keep(self, predicate: Callable[[int], bool]) -> None:
        """Keep only the rows `predicate` accepts."""
        for p in self._order:
            self._parts[p] = array("i", (r for r in self._parts[p] if predicate(r)))
        self._reindex()

    def mark(self, row: int) -> tuple[str, str]:
        engine = self.engine
        if engine.is_resolved(row):
            return RESOLVED_MARK, "resolved"
        decision = engine.decision(row)
        if decision is None:
            return "", ""
        if decision is Decision.MERGE and engine.edited(row):
            return EDITED_MARK, decision.value
        return MARKS[decision], decision.value

    def is_open(self, row: int) -> bool:
        """Unresolved and undecided: what triage still has to look at."""
        return not self.engine.is_resolved(row) and self.engine.decision(row) is None

    def next_open(self, index: int, step: int = 1) -> int | None:
        """The first index after (`step` 1) or before (-1) `index` whose row is open."""
        return self.find_open(index + step, step)

    def find_open(
        self,
        start: int,
        step: int = 1,
        *,
        stop: int | None = None,
        limit: int | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> int | None:
        """The first index from `start` on (`step` 1) or down (-1), before `stop` (default: the end),
        whose row is open; looks at `limit` rows at most. Safe in a worker thread (reads only)."""
        n = len(self)
        end = (n if step > 0 else -1) if stop is None else stop
        i = start
        looked = 0
        while (i < end if step > 0 else i > end) and 0 <= i < n:
            if limit is not None and looked >= limit:
                return None
            if cancelled is not None and looked % 4096 == 0 and cancelled():
                return None
            if self.is_open(self.row_at(i)):
                return i
            i += step
            looked += 1
        return None

    def scan_open(
        self, index: int, step: int = 1, limit: int = 5000, *, stop: int | None = None
    ) -> tuple[int | None, int | None]:
        """A bounded `next_open`: (the index found, None), (None, None) if there is none, or
        (None, where to go on) if `limit` rows were looked at without finding one."""
        start = index + step
        found = self.find_open(start, step, stop=stop, limit=limit)
        if found is not None:
            return found, None
        n = len(self)
        end = (n if step > 0 else -1) if stop is None else stop
        resume = start + step * limit
        if (resume < end if step > 0 else resume > end) and 0 <= resume < n:
            return None, resume
        return None, None

    def cells(self, index: int) -> RowCells:
        row = self.row_at(index)
        engine = self.engine
        mark, style = self.mark(row)
        d = engine.decoded(row)
        return RowCells(
            mark=mark,
            style=style,
            partition=engine.partition_at(row),
            offset=engine.offset_at(row),
            timestamp=local_ts(engine.timestamp_at(row)),
            key=key_preview(d),
            value=value_preview(d),
            error=error_preview(d),
            selected=row in self.selection,
        )
