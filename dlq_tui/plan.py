"""The commit plan: what a commit of the staged decisions would write, computed once (by the
engine, from what it loaded) and rendered alike by the review screen, `--dry-run` and — for what a
commit did write — the result summary.

The transaction split lives here too (`transaction_batches`): the committer runs it on the group's
state as re-read at commit time, the plan on the state the session knows, so a dry run and the
commit that follows it agree when nobody else commits in between.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from dlq_tui.decode.sanitize import one_line
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RecordLike
from dlq_tui.triage.resolution import PartitionResolution

__all__ = [
    "TOMBSTONE_RANGE_RESERVE",
    "CommitPlan",
    "CommitResult",
    "KnownStretch",
    "PartitionPlan",
    "PlanLine",
    "PlannedWrite",
    "plan_lines",
    "result_lines",
    "transaction_batches",
]

TOMBSTONE_RANGE_RESERVE = 2 * 20 + 2
"""Metadata bytes kept free for one range of a transaction's own tombstones (`,a-b`)."""

Tone = Literal["title", "merge", "purge", "warn", "dim", ""]
PlanLine = tuple[str, Tone]
"""One line of a rendered plan or result, with a tone the app maps to a style (line mode prints
the text only)."""

TombstoneFate = Literal["write", "withheld", "none"]


@dataclass(frozen=True)
class KnownStretch:
    """What the reader read of one partition: every record offset in [start, end), ascending, and
    the partition's log start offset."""

    offsets: Sequence[int]
    start: int
    end: int
    log_start: int


class SplitError(ValueError):
    """A partition's resolved set cannot be recorded in the offset metadata at all."""

    def __init__(self, partition: int) -> None:
        super().__init__(
            f"partition {partition}: too many undecided records between resolved ones to record the "
            "resolved set in the offset metadata; decide on the records in between"
        )
        self.partition = partition


def transaction_batches(
    state: dict[int, PartitionResolution],
    pending: dict[int, list[tuple[RecordLike, Decision]]],
    known: dict[int, KnownStretch],
    max_bytes: int,
    *,
    max_records: int | None = None,
) -> Iterator[tuple[list[tuple[RecordLike, Decision]], dict[int, PartitionResolution]]]:
    """Split the pending writes (per partition, any order) into transactions whose resolved-set
    metadata fits `max_bytes` and, with `max_records` (a rate cap), that hold at most that many
    writes: yields (the writes of one transaction, the resolution state of its partitions after
    it). `state` is not changed; `pending`'s lists are consumed. Raises `SplitError` when a
    partition cannot make progress."""
    state = dict(state)
    while any(pending.values()):
        batch: list[tuple[RecordLike, Decision]] = []
        next_state: dict[int, PartitionResolution] = {}
        room = max_records
        for p, items in pending.items():
            if not items or room == 0:
                continue
            stretch = known[p]
            items, offsets = _by_offset(items)
            candidates = offsets if room is None else offsets[:room]
            fit = state[p].fit(
                candidates,
                known=stretch.offsets,
                known_start=stretch.start,
                known_end=stretch.end,
                max_bytes=max(0, max_bytes),
            )
            if not fit.included:
                raise SplitError(p)
            if len(fit.included) == len(candidates):  # the common case: every candidate fits
                batch.extend(items[: len(candidates)])
                pending[p] = items[len(candidates) :]
            else:
                included = set(fit.included)
                batch.extend(rd for rd, o in zip(items, offsets, strict=True) if o in included)
                pending[p] = [rd for rd, o in zip(items, offsets, strict=True) if o not in included]
            next_state[p] = fit.resolution
            if room is not None:
                room -= len(fit.included)
        yield batch, next_state
        state.update(next_state)


def _by_offset(
    items: list[tuple[RecordLike, Decision]],
) -> tuple[list[tuple[RecordLike, Decision]], list[int]]:
    """The writes of one partition in offset order, and their offsets (each record's offset read
    once: on the engine's store it is a lookup)."""
    offsets = [r.offset for r, _ in items]
    if all(a < b for a, b in itertools.pairwise(offsets)):
        return items, offsets
    order = sorted(range(len(items)), key=offsets.__getitem__)
    return [items[i] for i in order], [offsets[i] for i in order]


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """One staged merge or purge as the commit would write it."""

    partition: int
    offset: int
    decision: Decision
    key: bytes | None
    tombstone: TombstoneFate
    destination: str | None = None
    """Where a merge goes when it is not the plan's `destination` (`@origin`: the origin topic)."""
    edited: bool = False
    """A merge of an edited value (edit then merge)."""


@dataclass(frozen=True)
class PartitionPlan:
    partition: int
    merges: int
    purges: int
    tombstones: int
    withheld: int
    committed: int
    """The group's committed offset for the partition after the commit."""
    resolved_above: int
    """Offsets above `committed` listed as resolved in the metadata."""
    metadata: str


@dataclass(frozen=True)
class CommitPlan:
    source: str
    destination: str | None
    group: str
    writes: tuple[PlannedWrite, ...]
    partitions: tuple[PartitionPlan, ...]
    tombstones_on: bool
    tombstone_reason: str
    """Why tombstones are written or not (`--tombstones`, the source's cleanup policy)."""
    keep_timestamp: bool
    skipped: int
    not_loaded: int
    """Decisions staged on records not loaded (yet): kept, not in this commit."""
    transactions: int
    error: str | None = None
    """Why this plan cannot be committed as it is (the commit would refuse), if it cannot."""
    # Safe redrive (docs/redrive.md).
    by_destination: dict[str, int] = field(default_factory=dict)
    """Merges per destination topic."""
    edited: int = 0
    """Merges of edited values."""
    max_rate: float | None = None
    """The rate cap (records per second), if any: `transactions` counts the split it makes."""
    audit_topic: str | None = None
    """Where one audit record per merge and purge goes, in the same transaction."""
    warnings: tuple[str, ...] = ()

    @property
    def merges(self) -> int:
        return sum(p.merges for p in self.partitions)

    @property
    def purges(self) -> int:
        return sum(p.purges for p in self.partitions)

    @property
    def tombstones(self) -> int:
        return sum(p.tombstones for p in self.partitions)

    @property
    def withheld(self) -> int:
        return sum(p.withheld for p in self.partitions)

    @property
    def decisions(self) -> int:
        return len(self.writes)


@dataclass
class CommitResult:
    """What a commit wrote (the engine's summary of a `CommitReport`, for rendering)."""

    merged: int = 0
    purged: int = 0
    tombstones: int = 0
    withheld: int = 0
    transactions: int = 0
    dropped: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    by_destination: dict[str, int] = field(default_factory=dict)
    audited: int = 0
    stopped: bool = False
    """Stopped between transactions; `remaining` decisions are still staged."""
    remaining: int = 0


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _escaped(lines: list[PlanLine]) -> list[PlanLine]:
    """Topic and group names are any strings the cluster has: nothing in them may drive a terminal."""
    return [(one_line(text, 4000), tone) for text, tone in lines]


def plan_lines(plan: CommitPlan) -> list[PlanLine]:
    """The plan as the review screen and `--dry-run` show it."""
    out: list[PlanLine] = [
        (
            f"Commit {_n(plan.decisions, 'staged decision')} in {_n(plan.transactions, 'transaction')}",
            "title",
        )
    ]
    if plan.merges:
        stamp = "original timestamps" if plan.keep_timestamp else "new timestamps"
        out.append(
            (
                f"merge {plan.merges:,} → {plan.destination or '?'} (key, value, headers byte for byte; {stamp})",
                "merge",
            )
        )
        out += [(f"    partition {p.partition}: {p.merges:,}", "") for p in plan.partitions if p.merges]
        if plan.by_destination and (
            len(plan.by_destination) > 1 or plan.destination not in plan.by_destination
        ):
            out += [(f"    to {topic}: {n:,}", "") for topic, n in sorted(plan.by_destination.items())]
        if plan.edited:
            out.append((f"    {plan.edited:,} edited (new value; same key, headers and timestamp)", "merge"))
    if plan.purges:
        out.append((f"purge {plan.purges:,}", "purge"))
        out += [(f"    partition {p.partition}: {p.purges:,}", "") for p in plan.partitions if p.purges]
    if plan.tombstones_on:
        out.append(
            (
                f"tombstones: {plan.tombstones:,} to {plan.source} ({plan.tombstone_reason}; "
                "none for keyless records)",
                "",
            )
        )
        if plan.withheld:
            out.append(
                (
                    f"    {plan.withheld:,} withheld: a newer record with the same key is undecided "
                    "(compaction would delete it)",
                    "warn",
                )
            )
    else:
        out.append((f"tombstones: none ({plan.tombstone_reason})", ""))
    if plan.partitions:
        offsets = ", ".join(
            f"p{p.partition} → {p.committed:,}"
            + (f" (+{p.resolved_above:,} above)" if p.resolved_above else "")
            for p in plan.partitions
        )
        out.append((f"group {plan.group}: committed offsets {offsets}", ""))
    notes = []
    if plan.skipped:
        notes.append(f"{plan.skipped:,} skip (not committed: they stay in the DLQ)")
    if plan.not_loaded:
        notes.append(f"{plan.not_loaded:,} staged on records not loaded yet (kept for later)")
    if notes:
        out.append(("not in this commit: " + "; ".join(notes), "dim"))
    if plan.max_rate:
        out.append((f"rate cap {plan.max_rate:g}/s: each transaction complete with its offsets", ""))
    if plan.audit_topic:
        out.append(
            (f"audit: {plan.decisions:,} record(s) to {plan.audit_topic} in the same transaction(s)", "")
        )
    out += [(f"warning: {w}", "warn") for w in plan.warnings]
    if plan.error:
        out.append((f"cannot commit: {plan.error}", "warn"))
    return _escaped(out)


def result_lines(result: CommitResult) -> list[PlanLine]:
    """What a commit wrote, as the app's result and line mode's last lines say it."""
    out: list[PlanLine] = [
        (
            f"{result.merged:,} merged, {result.purged:,} purged, {result.skipped:,} skipped; "
            f"{_n(result.tombstones, 'tombstone')} in {_n(result.transactions, 'transaction')}",
            "title",
        )
    ]
    if result.withheld:
        out.append(
            (
                f"{_n(result.withheld, 'tombstone')} withheld: a newer record with the same key is undecided",
                "",
            )
        )
    if result.dropped:
        out.append((f"{_n(result.dropped, 'decision')} dropped: already resolved by someone else", "warn"))
    if result.by_destination:
        out += [(f"merged to {topic}: {n:,}", "") for topic, n in sorted(result.by_destination.items())]
    if result.audited:
        out.append((f"{_n(result.audited, 'audit record')} in the same transaction(s)", ""))
    if result.stopped:
        out.append(
            (
                f"stopped between transactions: {_n(result.remaining, 'decision')} not committed, still staged",
                "warn",
            )
        )
    out += [(note, "warn") for note in result.notes]
    return _escaped(out)
