"""The triage engine: one open DLQ — reader, record store, decoder, staged buffer, journal and
committer — serving both the TUI and the line-mode commands. No Textual here, no printing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from array import array
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Literal

from dlq_tui.decode.registry import CachedSchemas, SchemaRegistry
from dlq_tui.decode.view import DecodedRecord, RecordDecoder
from dlq_tui.decode.wire import wire_schema_id
from dlq_tui.kafka.admin import admin_client, cleanup_policy, cluster_id, committed_offsets, topic_partitions
from dlq_tui.kafka.committer import (
    CommitReport,
    CommitRequest,
    Committer,
    FaultHook,
    FencedCommitError,
    KnownStretch,
    ProgressHook,
    transactional_id_for,
)
from dlq_tui.kafka.connection import DlqError, KafkaSettings, describe_error, quiet_unretrieved_kafka_errors
from dlq_tui.kafka.reader import PartitionProgress, SnapshotReader
from dlq_tui.scan import PlainFlags, plan_scan, scan
from dlq_tui.scan_pool import WordPool, scan_workers
from dlq_tui.triage.arena import ArenaDigestError
from dlq_tui.triage.decisions import Decision, StagedBuffer
from dlq_tui.triage.filter import Filter
from dlq_tui.triage.journal import Journal, JournalBusyError, RestoreResult
from dlq_tui.triage.records import RawRecord, RecordId, RecordLike
from dlq_tui.triage.resolution import DEFAULT_MAX_METADATA_BYTES, PartitionResolution
from dlq_tui.triage.store import RecordStore, RowView

log = logging.getLogger(__name__)

Tombstones = Literal["auto", "always", "never"]
FENCED_RETRIES = 3


@dataclass(frozen=True)
class SessionConfig:
    kafka: KafkaSettings
    source: str
    group: str
    destination: str | None = None
    transactional_id: str | None = None
    from_beginning: bool = False
    tombstones: Tombstones = "auto"
    keep_timestamp: bool = True
    key_format: str = "auto"
    value_format: str = "auto"
    registry_url: str | None = None
    registry_user_info: str | None = field(default=None, repr=False)
    use_journal: bool = True
    read_only: bool = False
    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES
    """The broker's `offset.metadata.max.bytes` (Kafka's default 4096)."""


@dataclass(frozen=True)
class PartitionStats:
    """What the progress pane shows for one partition."""

    partition: int
    loaded: int  # records loaded
    offsets_read: int
    offsets_total: int  # snapshot size in offsets (records <= offsets: gaps)
    unresolved: int  # loaded records not resolved
    decided: int  # unresolved records with a staged decision
    done: bool


class LazySubject:
    """A row as a `FilterSubject`: partition, offset and timestamp come from the store's columns;
    the record is decoded only when a text test asks (and not cached, so a scan over a million
    records does not evict what is on screen)."""

    __slots__ = ("_decoded", "_row", "_session")

    def __init__(self, session: TriageSession, row: int) -> None:
        self._session = session
        self._row = row
        self._decoded: DecodedRecord | None = None

    def _d(self) -> DecodedRecord:
        if self._decoded is None:
            self._decoded = self._session._scan_decoder.decode_uncached(self._session.store.view(self._row))
        return self._decoded

    @property
    def partition(self) -> int:
        return self._session.store.partition_at(self._row)

    @property
    def offset(self) -> int:
        return self._session.store.offset_at(self._row)

    @property
    def timestamp(self) -> int:
        return self._session.store.timestamp_at(self._row)

    def key_text(self) -> str:
        return self._d().key_text()

    def value_text(self) -> str:
        return self._d().value_text()

    def value_fields(self, path: str) -> list[str] | None:
        return self._d().value_fields(path)

    def header_text(self, name: str) -> str | None:
        return self._d().header_text(name)

    def error_text(self) -> str:
        return self._d().error_text()

    def full_text(self) -> str:
        return self._d().full_text()


class TriageSession:
    """One DLQ opened for triage. Call `open()`, then iterate `load()`; decide; `commit()`; `close()`."""

    def __init__(self, config: SessionConfig, *, committer: Committer | None = None) -> None:
        self.config = config
        self.store = RecordStore()
        self.buffer = StagedBuffer()
        registry = (
            SchemaRegistry(config.registry_url, user_info=config.registry_user_info)
            if config.registry_url
            else None
        )
        self.registry = registry
        # Two decoders: `decoder` serves what is on screen and never waits on the registry (schemas
        # come from `prefetch_schemas`); `_scan_decoder` fetches, for filters in worker threads.
        self.decoder = RecordDecoder(
            config.key_format, config.value_format, CachedSchemas(registry) if registry else None
        )
        self._scan_decoder = RecordDecoder(config.key_format, config.value_format, registry, cache_size=1)
        self.committer = committer or Committer(config.kafka)
        self.transactional_id = config.transactional_id or transactional_id_for(config.group, config.source)
        self.cluster_id = ""
        self.partitions: list[int] = []
        self.cleanup_policy = "delete"
        self.destination_policy = "delete"
        self.resolution: dict[int, PartitionResolution] = {}
        self.resolved = bytearray()  # one flag per row: 1 = resolved (hidden unless --from-beginning)
        self.journal: Journal | None = None
        self.journal_offer: dict[RecordId, Decision] = {}
        self.journal_note: str | None = None
        self.notices: list[str] = []
        self._reader: SnapshotReader | None = None
        self._unresolved_count: dict[int, int] = {}
        # Which rows' bytes are their texts (filled by filter scans; see dlq_tui.scan).
        self._plain: PlainFlags | None = None
        self._plain_store: RecordStore | None = None
        self._word_pool: WordPool | None = None

    # -- opening and loading ----------------------------------------------------------------------

    async def open(self) -> None:
        """Check the topics, read the group's resolution state, take the snapshot, open the journal."""
        quiet_unretrieved_kafka_errors(asyncio.get_running_loop())
        cfg = self.config
        async with admin_client(cfg.kafka) as admin:
            try:
                self.cluster_id = await cluster_id(admin)
                self.partitions = await topic_partitions(admin, cfg.source)
                if cfg.destination:
                    await topic_partitions(admin, cfg.destination)
                    self.destination_policy = await cleanup_policy(admin, cfg.destination)
                self.cleanup_policy = await cleanup_policy(admin, cfg.source)
                offsets = await committed_offsets(admin, cfg.group, cfg.source, self.partitions)
            except DlqError:
                raise
            except Exception as exc:
                raise DlqError(describe_error(exc, topic=cfg.source, group=cfg.group)) from exc
        self.resolution = {
            p: PartitionResolution.from_commit(offsets[p].offset, offsets[p].metadata)
            if p in offsets
            else PartitionResolution(0)
            for p in self.partitions
        }
        starts = None if cfg.from_beginning else {p: r.committed for p, r in self.resolution.items()}
        self._reader = SnapshotReader(cfg.kafka, cfg.source, self.partitions, starts)
        await self._reader.open()
        self._unresolved_count = dict.fromkeys(self.partitions, 0)
        if cfg.use_journal and not cfg.read_only:
            self._open_journal()
            self.start_journal()

    def _open_journal(self) -> None:
        journal = Journal(self.cluster_id, self.config.group, self.config.source)
        try:
            self.journal_offer = {
                rid: d for rid, d in journal.load().items() if not self.is_resolved_rid(rid)
            }
        except JournalBusyError:
            self.journal_note = (
                "another dlq-tui session on this machine holds the journal of this DLQ; not journaling"
            )
            journal.close()
            return
        except OSError as exc:
            self.journal_note = f"journal unavailable ({exc}); decisions are kept in memory only"
            journal.close()
            return
        self.journal = journal

    def restore_journal(self) -> RestoreResult:
        """Take the offered decisions of a lost session into the buffer, then journal from here on."""
        assert self.journal is not None
        result = self.journal.restore_into(self.buffer, self.is_resolved_rid)
        self.journal_offer = {}
        self.journal.attach(self.buffer)
        return result

    def discard_journal(self) -> None:
        """Forget the offered decisions, then journal from here on."""
        if self.journal is not None:
            self.journal.discard()
            self.journal.attach(self.buffer)
        self.journal_offer = {}

    def start_journal(self) -> None:
        """Journal from here on without deciding on an offer yet (the offer stays in the file)."""
        if self.journal is not None and not self.journal_offer:
            self.journal.attach(self.buffer)

    @property
    def progress(self) -> dict[int, PartitionProgress]:
        return self._reader.progress if self._reader is not None else {}

    @property
    def loading_done(self) -> bool:
        return self._reader is None or self._reader.snapshot_done

    async def load(self, *, follow: bool = False) -> AsyncIterator[range]:
        """Read the snapshot into the store; yields the range of new rows after each batch."""
        if self._reader is None:
            raise RuntimeError("open() first")
        async for batch in self._reader.batches(follow=follow):
            first = len(self.store)
            flags, counts = self._resolved_flags(batch)
            # Flags first: a stored row never lacks its flag, even for a reader in another thread.
            self.resolved.extend(flags)
            added = self.store.extend(batch)
            if added != len(batch):  # a re-delivered record was not stored twice
                batch = [self.store.get(row) for row in range(first, first + added)]
                flags, counts = self._resolved_flags(batch)
                self.resolved[first:] = flags
            for partition, n in counts.items():
                self._unresolved_count[partition] += n
            yield range(first, len(self.store))

    def _resolved_flags(self, batch: Sequence[RecordLike]) -> tuple[bytes | bytearray, Counter[int]]:
        """The resolved flag of each record of a batch, and the unresolved ones per partition."""
        progress = self.progress
        if not self.config.from_beginning and all(
            not r.resolved_above and r.committed <= progress[p].start for p, r in self.resolution.items()
        ):
            # The reader started at (or above) the committed offsets, with no resolved set above
            # them: nothing in the batch can be resolved.
            return bytes(len(batch)), Counter(map(attrgetter("partition"), batch))
        flags = bytearray(len(batch))
        counts: Counter[int] = Counter()
        for i, rec in enumerate(batch):
            if self.resolution[rec.partition].is_resolved(rec.offset):
                flags[i] = 1
            else:
                counts[rec.partition] += 1
        return flags, counts

    async def stream(self) -> AsyncIterator[Sequence[RecordLike]]:
        """The snapshot's unresolved records (all of them with --from-beginning) in batches, each
        partition in offset order, without storing them: for one-pass readers such as `print`,
        whose memory then stays bounded by a batch whatever the DLQ's size. Instead of `load()`,
        not with it; `unresolved_count()` counts what was streamed."""
        if self._reader is None:
            raise RuntimeError("open() first")
        async for batch in self._reader.batches():
            flags, counts = self._resolved_flags(batch)
            if not self.config.from_beginning and any(flags):
                batch = [rec for rec, resolved in zip(batch, flags, strict=True) if not resolved]
            for partition, n in counts.items():
                self._unresolved_count[partition] += n
            yield batch

    async def load_all(self) -> None:
        async for _ in self.load():
            pass

    # -- rows -----------------------------------------------------------------------------------

    def is_resolved_rid(self, rid: RecordId) -> bool:
        resolution = self.resolution.get(rid.partition)
        return resolution is not None and resolution.is_resolved(rid.offset)

    def is_resolved(self, row: int) -> bool:
        return bool(self.resolved[row])

    def visible(self, row: int) -> bool:
        return self.config.from_beginning or not self.resolved[row]

    def visible_rows(self, rows: Iterable[int] | None = None) -> array[int]:
        """Rows shown by default: unresolved ones (all with --from-beginning), in arrival order."""
        source = range(len(self.store)) if rows is None else rows
        if self.config.from_beginning:
            return array("i", source)
        flags = self.resolved
        return array("i", (r for r in source if not flags[r]))

    def record(self, row: int) -> RawRecord:
        return self.store.get(row)

    def decoded(self, row: int) -> DecodedRecord:
        return self.decoder.decode(self.store.get(row))

    def rid(self, row: int) -> RecordId:
        return self.store.rid_at(row)

    def decision(self, row: int) -> Decision | None:
        return self.buffer.get(self.store.rid_at(row))

    def match(
        self, flt: Filter, rows: Iterable[int], *, cancelled: Callable[[], bool] | None = None
    ) -> array[int]:
        """The rows of `rows` that `flt` matches (for a worker thread; `cancelled` stops early)."""
        if flt.needs_decode:
            formats = (self.config.key_format, self.config.value_format)
            plan = plan_scan(flt, self.store.header_names(), formats)
            if plan.useful:
                if self._plain is None or self._plain_store is not self.store:
                    self._plain, self._plain_store = PlainFlags(self.store), self.store
                subject = partial(LazySubject, self)
                if self._word_pool is None and scan_workers() > 0:
                    self._word_pool = WordPool(scan_workers())
                try:
                    return scan(
                        self.store,
                        self._plain,
                        plan,
                        flt,
                        rows,
                        subject,
                        cancelled=cancelled,
                        pool=self._word_pool,
                    )
                finally:
                    self.store.release_pages()
        out = array("i")
        for n, row in enumerate(rows):
            if cancelled is not None and n % 4096 == 0 and cancelled():
                break
            if flt.matches(LazySubject(self, row)):
                out.append(row)
        return out

    # -- decisions ------------------------------------------------------------------------------

    def decide(self, rows: Iterable[int], decision: Decision) -> int:
        """Stage `decision` on the unresolved rows among `rows`; returns how many changed."""
        if self.config.read_only and decision.resolves:
            raise DlqError("read-only session: merge and purge are disabled")
        if decision is Decision.MERGE and not self.config.destination:
            raise DlqError("merge needs a destination topic (dlq-tui SOURCE DESTINATION)")
        candidates = [r for r in rows if not self.resolved[r]]
        if decision is Decision.MERGE and self.destination_compacted:
            keyless = [r for r in candidates if self.store.key_len_at(r) < 0]
            if keyless:
                reason = (
                    f"{len(keyless)} keyless record(s) cannot be merged: the destination "
                    f"'{self.config.destination}' is compacted and Kafka refuses records without a key there "
                    "(purge them, or merge to a topic that is not compacted)"
                )
                if len(keyless) == len(candidates):
                    raise DlqError(reason)
                self.notices.append(reason)
                refused = set(keyless)
                candidates = [r for r in candidates if r not in refused]
        return self.buffer.set((self.store.rid_at(r) for r in candidates), decision)

    def undo(self, rows: Iterable[int]) -> int:
        return self.buffer.undo(self.store.rid_at(r) for r in rows)

    def progress_stats(self) -> list[PartitionStats]:
        """Per-partition progress for the UI, in O(partitions) (cheap on every repaint): `decided` is the
        buffer's count of staged decisions per partition (a record someone else resolved after it
        was staged still counts until the next commit or reload drops it)."""
        out = []
        for p in self.partitions:
            prog = self.progress.get(p)
            out.append(
                PartitionStats(
                    partition=p,
                    loaded=prog.records if prog else 0,
                    offsets_read=prog.offsets_read if prog else 0,
                    offsets_total=prog.offsets_total if prog else 0,
                    unresolved=self._unresolved_count.get(p, 0),
                    decided=sum(self.buffer.partition_counts(p).values()),
                    done=prog.done if prog else True,
                )
            )
        return out

    def prefetch_schemas(self, rows: Iterable[int]) -> int:
        """Fetch (into the registry's cache) the schemas that the keys and values of `rows` name
        in the Confluent wire format: on-screen decoding never fetches, it shows what is cached.
        For a worker thread (or line mode); failures are cached by the registry, not raised.
        Returns how many schema ids got an answer now (schema or failure); when any did, the
        decode cache is cleared so that the next paint shows them."""
        registry = self.registry
        if registry is None:
            return 0
        store = self.store
        ids: set[int] = set()
        for row in rows:
            for data in (store.key_at(row), store.value_at(row)):
                schema_id = wire_schema_id(data)
                if schema_id is not None and not registry.is_known(schema_id):
                    ids.add(schema_id)
        for schema_id in ids:
            try:
                registry.get_schema(schema_id)
            except Exception:  # shown where the record is shown
                log.debug("schema %s: prefetch failed", schema_id, exc_info=True)
        if ids:
            self.decoder.clear_cache()
        return len(ids)

    def take_notices(self) -> list[str]:
        """Notices for the engineer since the last call (e.g. why some records were not decided)."""
        notices, self.notices = self.notices, []
        return notices

    # -- commit ---------------------------------------------------------------------------------

    @property
    def destination_compacted(self) -> bool:
        return "compact" in self.destination_policy

    @property
    def tombstones_on(self) -> bool:
        if self.config.tombstones == "always":
            return True
        if self.config.tombstones == "never":
            return False
        return "compact" in self.cleanup_policy

    def _known(self) -> dict[int, KnownStretch]:
        known: dict[int, KnownStretch] = {}
        for p in self.partitions:
            prog = self.progress[p]
            known[p] = KnownStretch(
                offsets=self.store.partition_offsets(p, prog.start, prog.position),
                start=prog.start,
                end=max(prog.start, prog.position),
                log_start=prog.log_start,
            )
        return known

    def plan(self) -> dict[int, PartitionResolution]:
        """The resolution state a commit of the staged writes would leave, from what this session
        knows (the commit itself re-reads the group's offsets first)."""
        writes, _ = self.staged_writes()
        known = self._known()
        by_partition: dict[int, list[int]] = {}
        for record, _decision in writes:
            by_partition.setdefault(record.partition, []).append(record.offset)
        return {
            p: self.resolution[p].resolve(
                offsets, known=known[p].offsets, known_start=known[p].start, known_end=known[p].end
            )
            for p, offsets in by_partition.items()
        }

    def staged_writes(self) -> tuple[list[tuple[RowView, Decision]], list[RecordId]]:
        """The merges and purges whose records are loaded (as lazy views on the store: a commit of
        a million merges does not copy a million records), and the staged ones not loaded (yet)."""
        writes: list[tuple[RowView, Decision]] = []
        missing: list[RecordId] = []
        for rid, decision in self.buffer.writes():
            row = self.store.row_of(rid)
            if row is None:
                missing.append(rid)
            elif not self.resolved[row]:
                writes.append((self.store.view(row), decision))
        return writes, missing

    def has_writes(self) -> bool:
        """Whether anything staged would be written by a commit (cheap)."""
        counts = self.buffer.counts()
        return bool(counts[Decision.MERGE] or counts[Decision.PURGE])

    def tombstone_plan(self, writes: Sequence[tuple[RowView, Decision]]) -> tuple[int, int]:
        """(tombstones a commit of `writes` would write, tombstones it would withhold) from what is
        loaded; the commit also looks at records that arrived after the snapshot. For a thread."""
        if not self.tombstones_on:
            return 0, 0
        protected = self.protected_keys(writes)
        write = withheld = 0
        for view, _ in writes:
            key = view.key
            if key is None:
                continue
            if protected.get(view.partition, {}).get(key, -1) > view.offset:
                withheld += 1
            else:
                write += 1
        return write, withheld

    def protected_keys(self, writes: Sequence[tuple[RowView, Decision]]) -> dict[int, dict[bytes, int]]:
        """Per partition: for the keys being resolved, the highest offset of a loaded record with
        that key that stays unresolved. A tombstone below it would let compaction delete a record
        nobody decided on. O(loaded records of the touched partitions); run in a thread."""
        deciding: dict[int, set[int]] = {}
        keys: dict[int, set[bytes]] = {}
        for view, _ in writes:
            deciding.setdefault(view.partition, set()).add(view.offset)
            if view.key is not None:
                keys.setdefault(view.partition, set()).add(view.key)
        out: dict[int, dict[bytes, int]] = {}
        store, flags = self.store, self.resolved
        for p, wanted in keys.items():
            offsets = deciding[p]
            found: dict[bytes, int] = {}
            for row in store.partition_rows(p):
                if flags[row]:
                    continue
                offset = store.offset_at(row)
                if offset in offsets:
                    continue
                key = store.key_at(row)
                if key in wanted and found.get(key, -1) < offset:
                    found[key] = offset
            if found:
                out[p] = found
        return out

    async def commit(
        self,
        *,
        progress: ProgressHook | None = None,
        fault: FaultHook | None = None,
        on_fenced: Callable[[str], None] | None = None,
    ) -> CommitReport:
        """Commit the staged merges and purges in one transaction (several if the resolved-set
        metadata would not fit one). On fencing by another session it re-reads and tries again,
        committing only what is still unresolved. Raises `CommitError` with the buffer intact."""
        if self.config.read_only:
            raise DlqError("read-only session: commit is disabled")
        writes, _missing = self.staged_writes()
        await asyncio.to_thread(self.verify_payloads, writes)
        protected = await asyncio.to_thread(self.protected_keys, writes) if self.tombstones_on else {}
        attempt = 0
        while True:
            request = CommitRequest(
                source=self.config.source,
                destination=self.config.destination,
                group=self.config.group,
                transactional_id=self.transactional_id,
                writes=writes,
                known=self._known(),
                tombstones=self.tombstones_on,
                keep_timestamp=self.config.keep_timestamp,
                max_metadata_bytes=self.config.max_metadata_bytes,
                protected_keys=protected,
                source_ends=await self._source_ends() if self.tombstones_on else None,
            )
            partial = CommitReport()
            try:
                report = await self.committer.commit(request, progress=progress, fault=fault, report=partial)
            except asyncio.CancelledError:
                self._apply(partial)  # complete transactions of a split commit stay committed
                raise
            except FencedCommitError as exc:
                self._apply(exc.report)
                attempt += 1
                if attempt > FENCED_RETRIES:
                    raise
                if on_fenced is not None:
                    on_fenced(str(exc))
                committed = set(exc.report.committed) | set(exc.report.dropped)
                writes = [(r, d) for r, d in writes if r.rid not in committed]
                protected = await asyncio.to_thread(self.protected_keys, writes) if self.tombstones_on else {}
                await asyncio.sleep(0.2 * attempt)
                continue
            except Exception as exc:
                report_of = getattr(exc, "report", None)
                if isinstance(report_of, CommitReport):
                    self._apply(report_of)
                raise
            self._apply(report)
            return report

    def verify_payloads(self, writes: Sequence[tuple[RowView, Decision]]) -> None:
        """Refuse (DlqError, nothing written) when the stored bytes of any write are not those
        that were loaded: a commit copies exactly what was inspected. For a thread."""
        try:
            self.store.verify_rows(view.row for view, _ in writes)
        except ArenaDigestError as exc:
            raise DlqError(f"refusing to commit: {exc}; reopen the DLQ to read the records again") from exc

    async def _source_ends(self) -> dict[int, int] | None:
        if self._reader is None:
            return None
        try:
            return await self._reader.end_offsets()
        except Exception:  # the committer then reads past the position itself
            log.debug("end offsets unavailable", exc_info=True)
            return None

    def _apply(self, report: CommitReport) -> None:
        """Bring the session in line with what was committed (and what others had resolved)."""
        if report.dropped:
            self.buffer.drop(report.dropped)
        if report.committed:
            self.buffer.clear_committed(report.committed)
        for p, state in report.partitions.items():
            self.resolution[p] = state
            self._refresh_partition(p)

    def _refresh_partition(self, partition: int) -> None:
        state = self.resolution[partition]
        flags = self.resolved
        unresolved = 0
        for row in self.store.partition_rows(partition):
            is_res = state.is_resolved(self.store.offset_at(row))
            flags[row] = 1 if is_res else 0
            unresolved += not is_res
        self._unresolved_count[partition] = unresolved

    def unresolved_count(self) -> int:
        return sum(self._unresolved_count.values())

    def iter_unresolved(self) -> Iterator[int]:
        flags = self.resolved
        return (r for r in range(len(self.store)) if not flags[r])

    async def reopen(self) -> TriageSession:
        """A new session on the same DLQ (new snapshot, the group's offsets re-read) that keeps
        this session's staged decisions that are still unresolved; this session is then closed.
        If the new one cannot be opened, this one stays as it was (journal re-attached) and the
        error is raised."""
        staged = list(self.buffer.items())
        journal = self.journal
        if journal is not None:
            journal.close()  # the new session takes the journal (and its lock) over
        new = TriageSession(self.config, committer=self.committer)
        try:
            await new.open()
        except BaseException:
            with contextlib.suppress(Exception):
                await new.close()
            if journal is not None:
                with contextlib.suppress(Exception):
                    journal.attach(self.buffer)
            raise
        if new.journal_offer:
            new.restore_journal()  # the journal holds this session's decisions
        elif new.journal is None and staged:
            for decision in Decision:
                new.buffer.set(
                    (rid for rid, d in staged if d is decision and not new.is_resolved_rid(rid)), decision
                )
        self.journal = None
        with contextlib.suppress(Exception):
            await self.close()
        return new

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.registry is not None:
            self.registry.close()
        if self._word_pool is not None:
            self._word_pool.close()
        self.store.close()
