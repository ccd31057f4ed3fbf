"""The commit of the staged buffer, as DESIGN.md's protocol, in one Kafka transaction:

1. start a fresh transactional producer (InitProducerId fences any other holder of the id);
2. re-read the group's committed offsets and metadata; drop decisions on records resolved meanwhile;
3. begin; produce each merge byte for byte (key, value, headers, timestamp) to the destination and,
   when tombstones are on, a tombstone to the source partition for each merged or purged keyed record;
4. send the new committed offset (first unresolved offset) and the resolved set above it as metadata;
5. commit. Any error aborts: nothing of that transaction is visible to read_committed readers.

If the resolved-set metadata would exceed the broker's limit, the batch is split into several
transactions, each complete (its writes and its offsets), so no decision is lost.

A tombstone for key K is left out when a record with key K at a higher offset of the same partition
stays unresolved (loaded and undecided, or arrived after the snapshot): compaction would delete that
record too, and it was never decided on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.structs import OffsetAndMetadata

from dlq_tui.kafka.admin import admin_client, committed_offsets
from dlq_tui.kafka.bulk import DEFAULT_MAX_REQUEST_SIZE, BulkSender
from dlq_tui.kafka.connection import DlqError, FencedError, KafkaSettings, describe_error
from dlq_tui.plan import TOMBSTONE_RANGE_RESERVE, CommitResult, KnownStretch, SplitError, transaction_batches
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RecordId, RecordLike
from dlq_tui.triage.resolution import DEFAULT_MAX_METADATA_BYTES, PartitionResolution

log = logging.getLogger(__name__)

INIT_TIMEOUT_SECONDS = 60.0
"""How long a commit waits for the transaction coordinator to accept its producer."""
WAITING_MESSAGE = "broker unreachable, retrying… ({what}; Ctrl-C to give up)"

FaultHook = Callable[[str], Awaitable[None]]
"""Called at named stages ('produced', 'offsets-sent', and 'aborting' before the producer aborts a
failed transaction); tests raise from it (or wait in it) to inject a failure at that point."""
ProgressHook = Callable[[str, int, int], None]
"""(stage, done, total): stage is 'producing' or 'committing'."""
WaitHook = Callable[[str], None]
"""Called with a one-line message when a wait on Kafka lasts longer than `WaitBounds.notice`."""

T = TypeVar("T")


@dataclass(frozen=True)
class WaitBounds:
    """How long (seconds) a commit waits on Kafka for each step before it gives up. Nothing of a
    commit waits without a bound: a broker that stays down ends in an abort and a clear error."""

    init: float = INIT_TIMEOUT_SECONDS
    """InitProducerId (the coordinator may be busy completing an earlier transaction)."""
    request: float = 30.0
    """Each other step: re-reading the group's offsets, end offsets, delivery of the produced
    records, send_offsets_to_transaction, commit."""
    abort: float = 15.0
    """Aborting, and again the fresh producer that makes the coordinator abort in its stead."""
    notice: float = 3.0
    """A `WaitHook` message after this long."""


class KafkaWaitTimeout(DlqError):
    """A step of a commit did not complete within its bound."""


class _Waits:
    """Bounded waits of one commit, with a message when a wait is long."""

    def __init__(self, bounds: WaitBounds, waiting: WaitHook | None) -> None:
        self.bounds = bounds
        self.waiting = waiting

    async def run(self, aw: Awaitable[T], seconds: float, what: str) -> T:
        notice = None
        if self.waiting is not None:
            waiting = self.waiting
            notice = asyncio.get_running_loop().call_later(
                self.bounds.notice, lambda: waiting(WAITING_MESSAGE.format(what=what))
            )
        try:
            return await asyncio.wait_for(aw, seconds)
        except TimeoutError as exc:
            raise KafkaWaitTimeout(f"Kafka did not answer within {seconds:.0f}s ({what})") from exc
        finally:
            if notice is not None:
                notice.cancel()


Route = Callable[[RecordLike], tuple[str, int | None]]
"""Where a merge goes: (topic, partition or None for the default partitioner on the key)."""
AuditEntry = Callable[[RecordLike, Decision, str | None], tuple[bytes | None, bytes]]
"""(record, decision, destination topic) -> (key, value) of its audit record."""


@dataclass(frozen=True)
class AuditSpec:
    """One audit record per merge and purge, produced in the same transaction (docs/redrive.md)."""

    topic: str
    entry: AuditEntry


@dataclass(frozen=True)
class Pacing:
    """Split a commit into transactions of at most `max_per_transaction` merges and purges; `wait`
    is awaited before each transaction with the number already committed (a rate cap sleeps
    there); `stop` is asked before each transaction (cancel between transactions)."""

    max_per_transaction: int | None = None
    wait: Callable[[int], Awaitable[None]] | None = None
    stop: Callable[[], bool] | None = None


@dataclass(frozen=True)
class CommitRequest:
    source: str
    destination: str | None
    group: str
    transactional_id: str
    writes: Sequence[tuple[RecordLike, Decision]]
    known: dict[int, KnownStretch]
    tombstones: bool
    source_ends: dict[int, int] | None = None
    """The source's current last stable offsets, if the caller knows them: records between the
    reader's position and these are read for same-key records only where there are any."""
    protected_keys: dict[int, dict[bytes, int]] = field(default_factory=dict)
    """Per partition: keys of loaded records that stay unresolved -> their highest offset (no
    tombstone for such a key below that offset)."""
    keep_timestamp: bool = True
    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES
    resolve_silently: Mapping[int, Sequence[int]] = field(default_factory=dict)
    """Per partition: offsets of undecided tombstones already in the DLQ. A transaction that
    writes to the partition above one of them resolves it too, writing nothing for it (as it does
    for its own tombstones), when the resolved set still fits the metadata."""
    route: Route | None = None
    """Per-merge destination (`@origin`); None: every merge goes to `destination`."""
    audit: AuditSpec | None = None
    pacing: Pacing | None = None


@dataclass
class CommitReport:
    merged: int = 0
    purged: int = 0
    tombstones: int = 0
    tombstones_withheld: int = 0
    """Tombstones not written because a newer record with the same key stays unresolved."""
    transactions: int = 0
    committed: list[RecordId] = field(default_factory=list)
    dropped: list[RecordId] = field(default_factory=list)
    """Decisions dropped because their records were resolved by someone else first."""
    partitions: dict[int, PartitionResolution] = field(default_factory=dict)
    """The group's resolution state per partition after the commit (as re-read, for partitions
    this commit did not write to)."""
    by_destination: dict[str, int] = field(default_factory=dict)
    """Merges committed per destination topic."""
    audited: int = 0
    """Audit records committed."""
    stopped: bool = False
    """The commit was stopped between transactions (`Pacing.stop`); the rest is still staged."""
    remaining: int = 0
    """Merges and purges not committed because of the stop."""

    def result(self, skipped: int = 0) -> CommitResult:
        """What was written, for rendering (`plan.result_lines`)."""
        return CommitResult(
            merged=self.merged,
            purged=self.purged,
            tombstones=self.tombstones,
            withheld=self.tombstones_withheld,
            transactions=self.transactions,
            dropped=len(self.dropped),
            skipped=skipped,
            by_destination=dict(self.by_destination),
            audited=self.audited,
            stopped=self.stopped,
            remaining=self.remaining,
        )

    def add(self, other: CommitReport) -> None:
        """Add what `other` (a later commit of the same run) wrote."""
        self.merged += other.merged
        self.purged += other.purged
        self.tombstones += other.tombstones
        self.tombstones_withheld += other.tombstones_withheld
        self.transactions += other.transactions
        self.committed.extend(other.committed)
        self.dropped.extend(other.dropped)
        self.partitions.update(other.partitions)
        for topic, n in other.by_destination.items():
            self.by_destination[topic] = self.by_destination.get(topic, 0) + n
        self.audited += other.audited
        self.stopped = self.stopped or other.stopped
        self.remaining = other.remaining


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
    def __init__(self, settings: KafkaSettings, bounds: WaitBounds | None = None) -> None:
        self._settings = settings
        self.bounds = bounds or WaitBounds()
        self._waits = _Waits(self.bounds, None)

    async def current_resolution(
        self, group: str, source: str, known: dict[int, KnownStretch]
    ) -> dict[int, PartitionResolution]:
        """The group's resolution state for the given partitions (step 2)."""
        return await self._waits.run(
            self._current_resolution(group, source, known),
            self.bounds.request,
            "reading the group's committed offsets",
        )

    async def _current_resolution(
        self, group: str, source: str, known: dict[int, KnownStretch]
    ) -> dict[int, PartitionResolution]:
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
        report: CommitReport | None = None,
        waiting: WaitHook | None = None,
    ) -> CommitReport:
        """Run the commit protocol. `report` (a new one if None) is filled as transactions
        complete, so a caller that is cancelled midway still learns what was committed.
        Every wait on Kafka is bounded (`bounds`); `waiting` hears of long waits."""
        self._waits = _Waits(self.bounds, waiting)
        report = report if report is not None else CommitReport()
        if (
            any(d is Decision.MERGE for _, d in request.writes)
            and not request.destination
            and request.route is None
        ):
            raise CommitError("merge needs a destination topic (dlq-tui SOURCE DESTINATION)", report)
        producer = AIOKafkaProducer(**self._settings.producer_kwargs(request.transactional_id))
        try:
            # InitProducerId fences any other session holding this id. aiokafka retries it for as
            # long as the coordinator answers "busy" (an earlier transaction still completing).
            await self._waits.run(producer.start(), self.bounds.init, "starting the transactional producer")
        except BaseException as exc:
            await self._stop(producer)
            if not isinstance(exc, Exception):
                raise
            if isinstance(exc, KafkaWaitTimeout):
                message = (
                    f"the transaction coordinator did not let this commit start within {self.bounds.init:.0f}s "
                    "(the broker is unreachable, or an earlier transaction with the same id is still "
                    "completing); nothing was written"
                )
            else:
                message = describe_error(exc, topic=request.source)
            raise CommitError(message, report) from exc
        try:
            await self._commit_with(producer, request, report, progress, fault)
        finally:
            await self._stop(producer)
        return report

    def _max_request_size(self) -> int:
        size = self._settings.producer_kwargs().get("max_request_size", DEFAULT_MAX_REQUEST_SIZE)
        return int(size)

    async def _stop(self, producer: AIOKafkaProducer) -> None:
        """Stop a producer, bounded (its sender may be stuck on an unreachable broker)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(producer.stop()), self.bounds.abort)

    async def _commit_with(
        self,
        producer: AIOKafkaProducer,
        request: CommitRequest,
        report: CommitReport,
        progress: ProgressHook | None,
        fault: FaultHook | None,
    ) -> None:
        state = await self.current_resolution(request.group, request.source, request.known)
        report.partitions.update(state)  # so the caller sees what others resolved meanwhile
        pending: dict[int, list[tuple[RecordLike, Decision]]] = {}
        for record, decision in request.writes:
            if decision is Decision.SKIP:
                continue
            partition, offset = record.partition, record.offset  # each a lookup on the engine's store
            if state[partition].is_resolved(offset):
                report.dropped.append(RecordId(partition, offset))
            else:
                pending.setdefault(partition, []).append((record, decision))
        total = sum(len(v) for v in pending.values())
        protected = await self._protected_keys(request, pending, state) if request.tombstones else {}
        # Room for the ranges of this transaction's own tombstones (usually one per partition).
        reserve = TOMBSTONE_RANGE_RESERVE if request.tombstones else 0
        done = 0
        pacing = request.pacing or Pacing()
        batches = transaction_batches(
            state,
            pending,
            request.known,
            request.max_metadata_bytes - reserve,
            max_records=pacing.max_per_transaction,
        )
        while True:
            if any(pending.values()) and _paced_stop(pacing, report, total - done):
                return
            try:
                batch, next_state = next(batches)
            except StopIteration:
                break
            except SplitError as exc:
                raise CommitError(str(exc), report) from exc
            if pacing.wait is not None:
                await pacing.wait(done)
            await self._transaction(
                producer, request, batch, next_state, protected, report, fault, progress, done, total
            )
            done += len(batch)
            report.partitions.update(next_state)

    async def _protected_keys(
        self,
        request: CommitRequest,
        pending: dict[int, list[tuple[RecordLike, Decision]]],
        state: dict[int, PartitionResolution],
    ) -> dict[int, dict[bytes, int]]:
        """Per partition: key -> highest offset of a record that stays unresolved, from the loaded
        records (given by the engine) and from what arrived after the reader's position."""
        protected = {p: dict(keys) for p, keys in request.protected_keys.items()}
        ends = request.source_ends
        keys_by_partition = {
            p: {r.key for r, _ in items if r.key is not None}
            for p, items in pending.items()
            # only where records arrived past the reader's position, when the caller knows
            if items and (ends is None or ends.get(p, 0) > request.known[p].end)
        }
        keys_by_partition = {p: keys for p, keys in keys_by_partition.items() if keys}
        if not keys_by_partition:
            return protected
        consumer = AIOKafkaConsumer(**self._settings.consumer_kwargs())
        try:
            await self._waits.run(
                self._read_protected(consumer, request, keys_by_partition, state, protected),
                self.bounds.init,
                "reading records that arrived after the snapshot",
            )
        except DlqError:
            raise
        except Exception as exc:
            raise DlqError(describe_error(exc, topic=request.source)) from exc
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), self.bounds.abort)
        return protected

    async def _read_protected(
        self,
        consumer: AIOKafkaConsumer,
        request: CommitRequest,
        keys_by_partition: dict[int, set[bytes]],
        state: dict[int, PartitionResolution],
        protected: dict[int, dict[bytes, int]],
    ) -> None:
        await consumer.start()
        tps = {p: TopicPartition(request.source, p) for p in keys_by_partition}
        consumer.assign(list(tps.values()))
        ends = await consumer.end_offsets(list(tps.values()))
        todo = {}
        for p, tp in tps.items():
            start = request.known[p].end
            if ends[tp] > start:
                consumer.seek(tp, start)
                todo[p] = ends[tp]
            else:
                consumer.pause(tp)
        while todo:
            fetched = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, records in fetched.items():
                keys = keys_by_partition[tp.partition]
                for r in records:
                    if (
                        r.offset < todo.get(tp.partition, -1)
                        and r.value is not None
                        and r.key in keys
                        and not state[tp.partition].is_resolved(r.offset)
                    ):
                        part = protected.setdefault(tp.partition, {})
                        part[r.key] = max(part.get(r.key, -1), r.offset)
            for p, end in list(todo.items()):
                if await consumer.position(tps[p]) >= end:
                    consumer.pause(tps[p])
                    del todo[p]

    async def _transaction(
        self,
        producer: AIOKafkaProducer,
        request: CommitRequest,
        batch: list[tuple[RecordLike, Decision]],
        new_state: dict[int, PartitionResolution],
        protected: dict[int, dict[bytes, int]],
        report: CommitReport,
        fault: FaultHook | None,
        progress: ProgressHook | None,
        done_before: int,
        total: int,
    ) -> None:
        merged = purged = tombstones = withheld = 0
        waits = self._waits
        committing = False
        bulk = BulkSender(producer, self._max_request_size())
        by_destination: dict[str, int] = {}
        done_ids: list[RecordId] = []
        audit = request.audit
        try:
            await waits.run(producer.begin_transaction(), self.bounds.request, "beginning the transaction")
            no_protection: dict[bytes, int] = {}
            source, keep_timestamp = request.source, request.keep_timestamp
            tombstones_on = request.tombstones
            append = bulk.append
            for first in range(0, len(batch), _CHUNK):
                chunk = batch[first : first + _CHUNK]
                keys = [record.key for record, _ in chunk]
                places = await _merge_places(bulk, request, chunk, keys)
                for i, ((record, decision), key, place) in enumerate(
                    zip(chunk, keys, places, strict=True), first
                ):
                    partition, offset = record.partition, record.offset
                    done_ids.append(RecordId(partition, offset))
                    # read once: on the engine's store each access copies from the arena
                    value = record.value
                    destination: str | None = None
                    if place is not None:  # a merge
                        destination, to_partition = place
                        full = append(
                            destination,
                            to_partition,
                            key,
                            value,
                            list(record.headers),
                            record.timestamp if keep_timestamp else None,
                        )
                        if full is not None:
                            await full
                        by_destination[destination] = by_destination.get(destination, 0) + 1
                        merged += 1
                    else:
                        purged += 1
                    if audit is not None:
                        await _send_audit(bulk, audit, record, decision, destination)
                    # Never a keyless tombstone: Kafka refuses it on a compacted topic, and it
                    # would mean nothing there anyway.
                    if tombstones_on and key is not None and value is not None:
                        if protected.get(partition, no_protection).get(key, -1) > offset:
                            withheld += 1
                        else:
                            full = append(source, partition, key, None, track=True)
                            if full is not None:
                                await full
                            tombstones += 1
                    if progress is not None and i % 1000 == 0:
                        progress("producing", done_before + i, total)
            await bulk.flush()
            delivered = await waits.run(
                asyncio.gather(*bulk.futures(), return_exceptions=True),
                self.bounds.request + bulk.records / 5000,
                "delivering the merged records and tombstones",
            )
            failures = [r for r in delivered if isinstance(r, BaseException)]
            if failures:
                raise failures[0]
            # Our own tombstones land in the DLQ: list them as resolved in the same commit, so no
            # session (this one included) ever offers them for triage.
            own = {
                p: offsets
                for (topic, p), offsets in bulk.tracked_offsets(delivered).items()
                if topic == source
            }
            for partition, own_offsets in own.items():
                stretch = request.known[partition]
                new_state[partition] = new_state[partition].resolve(
                    own_offsets, known=stretch.offsets, known_start=stretch.start, known_end=stretch.end
                )
            self._resolve_silently(request, batch, new_state)
            if fault is not None:
                await fault("produced")
            for p, s in new_state.items():
                if len(s.metadata) > request.max_metadata_bytes:
                    raise CommitError(
                        f"partition {p}: the resolved set ({len(s.metadata)} bytes) does not fit the offset "
                        f"metadata limit ({request.max_metadata_bytes}); decide on the records in between",
                        report,
                    )
            offsets = {
                TopicPartition(request.source, p): OffsetAndMetadata(s.committed, s.metadata)
                for p, s in new_state.items()
            }
            if progress is not None:
                progress("committing", done_before + len(batch), total)
            await waits.run(
                producer.send_offsets_to_transaction(offsets, request.group),
                self.bounds.request,
                "adding the group's offsets to the transaction",
            )
            if fault is not None:
                await fault("offsets-sent")
            committing = True
            await waits.run(producer.commit_transaction(), self.bounds.request, "committing the transaction")
        except (kafka_errors.ProducerFenced, kafka_errors.InvalidProducerEpoch) as exc:
            raise _fenced(report) from exc  # the session that fenced us aborted our transaction
        except BaseException as exc:  # also on cancellation: never leave the transaction open
            if isinstance(exc, kafka_errors.IllegalOperation):
                cause = await _why_the_transaction_ended(bulk.futures(), self.bounds.abort)
                if isinstance(cause, (kafka_errors.ProducerFenced, kafka_errors.InvalidProducerEpoch)):
                    raise _fenced(report) from cause
            await self._abort(producer, request.transactional_id, fault)
            if isinstance(exc, CommitError) or not isinstance(exc, Exception):
                raise
            message = describe_error(exc, topic=request.destination or request.source, group=request.group)
            if committing:
                # The commit request may have reached the coordinator before the wait gave up: the
                # outcome is all or nothing, and the next commit re-reads the group's offsets and
                # drops whatever landed, so nothing is written twice.
                raise CommitError(
                    f"commit not confirmed: {message}; it either committed whole or was aborted "
                    "(the next commit re-reads the group's offsets and skips what landed)",
                    report,
                ) from exc
            raise CommitError(
                f"commit aborted, nothing of this transaction written: {message}", report
            ) from exc
        report.transactions += 1
        report.merged += merged
        report.purged += purged
        report.tombstones += tombstones
        report.tombstones_withheld += withheld
        report.committed.extend(done_ids)
        for topic, n in by_destination.items():
            report.by_destination[topic] = report.by_destination.get(topic, 0) + n
        if audit is not None:
            report.audited += len(batch)

    @staticmethod
    def _resolve_silently(
        request: CommitRequest,
        batch: list[tuple[RecordLike, Decision]],
        new_state: dict[int, PartitionResolution],
    ) -> None:
        """Resolve the undecided tombstones that this transaction's offsets pass, unless that would
        make the resolved set too big for the offset metadata."""
        if not request.resolve_silently:
            return
        top: dict[int, int] = {}
        for record, _ in batch:
            top[record.partition] = max(top.get(record.partition, -1), record.offset)
        for partition, highest in top.items():
            passed = [o for o in request.resolve_silently.get(partition, ()) if o < highest]
            state = new_state.get(partition)
            if not passed or state is None:
                continue
            stretch = request.known[partition]
            candidate = state.resolve(
                passed, known=stretch.offsets, known_start=stretch.start, known_end=stretch.end
            )
            if len(candidate.metadata) <= request.max_metadata_bytes - TOMBSTONE_RANGE_RESERVE:
                new_state[partition] = candidate

    async def _abort(
        self, producer: AIOKafkaProducer, transactional_id: str, fault: FaultHook | None = None
    ) -> None:
        """Abort now, bounded, and see it through even if this task is cancelled again meanwhile
        (a second Ctrl-C, or the event loop cancelling every task on SIGHUP/SIGTERM): a cancelled
        abort would leave the transaction open until it times out. The cancellation is delivered
        once the abort is done."""
        loop = asyncio.get_running_loop()
        steps = asyncio.ensure_future(self._abort_steps(producer, transactional_id, fault))
        deadline = loop.time() + 2 * self.bounds.abort + 5
        cancelled = False
        while not steps.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                steps.cancel()
                break
            try:
                await asyncio.wait({steps}, timeout=remaining)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    async def _abort_steps(
        self, producer: AIOKafkaProducer, transactional_id: str, fault: FaultHook | None = None
    ) -> None:
        """If the producer cannot abort (its sender died on the error, or the broker does not
        answer it), a new producer with the same transactional id makes the coordinator abort the
        open transaction at once; otherwise it would block read_committed readers of both topics
        until the transaction times out."""
        waits = self._waits
        try:
            if fault is not None:
                await fault("aborting")
            await waits.run(asyncio.shield(producer.abort_transaction()), self.bounds.abort, "aborting")
            return
        except BaseException as exc:
            log.debug("abort failed (%r); re-initialising the transactional id", exc)
        fresh = AIOKafkaProducer(**self._settings.producer_kwargs(transactional_id))
        try:
            await waits.run(
                asyncio.shield(fresh.start()), self.bounds.abort, "aborting with a fresh producer"
            )
            log.info("the open transaction was aborted by re-initialising the transactional id")
        except BaseException as exc:
            log.warning(
                "could not abort the open transaction (%r); the broker aborts it when the transaction "
                "times out",
                exc,
            )
        finally:
            await self._stop(fresh)


async def _why_the_transaction_ended(
    futures: list[asyncio.Future[Any]], bound: float
) -> BaseException | None:
    """aiokafka refuses a send (IllegalOperation "not in transaction") once its sender died under
    the transaction, e.g. fenced by another session taking the transactional id; the deliveries
    already handed over are then failed with the reason. The first such reason, if any."""
    if not futures:
        return None
    done, _ = await asyncio.wait(futures, timeout=bound)
    for future in done:
        if not future.cancelled() and future.exception() is not None:
            return future.exception()
    return None


_CHUNK = 4096
"""Records placed (partitioned) together before they are appended to their batches."""


async def _merge_places(
    bulk: BulkSender,
    request: CommitRequest,
    chunk: Sequence[tuple[RecordLike, Decision]],
    keys: Sequence[bytes | None],
) -> list[tuple[str, int] | None]:
    """Per record of `chunk`: (topic, partition) where its merge goes, None for a purge. Merges
    without a partition from the route go where the default partitioner puts their keys."""
    route = request.route
    places: list[tuple[str, int | None] | None] = [
        None
        if decision is not Decision.MERGE
        else (request.destination or "", None)
        if route is None
        else route(record)
        for record, decision in chunk
    ]
    unplaced: dict[str, list[int]] = {}
    for i, place in enumerate(places):
        if place is not None and place[1] is None:
            unplaced.setdefault(place[0], []).append(i)
    out: list[tuple[str, int] | None] = [
        None if place is None or place[1] is None else (place[0], place[1]) for place in places
    ]
    for topic, rows in unplaced.items():
        chosen = await bulk.partitions_for(topic, [keys[i] for i in rows])
        for i, partition in zip(rows, chosen, strict=True):
            out[i] = (topic, partition)
    return out


async def _send_audit(
    bulk: BulkSender,
    audit: AuditSpec,
    record: RecordLike,
    decision: Decision,
    destination: str | None,
) -> None:
    """Queue the audit record of one decision in the open transaction."""
    key, value = audit.entry(record, decision, destination)
    try:
        full = bulk.append(audit.topic, await bulk.partition_for(audit.topic, key), key, value)
        if full is not None:
            await full
    except Exception as exc:  # name the audit topic, not the destination
        raise DlqError(f"audit topic: {describe_error(exc, topic=audit.topic)}") from exc


def _paced_stop(pacing: Pacing, report: CommitReport, remaining: int) -> bool:
    """Whether to stop before the next transaction (and say so in the report)."""
    if pacing.stop is None or not pacing.stop():
        return False
    report.stopped = True
    report.remaining = remaining
    return True


class FencedCommitError(CommitError, FencedError):
    pass


def _fenced(report: CommitReport) -> FencedCommitError:
    return FencedCommitError(
        "fenced: another dlq-tui session on this DLQ took over the transactional id; nothing of this "
        "transaction was written",
        report,
    )
