"""An engine on a list of records, with no Kafka and no registry: the same `TriageSession` logic
(store, decisions, filters, the commit plan) over an in-memory reader and committer.

It serves the app's pilot and snapshot tests (`make test-fast`), the docs' screenshots and
`dlq-tui demo-offline`. What it "commits" only changes its own resolution state and remembers what
would have been written (`MemoryCommitter.written`); nothing here claims Kafka behaviour — the
tests that do run against the real broker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dlq_tui.decode.registry import RegisteredSchema, RegistryError, SchemaPending
from dlq_tui.decode.view import RecordDecoder
from dlq_tui.engine import SessionConfig, Tombstones, TriageSession
from dlq_tui.kafka.committer import CommitError, CommitReport, CommitRequest, FaultHook, ProgressHook
from dlq_tui.kafka.connection import DlqError, KafkaSettings
from dlq_tui.kafka.reader import PartitionProgress
from dlq_tui.plan import SplitError, transaction_batches
from dlq_tui.redrive import CanaryOutcome, CanaryWatch, Returned
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.journal import RestoreResult
from dlq_tui.triage.records import RecordId, RecordLike
from dlq_tui.triage.resolution import PartitionResolution, RangeSet

__all__ = ["MemoryCommitter", "MemoryEngine", "MemorySchemas", "Written"]


class MemorySchemas:
    """A `SchemaSource` over a dict of schemas (ids not in it fail as a registry would). Ids in
    `pending` are "being fetched": they decode as pending until `arrive()` makes them known."""

    def __init__(
        self, schemas: Mapping[int, RegisteredSchema], pending: Mapping[int, RegisteredSchema] | None = None
    ) -> None:
        self._schemas = dict(schemas)
        self._pending = dict(pending or {})

    def get_schema(self, schema_id: int) -> RegisteredSchema:
        if schema_id in self._pending:
            raise SchemaPending(f"schema id {schema_id} not fetched yet")
        try:
            return self._schemas[schema_id]
        except KeyError:
            raise RegistryError(f"schema id {schema_id} not found") from None

    def known(self) -> dict[int, RegisteredSchema]:
        return dict(self._schemas)

    def arrive(self) -> bool:
        """The pending schemas are fetched now; returns whether there were any."""
        arrived, self._pending = self._pending, {}
        self._schemas.update(arrived)
        return bool(arrived)


@dataclass(frozen=True)
class Written:
    """A record the memory committer would have produced."""

    topic: str
    partition: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


class _MemoryReader:
    """The reader's interface over a list: batches in the list's order (so tests choose how
    partitions interleave); `gate`, if given, must be set before each batch is handed out."""

    def __init__(
        self,
        records: Sequence[RecordLike],
        starts: dict[int, int],
        partitions: list[int],
        batch_size: int,
        gate: asyncio.Event | None,
    ) -> None:
        self._records = [r for r in records if r.offset >= starts.get(r.partition, 0)]
        ends = {p: 0 for p in partitions}
        for r in records:
            ends[r.partition] = max(ends[r.partition], r.offset + 1)
        self.progress = {
            p: PartitionProgress(p, starts.get(p, 0), ends[p], starts.get(p, 0)) for p in partitions
        }
        self._batch_size = batch_size
        self._gate = gate
        self._next = 0

    @property
    def snapshot_done(self) -> bool:
        return self._next >= len(self._records)

    async def batches(self, *, follow: bool = False) -> AsyncIterator[list[RecordLike]]:
        while self._next < len(self._records):
            if self._gate is not None:
                await self._gate.wait()
            batch = self._records[self._next : self._next + self._batch_size]
            self._next += len(batch)
            for r in batch:
                prog = self.progress[r.partition]
                prog.position = max(prog.position, r.offset + 1)
                prog.records += 1
            yield batch
            await asyncio.sleep(0)
        for prog in self.progress.values():
            prog.position = prog.end

    async def end_offsets(self) -> dict[int, int]:
        return {p: prog.end for p, prog in self.progress.items()}

    async def close(self) -> None:
        return None


@dataclass
class MemoryCommitter:
    """Commits by changing its own resolution state; remembers what it would have written.
    `fail_with`: the next commit fails with this message (nothing applied), then it is cleared."""

    state: dict[int, PartitionResolution] = field(default_factory=dict)
    written: list[Written] = field(default_factory=list)
    fail_with: str | None = None
    gate: asyncio.Event | None = None
    """If given, a commit waits for it after its first transaction starts (to test cancel)."""

    async def commit(
        self,
        request: CommitRequest,
        *,
        progress: ProgressHook | None = None,
        fault: FaultHook | None = None,
        report: CommitReport | None = None,
        waiting: Callable[[str], None] | None = None,
    ) -> CommitReport:
        """`waiting` is never called: nothing here waits on a broker."""
        report = report if report is not None else CommitReport()
        if self.fail_with is not None:
            message, self.fail_with = self.fail_with, None
            raise CommitError(f"commit aborted, nothing of this transaction written: {message}", report)
        state = {p: self.state.get(p, PartitionResolution(k.log_start)) for p, k in request.known.items()}
        report.partitions.update(state)
        pending: dict[int, list[tuple[RecordLike, Decision]]] = {}
        for record, decision in request.writes:
            if state[record.partition].is_resolved(record.offset):
                report.dropped.append(RecordId(record.partition, record.offset))
            elif decision is not Decision.SKIP:
                pending.setdefault(record.partition, []).append((record, decision))
        total = sum(len(v) for v in pending.values())
        done = 0
        try:
            for batch, next_state in transaction_batches(
                state, pending, request.known, request.max_metadata_bytes
            ):
                if progress is not None:
                    progress("producing", done, total)
                if self.gate is not None:
                    await self.gate.wait()
                for record, decision in batch:
                    if decision is Decision.MERGE:
                        assert request.destination is not None
                        self.written.append(
                            Written(
                                request.destination, None, record.key, record.value, tuple(record.headers)
                            )
                        )
                        report.merged += 1
                    else:
                        report.purged += 1
                    if request.tombstones and record.key is not None:
                        keys = request.protected_keys.get(record.partition, {})
                        if keys.get(record.key, -1) > record.offset:
                            report.tombstones_withheld += 1
                        else:
                            self.written.append(
                                Written(request.source, record.partition, record.key, None, ())
                            )
                            report.tombstones += 1
                    report.committed.append(RecordId(record.partition, record.offset))
                done += len(batch)
                self.state.update(next_state)
                report.partitions.update(next_state)
                report.transactions += 1
                if progress is not None:
                    progress("committing", done, total)
        except SplitError as exc:
            raise CommitError(str(exc), report) from exc
        return report


class MemoryEngine(TriageSession):
    """`TriageSession` on `records` (any `RecordLike`, any partitions and offsets). `committed`:
    the group's committed offset per partition; `resolved`: offsets listed as resolved above it;
    `offered`: decisions of a "lost session" offered for restore."""

    def __init__(
        self,
        records: Sequence[RecordLike],
        *,
        source: str = "orders-dlq",
        destination: str | None = "orders-retry",
        group: str = "orders-consumer",
        committed: Mapping[int, int] | None = None,
        resolved: Iterable[RecordId] = (),
        partitions: Iterable[int] = (),
        compacted: bool = False,
        destination_compacted: bool = False,
        tombstones: Tombstones = "auto",
        read_only: bool = False,
        from_beginning: bool = False,
        schemas: Mapping[int, RegisteredSchema] | None = None,
        pending_schemas: Mapping[int, RegisteredSchema] | None = None,
        schema_gate: asyncio.Event | None = None,
        offered: Mapping[RecordId, Decision] | None = None,
        batch_size: int = 1000,
        gate: asyncio.Event | None = None,
        open_error: str | None = None,
        committer: MemoryCommitter | None = None,
    ) -> None:
        config = SessionConfig(
            kafka=KafkaSettings(bootstrap_servers="memory"),
            source=source,
            group=group,
            destination=destination,
            from_beginning=from_beginning,
            tombstones=tombstones,
            read_only=read_only,
            use_journal=False,
        )
        self.memory_committer = committer or MemoryCommitter()
        super().__init__(config, committer=self.memory_committer)  # type: ignore[arg-type]
        self.schemas = MemorySchemas(schemas or {}, pending_schemas)
        self._schema_gate = schema_gate
        self.decoder = RecordDecoder("auto", "auto", self.schemas)
        self._scan_decoder = RecordDecoder("auto", "auto", self.schemas, cache_size=1)
        self.records = list(records)
        self.partitions = sorted({r.partition for r in self.records} | set(partitions) | set(committed or {}))
        above: dict[int, list[int]] = {}
        for rid in resolved:
            above.setdefault(rid.partition, []).append(rid.offset)
        for p in self.partitions:
            state = PartitionResolution((committed or {}).get(p, 0), RangeSet.of(above.get(p, [])))
            self.memory_committer.state.setdefault(p, state)
        self.cleanup_policy = "compact" if compacted else "delete"
        self.destination_policy = "compact" if destination_compacted else "delete"
        self._settings = (batch_size, gate, open_error, compacted, destination_compacted, tombstones)
        self._offered_init = dict(offered or {})
        self._batch_size = batch_size
        self._gate = gate
        self._open_error = open_error

    async def open(self) -> None:
        if self._open_error is not None:
            raise DlqError(self._open_error)
        self.cluster_id = "memory"
        self.resolution = {p: self.memory_committer.state[p] for p in self.partitions}
        starts = {} if self.config.from_beginning else {p: r.committed for p, r in self.resolution.items()}
        self._reader = _MemoryReader(self.records, starts, self.partitions, self._batch_size, self._gate)  # type: ignore[assignment]
        self._unresolved_count = dict.fromkeys(self.partitions, 0)
        self._offered = {rid: d for rid, d in self._offered_init.items() if not self.is_resolved_rid(rid)}

    def restore_journal(self) -> RestoreResult:
        offered, self._offered = self._offered, {}
        restored = 0
        for decision in Decision:
            restored += self.buffer.set([rid for rid, d in offered.items() if d is decision], decision)
        return RestoreResult(restored, len(self._offered_init) - len(offered))

    def discard_journal(self) -> None:
        self._offered = {}

    async def prefetch(self, rows: range) -> bool:
        """Pending schemas "arrive" (once `schema_gate` is set, if given)."""
        if self._schema_gate is not None:
            await self._schema_gate.wait()
        if self.schemas.arrive():
            self.decoder.clear_cache()
            return True
        return False

    async def reopen(self) -> MemoryEngine:
        staged = list(self.buffer.items())
        batch_size, gate, open_error, compacted, destination_compacted, tombstones = self._settings
        cfg = self.config
        new = MemoryEngine(
            self.records,
            source=cfg.source,
            destination=cfg.destination,
            group=cfg.group,
            partitions=self.partitions,
            compacted=compacted,
            destination_compacted=destination_compacted,
            tombstones=tombstones,
            read_only=cfg.read_only,
            from_beginning=cfg.from_beginning,
            schemas=self.schemas.known(),
            batch_size=batch_size,
            gate=gate,
            open_error=open_error,
            committer=self.memory_committer,
        )
        await new.open()
        for decision in Decision:
            new.buffer.set(
                (rid for rid, d in staged if d is decision and not new.is_resolved_rid(rid)), decision
            )
        await self.close()
        return new

    async def canary(
        self, n: int, wait_seconds: float, *, on_committed: Callable[[CommitReport], None] | None = None
    ) -> CanaryOutcome:
        """As `commit_canary`, with the in-memory DLQ as what is watched: records appended to
        `records` after the canary's commit (a test's stand-in for the consumer failing again)."""
        writes, _ = self.staged_writes()
        first = [w for w in writes if w[1] is Decision.MERGE][:n]
        if not first:
            return CanaryOutcome(CommitReport(), left=sum(1 for _ in self.buffer.writes()))
        watch = CanaryWatch.of(r for r, _ in first)
        seen = len(self.records)
        report = await self.commit(only={r.rid for r, _ in first})
        if on_committed is not None:
            on_committed(report)
        deadline = time.monotonic() + wait_seconds
        returned: list[Returned] = []
        while not returned and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            for r in self.records[seen:]:
                why = watch.match(r)
                if why is not None:
                    returned.append(Returned(r.partition, r.offset, r.key, why))
        return CanaryOutcome(report, returned, left=sum(1 for _ in self.buffer.writes()))

    async def close(self) -> None:
        self._reader = None
