"""The commit of the staged buffer, as DESIGN.md's protocol, in one Kafka transaction:

1. start a fresh transactional producer (InitProducerId fences any other holder of the id);
2. re-read the group's committed offsets and metadata; drop decisions on records resolved meanwhile;
3. begin; produce each merge byte for byte (key, value, headers, timestamp) to the destination and,
   when tombstones are on, a tombstone to the source partition for each merged or purged keyed record;
4. send the new committed offset (first unresolved offset) and the resolved set above it as metadata;
5. commit. Any error aborts: nothing of that transaction is visible to read_committed readers.

If the resolved-set metadata would exceed the broker's limit, the batch is split into several
transactions, each complete (its writes and its offsets), so no decision is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.structs import OffsetAndMetadata

from dlq_tui.kafka.admin import admin_client, committed_offsets
from dlq_tui.kafka.connection import DlqError, FencedError, KafkaSettings, describe_error
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord, RecordId
from dlq_tui.triage.resolution import DEFAULT_MAX_METADATA_BYTES, PartitionResolution

log = logging.getLogger(__name__)

FaultHook = Callable[[str], Awaitable[None]]
"""Called at named stages ('produced', 'offsets-sent'); tests raise from it to inject a failure."""
ProgressHook = Callable[[str, int, int], None]
"""(stage, done, total): stage is 'producing' or 'committing'."""


@dataclass(frozen=True)
class KnownStretch:
    """What the reader read of one partition: every record offset in [start, end), ascending, and
    the partition's log start offset."""

    offsets: Sequence[int]
    start: int
    end: int
    log_start: int


@dataclass(frozen=True)
class CommitRequest:
    source: str
    destination: str | None
    group: str
    transactional_id: str
    writes: list[tuple[RawRecord, Decision]]
    known: dict[int, KnownStretch]
    tombstones: bool
    keep_timestamp: bool = True
    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES


@dataclass
class CommitReport:
    merged: int = 0
    purged: int = 0
    tombstones: int = 0
    transactions: int = 0
    committed: list[RecordId] = field(default_factory=list)
    dropped: list[RecordId] = field(default_factory=list)
    """Decisions dropped because their records were resolved by someone else first."""
    partitions: dict[int, PartitionResolution] = field(default_factory=dict)
    """The group's resolution state per touched partition after the commit."""

    def summary(self) -> str:
        text = f"{self.merged} merged, {self.purged} purged, {self.tombstones} tombstones"
        if self.dropped:
            text += f", {len(self.dropped)} dropped (already resolved by someone else)"
        return text


class CommitError(DlqError):
    """The commit failed; `report` says what an earlier complete transaction of a split commit
    committed (usually nothing). Everything else is still staged."""

    def __init__(self, message: str, report: CommitReport) -> None:
        super().__init__(message)
        self.report = report


def transactional_id_for(group: str, source: str) -> str:
    """Stable per (group, source topic): two sessions on the same DLQ fence each other."""
    return f"dlq-tui.{group}.{source}"


class Committer:
    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings

    async def current_resolution(
        self, group: str, source: str, known: dict[int, KnownStretch]
    ) -> dict[int, PartitionResolution]:
        """The group's resolution state for the given partitions (step 2)."""
        async with admin_client(self._settings) as admin:
            try:
                offsets = await committed_offsets(admin, group, source, sorted(known))
            except DlqError:
                raise
            except Exception as exc:
                raise DlqError(describe_error(exc, topic=source, group=group)) from exc
        out: dict[int, PartitionResolution] = {}
        for p, stretch in known.items():
            om = offsets.get(p)
            if om is None:
                out[p] = PartitionResolution(stretch.log_start)
            else:
                resolution = PartitionResolution.from_commit(om.offset, om.metadata)
                if resolution.committed < stretch.log_start:  # records below the log start are gone
                    resolution = PartitionResolution(stretch.log_start, resolution.resolved_above)
                out[p] = resolution
        return out

    async def commit(
        self,
        request: CommitRequest,
        *,
        progress: ProgressHook | None = None,
        fault: FaultHook | None = None,
    ) -> CommitReport:
        report = CommitReport()
        if any(d is Decision.MERGE for _, d in request.writes) and not request.destination:
            raise CommitError("merge needs a destination topic (dlq-tui SOURCE DESTINATION)", report)
        producer = AIOKafkaProducer(**self._settings.producer_kwargs(request.transactional_id))
        try:
            await producer.start()  # InitProducerId: fences any other session holding this id
        except Exception as exc:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise CommitError(describe_error(exc, topic=request.source), report) from exc
        try:
            await self._commit_with(producer, request, report, progress, fault)
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()
        return report

    async def _commit_with(
        self,
        producer: AIOKafkaProducer,
        request: CommitRequest,
        report: CommitReport,
        progress: ProgressHook | None,
        fault: FaultHook | None,
    ) -> None:
        state = await self.current_resolution(request.group, request.source, request.known)
        pending: dict[int, list[tuple[RawRecord, Decision]]] = {}
        for record, decision in request.writes:
            if decision is Decision.SKIP:
                continue
            if state[record.partition].is_resolved(record.offset):
                report.dropped.append(record.rid)
            else:
                pending.setdefault(record.partition, []).append((record, decision))
        total = sum(len(v) for v in pending.values())
        done = 0
        while any(pending.values()):
            batch: list[tuple[RawRecord, Decision]] = []
            next_state: dict[int, PartitionResolution] = {}
            for p, items in pending.items():
                if not items:
                    continue
                stretch = request.known[p]
                items.sort(key=lambda rd: rd[0].offset)
                fit = state[p].fit(
                    [r.offset for r, _ in items],
                    known=stretch.offsets,
                    known_start=stretch.start,
                    known_end=stretch.end,
                    max_bytes=request.max_metadata_bytes,
                )
                if not fit.included:
                    raise CommitError(
                        f"partition {p}: too many undecided records between resolved ones to record "
                        "the resolved set in the offset metadata; decide on the records in between",
                        report,
                    )
                included = set(fit.included)
                batch.extend(rd for rd in items if rd[0].offset in included)
                pending[p] = [rd for rd in items if rd[0].offset not in included]
                next_state[p] = fit.resolution
            await self._transaction(
                producer, request, batch, next_state, report, fault, progress, done, total
            )
            done += len(batch)
            state.update(next_state)
            report.partitions.update(next_state)

    async def _transaction(
        self,
        producer: AIOKafkaProducer,
        request: CommitRequest,
        batch: list[tuple[RawRecord, Decision]],
        new_state: dict[int, PartitionResolution],
        report: CommitReport,
        fault: FaultHook | None,
        progress: ProgressHook | None,
        done_before: int,
        total: int,
    ) -> None:
        merged = purged = tombstones = 0
        try:
            await producer.begin_transaction()
            merge_futures = []
            tombstone_futures: list[tuple[int, asyncio.Future[Any]]] = []
            for i, (record, decision) in enumerate(batch):
                if decision is Decision.MERGE:
                    assert request.destination is not None
                    merge_futures.append(
                        await producer.send(
                            request.destination,
                            record.value,
                            key=record.key,
                            headers=list(record.headers),
                            timestamp_ms=record.timestamp if request.keep_timestamp else None,
                        )
                    )
                    merged += 1
                else:
                    purged += 1
                # Never a keyless tombstone: Kafka refuses it on a compacted topic, and it would
                # mean nothing there anyway.
                if request.tombstones and record.key is not None:
                    future = await producer.send(
                        request.source, None, key=record.key, partition=record.partition
                    )
                    tombstone_futures.append((record.partition, future))
                    tombstones += 1
                if progress is not None and i % 1000 == 0:
                    progress("producing", done_before + i, total)
            failures = [
                r
                for r in await asyncio.gather(*merge_futures, return_exceptions=True)
                if isinstance(r, BaseException)
            ]
            if failures:
                raise failures[0]
            # Our own tombstones land in the DLQ: list them as resolved in the same commit, so no
            # session (this one included) ever offers them for triage.
            own: dict[int, list[int]] = {}
            results = await asyncio.gather(*(f for _, f in tombstone_futures), return_exceptions=True)
            for (partition, _), result in zip(tombstone_futures, results, strict=True):
                if isinstance(result, BaseException):
                    raise result
                own.setdefault(partition, []).append(result.offset)
            for partition, own_offsets in own.items():
                stretch = request.known[partition]
                new_state[partition] = new_state[partition].resolve(
                    own_offsets, known=stretch.offsets, known_start=stretch.start, known_end=stretch.end
                )
            if fault is not None:
                await fault("produced")
            offsets = {
                TopicPartition(request.source, p): OffsetAndMetadata(s.committed, s.metadata)
                for p, s in new_state.items()
            }
            if progress is not None:
                progress("committing", done_before + len(batch), total)
            await producer.send_offsets_to_transaction(offsets, request.group)
            if fault is not None:
                await fault("offsets-sent")
            await producer.commit_transaction()
        except (kafka_errors.ProducerFenced, kafka_errors.InvalidProducerEpoch) as exc:
            raise _fenced(report) from exc
        except Exception as exc:
            await _abort(producer)
            if isinstance(exc, CommitError):
                raise
            message = describe_error(exc, topic=request.destination or request.source, group=request.group)
            raise CommitError(f"commit aborted, nothing written: {message}", report) from exc
        report.transactions += 1
        report.merged += merged
        report.purged += purged
        report.tombstones += tombstones
        report.committed.extend(record.rid for record, _ in batch)


class FencedCommitError(CommitError, FencedError):
    pass


def _fenced(report: CommitReport) -> FencedCommitError:
    return FencedCommitError(
        "fenced: another dlq-tui session on this DLQ took over the transactional id; nothing of this "
        "transaction was written",
        report,
    )


async def _abort(producer: AIOKafkaProducer) -> None:
    try:
        await producer.abort_transaction()
    except Exception as exc:  # the broker aborts it anyway when the producer goes away or times out
        log.debug("abort failed: %s", exc)
