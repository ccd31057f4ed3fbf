"""Decisions and the staged-decision buffer.

The buffer holds the engineer's decisions until they are committed in one transaction. It can
hold a decision for every loaded record (a bulk "merge all" over a million records), so it keeps
``partition -> {offset: Decision}`` dicts (one int object and one dict slot per decision; the
`Decision` members are shared) rather than a `RecordId` tuple per decision.

Listeners hear every change after it is applied: the journal persists it, the UI repaints. A
change lists only the records whose decision actually changed.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dlq_tui.triage.records import RecordId

__all__ = ["Change", "ChangeKind", "Decision", "Listener", "StagedBuffer"]


class Decision(enum.Enum):
    MERGE = "merge"
    """Copy the record byte for byte to the destination topic; resolves it."""
    PURGE = "purge"
    """Drop the record; resolves it."""
    SKIP = "skip"
    """Not now: a session (and journal) marker only; never resolves anything."""

    @property
    def resolves(self) -> bool:
        return self is not Decision.SKIP


class ChangeKind(enum.Enum):
    SET = "set"
    """`decision` was set on `rids`."""
    UNDO = "undo"
    """The engineer took the decisions on `rids` back."""
    DROP = "drop"
    """The decisions on `rids` were dropped because someone else resolved those records."""
    COMMIT = "commit"
    """The decisions on `rids` were committed and leave the buffer."""


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    rids: tuple[RecordId, ...]
    decision: Decision | None = None
    """The new decision for SET, else None."""


Listener = Callable[[Change], None]

_ZERO: dict[Decision, int] = dict.fromkeys(Decision, 0)


class StagedBuffer:
    """Staged decisions keyed by record id. Not thread-safe (the UI's event loop owns it)."""

    def __init__(self) -> None:
        self._by_part: dict[int, dict[int, Decision]] = {}
        self._counts: dict[Decision, int] = dict(_ZERO)
        self._part_counts: dict[int, dict[Decision, int]] = {}
        self._len = 0
        self._listeners: list[Listener] = []

    # -- listeners ------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Remove `listener` (no error if it is not registered)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _emit(self, change: Change) -> None:
        for listener in list(self._listeners):
            listener(change)

    # -- changes --------------------------------------------------------------------------------

    def set(self, rids: Iterable[RecordId], decision: Decision) -> int:
        """Set `decision` on `rids`; return how many records changed."""
        changed: list[RecordId] = []
        counts = self._counts
        for rid in rids:
            p, o = rid
            part = self._by_part.get(p)
            if part is None:
                part = self._by_part[p] = {}
                self._part_counts[p] = dict(_ZERO)
            old = part.get(o)
            if old is decision:
                continue
            pc = self._part_counts[p]
            if old is None:
                self._len += 1
            else:
                counts[old] -= 1
                pc[old] -= 1
            part[o] = decision
            counts[decision] += 1
            pc[decision] += 1
            changed.append(rid if type(rid) is RecordId else RecordId(p, o))
        if changed:
            self._emit(Change(ChangeKind.SET, tuple(changed), decision))
        return len(changed)

    def _remove(self, rids: Iterable[RecordId], kind: ChangeKind) -> list[RecordId]:
        removed: list[RecordId] = []
        counts = self._counts
        for rid in rids:
            p, o = rid
            part = self._by_part.get(p)
            if part is None:
                continue
            old = part.pop(o, None)
            if old is None:
                continue
            counts[old] -= 1
            pc = self._part_counts[p]
            pc[old] -= 1
            self._len -= 1
            if not part:
                del self._by_part[p]
                del self._part_counts[p]
            removed.append(rid if type(rid) is RecordId else RecordId(p, o))
        if removed:
            self._emit(Change(kind, tuple(removed)))
        return removed

    def undo(self, rids: Iterable[RecordId]) -> int:
        """Take back the decisions on `rids` (they become undecided); return how many."""
        return len(self._remove(rids, ChangeKind.UNDO))

    def drop(self, rids: Iterable[RecordId]) -> list[RecordId]:
        """Remove decisions whose records someone else resolved meanwhile; return those that
        were staged (to tell the user)."""
        return self._remove(rids, ChangeKind.DROP)

    def clear_committed(self, rids: Iterable[RecordId]) -> int:
        """Remove decisions that were just committed; return how many."""
        return len(self._remove(rids, ChangeKind.COMMIT))

    # -- queries --------------------------------------------------------------------------------

    def get(self, rid: RecordId) -> Decision | None:
        part = self._by_part.get(rid[0])
        return None if part is None else part.get(rid[1])

    def __contains__(self, rid: object) -> bool:
        return isinstance(rid, tuple) and len(rid) == 2 and self.get(RecordId(*rid)) is not None

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def count(self, decision: Decision) -> int:
        return self._counts[decision]

    def counts(self) -> dict[Decision, int]:
        """Decisions staged, per decision (every member present)."""
        return dict(self._counts)

    def partition_counts(self, partition: int) -> dict[Decision, int]:
        """Decisions staged in one partition, per decision (every member present)."""
        return dict(self._part_counts.get(partition, _ZERO))

    def partitions(self) -> list[int]:
        """Partitions with at least one staged decision, ascending."""
        return sorted(self._by_part)

    def items(self) -> Iterator[tuple[RecordId, Decision]]:
        """All staged decisions, by partition then offset."""
        for p in sorted(self._by_part):
            part = self._by_part[p]
            for o in sorted(part):
                yield RecordId(p, o), part[o]

    def partition_items(self, partition: int) -> Iterator[tuple[int, Decision]]:
        """``(offset, decision)`` of one partition, ascending."""
        part = self._by_part.get(partition, {})
        for o in sorted(part):
            yield o, part[o]

    def writes(self) -> list[tuple[RecordId, Decision]]:
        """The merges and purges (what a commit writes), sorted by partition and offset."""
        return [(rid, d) for rid, d in self.items() if d is not Decision.SKIP]
