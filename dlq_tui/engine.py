"""The triage engine: one open DLQ — reader, record store, decoder, staged buffer, journal and
committer — serving both the TUI and the line-mode commands. No Textual here, no printing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from array import array
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Literal

import numpy as np

from dlq_tui import heap, redrive, scan_columns, scan_fields
from dlq_tui.decode.encode import Edited, EditError, editable_text, reencode
from dlq_tui.decode.registry import CachedSchemas, SchemaRegistry
from dlq_tui.decode.registry_tls import RegistryTls
from dlq_tui.decode.view import DecodedRecord, RecordDecoder
from dlq_tui.decode.wire import SchemaRef, schema_refs
from dlq_tui.engine_api import (
    DecideResult,
    DecisionsListener,
    EngineInfo,
    JournalOffer,
    MatchResult,
    PartitionStats,
)
from dlq_tui.groups import DecisionsSnapshot, GroupIndex, GroupSummary, decisions_snapshot
from dlq_tui.kafka.admin import admin_client, cleanup_policy, cluster_id, committed_offsets, topic_partitions
from dlq_tui.kafka.committer import (
    CommitReport,
    CommitRequest,
    Committer,
    FaultHook,
    FencedCommitError,
    ProgressHook,
    WaitBounds,
    WaitHook,
    transactional_id_for,
)
from dlq_tui.kafka.connection import DlqError, KafkaSettings, describe_error, quiet_unretrieved_kafka_errors
from dlq_tui.kafka.reader import PartitionProgress, SnapshotReader
from dlq_tui.kafka.start import start_offsets
from dlq_tui.plan import (
    TOMBSTONE_RANGE_RESERVE,
    CommitPlan,
    KnownStretch,
    PartitionPlan,
    PlannedWrite,
    SplitError,
    TombstoneFate,
    transaction_batches,
)
from dlq_tui.scan import UNICODE_FOLDED, PlainFlags, ScanPlan, plan_scan, scan
from dlq_tui.scan_pool import WordPool, scan_workers
from dlq_tui.signals import commit_running, pause_hook
from dlq_tui.start import StartPlan, StartSpec, plan_start
from dlq_tui.testhooks import pause as test_pause
from dlq_tui.triage.arena import ArenaDigestError, default_arena
from dlq_tui.triage.decisions import Decision, StagedBuffer
from dlq_tui.triage.edits import Edit, EditStore
from dlq_tui.triage.filter import Filter
from dlq_tui.triage.journal import Journal, JournalBusyError, RestoreResult
from dlq_tui.triage.records import RawRecord, RecordId, RecordLike
from dlq_tui.triage.resolution import DEFAULT_MAX_METADATA_BYTES, PartitionResolution
from dlq_tui.triage.store import RecordStore, RowView

log = logging.getLogger(__name__)

Tombstones = Literal["auto", "always", "never"]
FENCED_RETRIES = 5
CANCEL_CHECK_ROWS = 16
"""A filter scan asks whether it was cancelled (Esc) this often: one record may be 5 MB."""
DECIDE_SLICE = 50_000
"""A bulk decision is applied on the loop this many rows at a time."""
LOAD_SLICE = 1_000
"""`load` stores a fetch this many records at a time and lets the event loop run in between: the
app loads on its UI loop, and a 10k-record fetch stored at once kept keys waiting 0.1-0.6 s."""
LOAD_FETCH_RECORDS = 2_000
"""`load` takes this many records per `getmany` (unpacking them blocks the loop too; `print`'s
`stream` keeps the reader's 10k): loop stalls at 1M p99 186-222 -> 144-153 ms, peak heap -60 MB."""


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
    registry_tls: RegistryTls | None = None
    use_journal: bool = True
    read_only: bool = False
    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES
    """The broker's `offset.metadata.max.bytes` (Kafka's default 4096)."""
    show_tombstones: bool = False
    """Show the DLQ's tombstones (null values) as rows; hidden by default: they are not failed
    records but deletions (e.g. of purged records in a compacted DLQ)."""
    # Safe redrive (docs/redrive.md); `destination` may be `redrive.ORIGIN` ("@origin").
    origin_partition: bool = False
    """With @origin: write to the origin partition from the headers, not the key's partition."""
    max_rate: float | None = None
    """Merges and purges per second at most (several transactions); None: no cap."""
    audit_topic: str | None = None
    """One JSON audit record per merge and purge, in the same transaction."""
    operator: str | None = None
    """Who the audit records name (default user@host)."""
    reason: str | None = None
    """The audit records' reason when `commit()` is given none."""
    start: StartSpec | None = None
    """`--from`: read from an offset or a time instead of the committed offsets."""
    memory_budget: int | None = None
    """`--memory-budget`: payload bytes kept in memory before the arena file (None: the default)."""
    partition_share: tuple[int, int] | None = None
    """`(n, i)`: read only the partitions p with p % n == i (one of `print`'s worker processes);
    the start note still speaks of all of them. None: every partition."""


def registry_client(url: str | None, user_info: str | None, tls: RegistryTls | None) -> SchemaRegistry | None:
    """The registry client of a session (None without a URL), with its TLS settings."""
    if not url:
        return None
    return SchemaRegistry(url, user_info=user_info, verify=tls.ssl_context() if tls else True)


WARM_STEP = 16384
"""Rows `warm()` indexes for failure groups between looks at whether a filter is running."""


class FiltersIdle:
    """Whether no filter scan runs now (`busy()` around each scan; `wait()` until none does)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._idle = threading.Event()
        self._idle.set()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        with self._lock:
            self._running += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                last = not self._running
                if last:
                    self._idle.set()
            if last:
                heap.give_back()  # what the scans freed (see `dlq_tui.heap`)

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    def wait(self) -> None:
        self._idle.wait()


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

    def is_undecoded(self, part: str) -> bool:
        return self._d().is_undecoded(part)

    def undecoded_reason(self) -> str | None:
        return self._d().undecoded_reason()

    def origin_text(self) -> str | None:
        return self._d().origin_text()

    def exception_text(self) -> str:
        return self._d().exception_text()

    def group_id(self) -> str:
        return self._session.group_index.group_of(self._row)


async def load_slices(batches: AsyncIterator[Sequence[RecordLike]]) -> AsyncIterator[Sequence[RecordLike]]:
    """`batches` in slices of at most `LOAD_SLICE` records (an empty batch stays one empty slice),
    yielding to the event loop after each one is taken."""
    async for batch in batches:
        for i in range(0, max(len(batch), 1), LOAD_SLICE):
            yield batch[i : i + LOAD_SLICE]
            await asyncio.sleep(0)


class TriageSession:
    """One DLQ opened for triage. Call `open()`, then iterate `load()`; decide; `commit()`; `close()`."""

    def __init__(self, config: SessionConfig, *, committer: Committer | None = None) -> None:
        self.config = config
        self.store = RecordStore(arena=default_arena(config.memory_budget))
        self.group_index = GroupIndex(self.store)
        self.buffer = StagedBuffer()
        self._decision_listeners: list[DecisionsListener] = []
        self.buffer.add_listener(self._decisions_changed)
        registry = registry_client(config.registry_url, config.registry_user_info, config.registry_tls)
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
        self._offered: dict[RecordId, Decision] = {}
        self._journal_note: str | None = None
        self.notices: list[str] = []
        self.edits = EditStore()
        self.edits.attach(self.buffer)
        self._stop_requested = False
        self._reader: SnapshotReader | None = None
        self._unresolved_count: dict[int, int] = {}
        # Which rows' bytes are their texts (filled by filter scans; see dlq_tui.scan).
        self._plain: PlainFlags | None = None
        self._plain_store: RecordStore | None = None
        self._word_pool: WordPool | None = None
        self._filters_idle = FiltersIdle()
        self._field_columns: scan_columns.FieldColumns | None = None  # decoded-field caches
        self.tombstone_flags = bytearray()  # one flag per row: 1 = a tombstone (null value)
        self._tombstone_rows = array("i")
        self._tombstone_merges_allowed: set[RecordId] = set()
        self.start_plan: StartPlan | None = None

    # -- the app's interface (engine_api.Engine) ----------------------------------------------------

    @property
    def info(self) -> EngineInfo:
        cfg = self.config
        return EngineInfo(
            cfg.source,
            cfg.destination,
            cfg.group,
            cfg.read_only,
            cfg.from_beginning,
            self.start_note,
            audit_topic=cfg.audit_topic,
            max_rate=cfg.max_rate,
        )

    @property
    def journal_offer(self) -> JournalOffer | None:
        if not self._offered:
            return None
        counts = Counter(self._offered.values())
        return JournalOffer(counts[Decision.MERGE], counts[Decision.PURGE], counts[Decision.SKIP])

    @property
    def journal_offered(self) -> dict[RecordId, Decision]:
        """The offered decisions themselves (line mode and tests)."""
        return dict(self._offered)

    @property
    def journal_note(self) -> str | None:
        return self._journal_note

    @property
    def journal_active(self) -> bool:
        return self.journal is not None

    def row_count(self) -> int:
        return len(self.store)

    def is_visible(self, row: int) -> bool:
        return self.visible(row)

    def partition_at(self, row: int) -> int:
        return self.store.partition_at(row)

    def offset_at(self, row: int) -> int:
        return self.store.offset_at(row)

    def timestamp_at(self, row: int) -> int:
        return self.store.timestamp_at(row)

    def size_at(self, row: int) -> int:
        return max(0, self.store.key_len_at(row)) + max(0, self.store.value_len_at(row))

    def staged_counts(self) -> dict[Decision, int]:
        return self.buffer.counts()

    def add_decisions_listener(self, listener: DecisionsListener) -> None:
        self._decision_listeners.append(listener)

    def remove_decisions_listener(self, listener: DecisionsListener) -> None:
        with contextlib.suppress(ValueError):
            self._decision_listeners.remove(listener)

    def _decisions_changed(self, _change: object) -> None:
        for listener in list(self._decision_listeners):
            listener()

    async def prefetch(self, rows: range) -> bool:
        fetched = await asyncio.to_thread(self.prefetch_schemas, rows, clear=False)
        if fetched:
            self.decoder.clear_cache()
        return bool(fetched)

    async def plan(self) -> CommitPlan:
        writes = self.staged_writes()
        return await asyncio.to_thread(self.commit_plan, writes)

    # -- opening and loading ----------------------------------------------------------------------

    async def open(self) -> None:
        """Check the topics, read the group's resolution state, take the snapshot, open the journal."""
        quiet_unretrieved_kafka_errors(asyncio.get_running_loop())
        cfg = self.config
        if cfg.destination is not None and cfg.destination == cfg.source:
            raise DlqError(
                f"the destination is the DLQ itself ('{cfg.source}'): merges would loop back into it"
            )
        async with admin_client(cfg.kafka) as admin:
            try:
                self.cluster_id = await cluster_id(admin)
                self.partitions = await topic_partitions(admin, cfg.source)
                if cfg.destination and not self.to_origin:
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
        if cfg.start is not None:
            chosen, log_starts = await start_offsets(cfg.kafka, cfg.source, self.partitions, cfg.start)
            committed = {p: r.committed for p, r in self.resolution.items()}
            self.start_plan = plan_start(
                cfg.start, chosen, committed, log_starts, from_beginning=cfg.from_beginning
            )
            starts = self.start_plan.starts
        self._take_share()
        self._reader = SnapshotReader(cfg.kafka, cfg.source, self.partitions, starts)
        await self._reader.open()
        self._unresolved_count = dict.fromkeys(self.partitions, 0)
        if cfg.use_journal and not cfg.read_only:
            self._open_journal()
            self._open_edits()
            self.start_journal()

    def _take_share(self) -> None:
        """With `partition_share`: keep only this session's partitions (after the start plan)."""
        share = self.config.partition_share
        if share is not None:
            n, i = share
            self.partitions = [p for p in self.partitions if p % n == i]
            self.resolution = {p: r for p, r in self.resolution.items() if p % n == i}

    def _open_journal(self) -> None:
        journal = Journal(self.cluster_id, self.config.group, self.config.source)
        try:
            self._offered = {rid: d for rid, d in journal.load().items() if not self.is_resolved_rid(rid)}
        except JournalBusyError:
            self._journal_note = (
                "another dlq-tui session on this machine holds the journal of this DLQ; not journaling"
            )
            journal.close()
            return
        except OSError as exc:
            self._journal_note = f"journal unavailable ({exc}); decisions are kept in memory only"
            journal.close()
            return
        if journal.moved_aside is not None:
            self._journal_note = (
                f"the journal of this DLQ had {journal.corrupt_lines} unreadable line(s): it was moved "
                f"aside to {journal.moved_aside}; its readable decisions are kept"
            )
        self.journal = journal

    def restore_journal(self) -> RestoreResult:
        """Take the offered decisions of a lost session into the buffer, then journal from here on."""
        assert self.journal is not None
        result = self.journal.restore_into(self.buffer, self.is_resolved_rid)
        self._offered = {}
        self.journal.attach(self.buffer)
        self.edits.adopt()
        return result

    def discard_journal(self) -> None:
        """Forget the offered decisions, then journal from here on."""
        if self.journal is not None:
            self.journal.discard()
            self.journal.attach(self.buffer)
        self._offered = {}
        self.edits.clear()

    def start_journal(self) -> None:
        """Journal from here on without deciding on an offer yet (the offer stays in the file)."""
        if self.journal is not None and not self._offered:
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
        self._reader.batch_records = LOAD_FETCH_RECORDS
        async for batch in load_slices(self._reader.batches(follow=follow)):
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
            self._flag_tombstones(first, len(self.store))
            await test_pause("loading")  # test-only: no-op unless DLQ_TUI_PAUSE_AT says so
            yield range(first, len(self.store))
        self.store.settle()  # the last chunks written to the arena file leave the heap
        heap.give_back()  # what loading freed: fetched batches, chunks now in the file

    def _flag_tombstones(self, first: int, end: int) -> None:
        """Flag the new rows whose value is null (from the value-length column, for all at once)."""
        value_len = self.store.layout_columns()[2]
        null = np.frombuffer(value_len[first:end], dtype=np.int32) < 0
        self.tombstone_flags.extend(null.view(np.uint8).tobytes())
        if null.any():
            self._tombstone_rows.extend((np.flatnonzero(null) + first).tolist())

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
        if self.tombstone_flags[row] and not self.config.show_tombstones:
            return False
        return self.config.from_beginning or not self.resolved[row]

    def visible_rows(self, rows: Iterable[int] | None = None) -> array[int]:
        """Rows shown by default: unresolved ones (all with --from-beginning), in arrival order;
        tombstones only with `show_tombstones`."""
        source = range(len(self.store)) if rows is None else rows
        hide = self._tombstone_rows and not self.config.show_tombstones
        tomb = self.tombstone_flags
        if self.config.from_beginning:
            return array("i", (r for r in source if not tomb[r]) if hide else source)
        flags = self.resolved
        if hide:
            return array("i", (r for r in source if not flags[r] and not tomb[r]))
        return array("i", (r for r in source if not flags[r]))

    def is_tombstone(self, row: int) -> bool:
        return bool(self.tombstone_flags[row])

    def tombstone_count(self) -> int:
        """Unresolved tombstones (null values) loaded: hidden from triage unless `show_tombstones`;
        the app shows this count in its status line."""
        flags = self.resolved
        return sum(1 for r in self._tombstone_rows if not flags[r])

    def hidden_tombstones(self) -> int:
        """How many unresolved tombstones are hidden from triage (0 with `show_tombstones`)."""
        return 0 if self.config.show_tombstones else self.tombstone_count()

    def record(self, row: int) -> RawRecord:
        return self.store.get(row)

    def decoded(self, row: int) -> DecodedRecord:
        return self.decoder.decode(self.store.get(row))

    def rid(self, row: int) -> RecordId:
        return self.store.rid_at(row)

    def decision(self, row: int) -> Decision | None:
        return self.buffer.get(self.store.rid_at(row))

    async def retry_schemas(self) -> bool:
        """While schema fetches fail (registry down, 5xx): ask again for the schemas the loaded
        records name once their failure is no longer cached as fresh, so that after the registry
        comes back they decode without a reload. True if any schema arrived (repaint)."""
        registry = self.registry
        if registry is None or not registry.failing():
            return False
        before = registry.known_count()
        await asyncio.to_thread(self.prefetch_schemas, range(len(self.store)), clear=False)
        if registry.known_count() > before:
            self.decoder.clear_cache()
            return True
        return False

    async def warm(self) -> None:
        """Once the snapshot is read: classify the rows for the byte-level filter prefilter and
        index their failure groups, in a thread, so the first filter and the groups view are quick."""

        def work() -> None:
            self._plain_flags().ensure(len(self.store))
            heap.give_back()  # before the first filter's scan allocates beside it
            # The group index in steps; a filter the user typed meanwhile goes first (two threads
            # of Python work would each run at half speed under the GIL).
            for upto in range(WARM_STEP, len(self.store) + WARM_STEP, WARM_STEP):
                self._filters_idle.wait()
                self.group_index.update(upto)
                self.store.release_pages()  # indexing reads every row's headers from the arena
            heap.give_back()

        await asyncio.to_thread(work)

    def match(
        self, flt: Filter, rows: Iterable[int], *, cancelled: Callable[[], bool] | None = None
    ) -> array[int]:
        """The rows of `rows` that `flt` matches (for a worker thread; `cancelled` stops early)."""
        with self._filters_idle.busy():
            return self._match(flt, rows, cancelled)

    def _match(self, flt: Filter, rows: Iterable[int], cancelled: Callable[[], bool] | None) -> array[int]:
        fast = self._match_fields(flt, rows, cancelled)
        if fast is not None:
            return fast
        plan = self._scan_plan(flt)
        if plan is not None:
            return self._scan(flt, plan, rows, cancelled)
        out = array("i")
        for n, row in enumerate(rows):
            if n % CANCEL_CHECK_ROWS == 0:
                if cancelled is not None and cancelled():
                    break
                if n and n % 4096 == 0:
                    self.store.release_pages()  # decoding reads the arena in place
            if flt.matches(LazySubject(self, row)):
                out.append(row)
        self.store.release_pages()
        return out

    def _plain_flags(self) -> PlainFlags:
        if self._plain is None or self._plain_store is not self.store:
            self._plain, self._plain_store = PlainFlags(self.store), self.store
        return self._plain

    def _match_fields(
        self,
        flt: Filter,
        rows: Iterable[int],
        cancelled: Callable[[], bool] | None,
        unknown: array[int] | None = None,
    ) -> array[int] | None:
        """Header-only and key-only filters, judged without decoding whole rows
        (`dlq_tui.scan_fields`); None for other filters."""
        evaluate = flt.evaluate

        def judge(row: int) -> bool | None:
            return evaluate(LazySubject(self, row))

        if scan_fields.headers_only(flt):
            return scan_fields.scan_by_headers(self.store, rows, judge, cancelled=cancelled, unknown=unknown)
        formats = (self.config.key_format, self.config.value_format)
        if not isinstance(rows, array | range) or not len(rows):
            return None
        field = scan_columns.value_field_term(flt, formats)
        if field is not None:
            if self._field_columns is None or self._field_columns.store is not self.store:
                self._field_columns = scan_columns.FieldColumns(self.store)
            plan = plan_scan(flt, self.store.header_names(), formats)
            return scan_columns.scan_value_field(
                self.store,
                self._plain_flags(),
                self._field_columns.get(field.name),
                field,
                plan.clauses,
                not any(UNICODE_FOLDED & set(w.decode()) for w in plan.words),
                rows,
                judge,
                cancelled=cancelled,
                unknown=unknown,
            )
        term = scan_fields.key_term(flt, formats)
        if term is None:
            return None
        flags = self._plain_flags().ensure(max(rows) + 1, cancelled)
        return scan_fields.scan_keys(
            self.store, flags, term, formats[0], rows, judge, cancelled=cancelled, unknown=unknown
        )

    def _scan_plan(self, flt: Filter) -> ScanPlan | None:
        """The byte-level scan plan of `flt` when it can skip or decide rows, else None."""
        if not flt.needs_decode:
            return None
        formats = (self.config.key_format, self.config.value_format)
        plan = plan_scan(flt, self.store.header_names(), formats)
        return plan if plan.useful else None

    def _scan(
        self,
        flt: Filter,
        plan: ScanPlan,
        rows: Iterable[int],
        cancelled: Callable[[], bool] | None,
        unknown: array[int] | None = None,
    ) -> array[int]:
        """`dlq_tui.scan.scan` over this session's store (see `match`)."""
        plain = self._plain_flags()
        if self._word_pool is None and scan_workers() > 0:
            self._word_pool = WordPool(scan_workers())
        try:
            subject = scan_fields.plain_subjects(
                self.store,
                plain.get,
                (self._scan_decoder.key_format, self._scan_decoder.value_format),
                self.group_index.group_of,
                partial(LazySubject, self),
            )
            return scan(
                self.store,
                plain,
                plan,
                flt,
                rows,
                subject,
                cancelled=cancelled,
                pool=self._word_pool,
                unknown=unknown,
            )
        finally:
            self.store.release_pages()

    def match_with_unknown(
        self, flt: Filter, rows: Iterable[int], *, cancelled: Callable[[], bool] | None = None
    ) -> MatchResult:
        """As `match`, and the rows the filter could not judge because it looks at a key or value
        that could not be decoded (registry down, poison): neither matched nor excluded. The app
        shows their count and asks before a bulk decision includes them (for a worker thread).
        Uses the byte-level scan where a skipped row is known not to match (formats auto, string)."""
        with self._filters_idle.busy():
            return self._match_with_unknown(flt, rows, cancelled)

    def _match_with_unknown(
        self, flt: Filter, rows: Iterable[int], cancelled: Callable[[], bool] | None
    ) -> MatchResult:
        matched, unknown = array("i"), array("i")
        reason: str | None = None
        fast = self._match_fields(flt, rows, cancelled, unknown)
        plan = self._scan_plan(flt) if fast is None else None
        if fast is not None or (plan is not None and plan.judged):
            if fast is not None:
                matched = fast
            elif plan is not None:
                matched = self._scan(flt, plan, rows, cancelled, unknown)
            if unknown:
                reason = LazySubject(self, unknown[0]).undecoded_reason()
            return MatchResult(matched, unknown, reason)
        for n, row in enumerate(rows):
            if n % CANCEL_CHECK_ROWS == 0:
                if cancelled is not None and cancelled():
                    break
                if n % 4096 == 0:
                    self.store.release_pages()  # decoding reads the arena in place
            subject = LazySubject(self, row)
            result = flt.evaluate(subject)
            if result is True:
                matched.append(row)
            elif result is None:
                unknown.append(row)
                if reason is None:
                    reason = subject.undecoded_reason()
        self.store.release_pages()
        return MatchResult(matched, unknown, reason)

    # -- failure groups -------------------------------------------------------------------------

    def decisions_snapshot(self) -> dict[int, dict[int, Decision]]:
        """The staged decisions as a copy a worker thread may read (call on the event loop)."""
        return decisions_snapshot(self.buffer)

    def groups(
        self, rows: Iterable[int] | None = None, decisions: DecisionsSnapshot | None = None
    ) -> list[GroupSummary]:
        """Failure group summaries over `rows` (default: the rows shown, see `visible_rows`), sorted
        by count. For a worker thread: pass `decisions` from `decisions_snapshot()` taken on the
        event loop (without it, the buffer is read here, which is only safe on the event loop)."""
        if decisions is None:
            decisions = self.decisions_snapshot()
        total = len(self.store)
        for upto in range(65536, total + 65536, 65536):
            self.group_index.update(min(upto, total))
            self.store.release_pages()  # indexing reads every row's headers from the arena
        try:
            return self.group_index.summaries(
                self.visible_rows() if rows is None else rows, resolved=self.resolved, decisions=decisions
            )
        finally:
            heap.give_back()  # the index's and the summaries' temporary arrays

    async def groups_async(self, rows: Iterable[int] | None = None) -> list[GroupSummary]:
        """`groups` computed in a worker thread (the event loop stays free)."""
        snapshot = self.decisions_snapshot()
        return await asyncio.to_thread(self.groups, rows, snapshot)

    def group_of(self, row: int) -> str:
        """The failure group id of a row."""
        return self.group_index.group_of(row)

    def group_rows(self, group_id: str, rows: Iterable[int] | None = None) -> array[int]:
        """The rows of `rows` (default: the rows shown) in the failure group `group_id`; decide on
        them with `decide` (m/p/s on a group). For a worker thread on a big DLQ."""
        return self.group_index.rows_of(group_id, self.visible_rows() if rows is None else rows)

    # -- decisions ------------------------------------------------------------------------------

    def _check_decision(self, decision: Decision) -> None:
        if self.config.read_only and decision.resolves:
            raise DlqError("read-only session: merge and purge are disabled")
        if decision is Decision.MERGE and not self.config.destination:
            raise DlqError("merge needs a destination topic (dlq-tui SOURCE DESTINATION)")

    def _candidates(
        self, rows: Iterable[int], decision: Decision, allow_tombstones: bool = False
    ) -> tuple[list[RecordId], int, str | None]:
        """The record ids of `rows` that can take `decision` (unresolved, not refused), how many
        were looked at, and why some were refused. Reads only: safe in a thread."""
        candidates = [r for r in rows if not self.resolved[r]]
        looked = len(candidates)
        reason = None
        if decision is Decision.MERGE and not allow_tombstones and self._tombstone_rows:
            tomb = self.tombstone_flags
            tombstones = [r for r in candidates if tomb[r]]
            if tombstones:
                reason = (
                    f"{len(tombstones)} tombstone(s) (null value) not merged: a tombstone is a deletion, "
                    "not a failed record, and merged it would delete its key from a compacted "
                    "destination (merging one takes an explicit, separate confirmation)"
                )
                candidates = [r for r in candidates if not tomb[r]]
        if decision is Decision.MERGE and self.to_origin:
            candidates, origin_reason = self._refuse_without_origin(candidates)
            if origin_reason is not None:
                reason = origin_reason if reason is None else f"{reason}; {origin_reason}"
        if decision is Decision.MERGE and self.destination_compacted:
            keyless = [r for r in candidates if self.store.key_len_at(r) < 0]
            if keyless:
                keyless_reason = (
                    f"{len(keyless)} keyless record(s) cannot be merged: the destination "
                    f"'{self.config.destination}' is compacted and Kafka refuses records without a key there "
                    "(purge them, or merge to a topic that is not compacted)"
                )
                reason = keyless_reason if reason is None else f"{reason}; {keyless_reason}"
                refused = set(keyless)
                candidates = [r for r in candidates if r not in refused]
        rid_at = self.store.rid_at
        return [rid_at(r) for r in candidates], looked, reason

    def decide(self, rows: Iterable[int], decision: Decision, *, allow_tombstones: bool = False) -> int:
        """Stage `decision` on the unresolved rows among `rows`; returns how many changed. A merge
        leaves tombstones out (with a notice) unless `allow_tombstones`: the caller's explicit,
        separate confirmation that a deletion is to be replayed."""
        self._check_decision(decision)
        rids, looked, reason = self._candidates(rows, decision, allow_tombstones)
        if allow_tombstones and decision is Decision.MERGE:
            self._allow_tombstone_merges(rids)
        if reason is not None:
            if looked and not rids:
                raise DlqError(reason)
            self.notices.append(reason)
        return self.buffer.set(rids, decision)

    def _allow_tombstone_merges(self, rids: Iterable[RecordId]) -> None:
        for rid in rids:
            row = self.store.row_of(rid)
            if row is not None and self.tombstone_flags[row]:
                self._tombstone_merges_allowed.add(rid)

    async def decide_many(
        self, rows: array[int], decision: Decision | None, *, allow_tombstones: bool = False
    ) -> DecideResult:
        if decision is not None:
            self._check_decision(decision)
        changed = looked_all = staged_all = 0
        reasons: list[str] = []
        for start in range(0, len(rows), DECIDE_SLICE):
            part = rows[start : start + DECIDE_SLICE]
            if decision is None:
                changed += self.undo(part)
            else:
                rids, looked, reason = await asyncio.to_thread(
                    self._candidates, part, decision, allow_tombstones
                )
                if allow_tombstones and decision is Decision.MERGE:
                    self._allow_tombstone_merges(rids)
                looked_all += looked
                staged_all += len(rids)
                if reason is not None:
                    reasons.append(reason)
                changed += self.buffer.set(rids, decision)
            await asyncio.sleep(0)  # the screen draws between slices
        if reasons:
            if looked_all and not staged_all:
                raise DlqError(reasons[0] if len(reasons) == 1 else "; ".join(reasons))
            self.notices.extend(reasons)
        return DecideResult(decision, changed, len(rows))

    def undo(self, rows: Iterable[int]) -> int:
        return self.buffer.undo(self.store.rid_at(r) for r in rows)

    def forget_skips(self) -> int:
        """Take every staged skip back (journaled as an undo): for a run that ended normally, whose
        skips must not outlive it."""
        return self.buffer.undo([rid for rid, d in self.buffer.items() if d is Decision.SKIP])

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

    def prefetch_schemas(self, rows: Iterable[int], *, clear: bool = True) -> int:
        """Fetch (into the registry's cache) the schemas that the keys and values of `rows` name
        in the Confluent wire format or in ``__key_schema_id``/``__value_schema_id`` headers:
        on-screen decoding never fetches, it shows what is cached (a record whose schema is not
        fetched yet decodes as *pending*, `Decoded.pending`).
        For a worker thread (or line mode); failures are cached by the registry, not raised.
        Returns how many schema ids got an answer now (schema or failure); when any did, the
        decode cache is cleared so that the next paint shows them."""
        registry = self.registry
        if registry is None:
            return 0
        store = self.store
        ids: set[SchemaRef] = set()
        for row in rows:
            for schema_id in schema_refs(store.key_at(row), store.value_at(row), store.headers_at(row)):
                if not registry.is_known(schema_id):
                    ids.add(schema_id)
        for schema_id in ids:
            try:
                registry.get_schema(schema_id)
            except Exception:  # shown where the record is shown
                log.debug("schema %s: prefetch failed", schema_id, exc_info=True)
        if ids and clear:
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
    def start_note(self) -> str | None:
        """With `--from`: what was not loaded, for the status line (None without `--from`)."""
        plan = self.start_plan
        if plan is None:
            return None
        if plan.skips_unresolved and self.config.tombstones != "never" and "compact" in self.cleanup_policy:
            return plan.note + "; no tombstones (one could compact away a record that was not loaded)"
        return plan.note

    @property
    def tombstones_on(self) -> bool:
        if self.start_plan is not None and self.start_plan.skips_unresolved:
            # A tombstone would, once compacted, also delete an older unresolved record with the
            # same key that this session did not load (and so could not protect).
            return False
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

    def staged_writes(self) -> tuple[list[tuple[RowView, Decision]], list[RecordId]]:
        """The merges and purges whose records are loaded (as lazy views on the store: a commit of
        a million merges does not copy a million records), and the staged ones not loaded (yet)."""
        writes: list[tuple[RowView, Decision]] = []
        missing: list[RecordId] = []
        tomb = self.tombstone_flags
        for rid, decision in self.buffer.writes():
            row = self.store.row_of(rid)
            if row is None:
                missing.append(rid)
            elif self.resolved[row]:
                continue
            elif decision is Decision.MERGE and tomb[row] and rid not in self._tombstone_merges_allowed:
                continue  # staged without the explicit confirmation (e.g. from an old journal)
            else:
                writes.append((self.store.view(row), decision))
        return writes, missing

    def silently_resolvable(self, writes: Sequence[tuple[RecordLike, Decision]]) -> dict[int, list[int]]:
        """Per partition written to: the unresolved, undecided tombstones below the highest offset
        decided there. A commit resolves them along with its decisions (writing nothing for them),
        as it does its own tombstones: they are not triage material."""
        if not self._tombstone_rows:
            return {}
        top: dict[int, int] = {}
        for record, _ in writes:
            top[record.partition] = max(top.get(record.partition, -1), record.offset)
        out: dict[int, list[int]] = {}
        flags, store, buffer = self.resolved, self.store, self.buffer
        for row in self._tombstone_rows:
            p = store.partition_at(row)
            offset = store.offset_at(row)
            if not flags[row] and offset < top.get(p, -1) and buffer.get(store.rid_at(row)) is None:
                out.setdefault(p, []).append(offset)
        return out

    def has_writes(self) -> bool:
        """Whether anything staged would be written by a commit (cheap)."""
        counts = self.buffer.counts()
        return bool(counts[Decision.MERGE] or counts[Decision.PURGE])

    @property
    def tombstone_reason(self) -> str:
        mode = self.config.tombstones
        if mode == "always":
            return "--tombstones always"
        if mode == "never":
            return "--tombstones never"
        if self.tombstones_on:
            return "the source topic is compacted"
        return "the source topic is not compacted"

    def commit_plan(
        self, staged: tuple[list[tuple[RowView, Decision]], list[RecordId]] | None = None
    ) -> CommitPlan:
        """What a commit of the staged decisions would write, from what this session loaded (the
        commit itself re-reads the group's offsets and the records that arrived after the
        snapshot). O(staged + loaded records of the touched partitions): run it in a thread."""
        writes, missing = staged if staged is not None else self.staged_writes()
        tombstones = self.tombstones_on
        protected = self.protected_keys(writes) if tombstones else {}
        planned: list[PlannedWrite] = []
        pending: dict[int, list[tuple[RecordLike, Decision]]] = {}
        to_origin, edits = self.to_origin, self.edits
        for view, decision in writes:
            key = view.key
            fate: TombstoneFate = "none"
            if tombstones and key is not None:
                fate = "withheld" if protected.get(view.partition, {}).get(key, -1) > view.offset else "write"
            merge = decision is Decision.MERGE
            planned.append(
                PlannedWrite(
                    view.partition,
                    view.offset,
                    decision,
                    key,
                    fate,
                    destination=redrive.origin_of(view.headers) if merge and to_origin else None,
                    edited=merge and RecordId(view.partition, view.offset) in edits,
                )
            )
            pending.setdefault(view.partition, []).append((view, decision))
        known = self._known()
        reserve = TOMBSTONE_RANGE_RESERVE if tombstones else 0
        after: dict[int, PartitionResolution] = {}
        transactions = 0
        error = None
        try:
            for _batch, state in transaction_batches(
                self.resolution,
                pending,
                known,
                self.config.max_metadata_bytes - reserve,
                max_records=redrive.transaction_size(self.config.max_rate),
            ):
                transactions += 1
                after.update(state)
        except SplitError as exc:
            error = str(exc)
        by_partition: dict[int, Counter[str]] = {}
        for w in planned:
            c = by_partition.setdefault(w.partition, Counter())
            c[w.decision.value] += 1
            c[w.tombstone] += 1
        partitions = tuple(
            PartitionPlan(
                partition=p,
                merges=c[Decision.MERGE.value],
                purges=c[Decision.PURGE.value],
                tombstones=c["write"],
                withheld=c["withheld"],
                committed=after[p].committed if p in after else self.resolution[p].committed,
                resolved_above=after[p].resolved_above.count() if p in after else 0,
                metadata=after[p].metadata if p in after else "",
            )
            for p, c in sorted(by_partition.items())
        )
        return CommitPlan(
            source=self.config.source,
            destination=self.config.destination,
            group=self.config.group,
            writes=tuple(planned),
            partitions=partitions,
            tombstones_on=tombstones,
            tombstone_reason=self.tombstone_reason,
            keep_timestamp=self.config.keep_timestamp,
            skipped=self.buffer.count(Decision.SKIP),
            not_loaded=len(missing),
            transactions=transactions,
            **self._redrive_plan_fields(planned, error),
        )

    def _redrive_plan_fields(self, planned: Sequence[PlannedWrite], error: str | None) -> redrive.PlanFields:
        """The commit plan's redrive fields: merges per destination, edited, rate, audit, warnings
        (and, with @origin, the refusal of merges whose records name no origin)."""
        by_destination: dict[str, int] = {}
        missing: list[RecordId] = []
        for w in planned:
            if w.decision is Decision.MERGE:
                topic = w.destination if self.to_origin else self.config.destination
                if topic is None:
                    missing.append(RecordId(w.partition, w.offset))
                else:
                    by_destination[topic] = by_destination.get(topic, 0) + 1
        fields: redrive.PlanFields = {
            "by_destination": by_destination,
            "edited": sum(1 for w in planned if w.edited),
            "max_rate": self.config.max_rate,
            "audit_topic": self.config.audit_topic,
            "warnings": (redrive.ORIGIN_WARNING,) if self.to_origin and by_destination else (),
        }
        fields["error"] = error or (
            redrive.missing_origin_message(self.config.source, missing) if missing else None
        )
        return fields

    def protected_keys(self, writes: Sequence[tuple[RecordLike, Decision]]) -> dict[int, dict[bytes, int]]:
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
        waiting: WaitHook | None = None,
        only: Collection[RecordId] | None = None,
        reason: str | None = None,
    ) -> CommitReport:
        """Commit the staged merges and purges in one transaction (several if the resolved-set
        metadata would not fit one, or under `max_rate`). On fencing by another session it re-reads
        and tries again, committing only what is still unresolved. Raises `CommitError` with the
        buffer intact. `only`: commit just these staged decisions (the canary); `reason`: the
        audit records' reason (default `config.reason`). `request_stop()` stops it between
        transactions (`report.stopped`). Every wait on Kafka is bounded; `waiting` hears "broker
        unreachable, retrying…" messages."""
        if self.config.read_only:
            raise DlqError("read-only session: commit is disabled")
        with commit_running():  # a SIGHUP/SIGTERM aborts it before the process exits
            return await self._commit(progress, fault, on_fenced, waiting, only, reason)

    async def _commit(
        self,
        progress: ProgressHook | None,
        fault: FaultHook | None,
        on_fenced: Callable[[str], None] | None,
        waiting: WaitHook | None,
        only: Collection[RecordId] | None,
        reason: str | None,
    ) -> CommitReport:
        staged, _missing = self.staged_writes()
        await asyncio.to_thread(self.verify_payloads, staged)
        if only is not None:
            staged = [w for w in staged if w[0].rid in only]
        # A subset (the canary) is one transaction of its own, whatever the rate cap.
        redrive_request = await self._redrive_request(staged, reason, paced=only is None)
        writes = self.edits.apply(staged)
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
                resolve_silently=self.silently_resolvable(writes),
                **redrive_request,
            )
            partial = CommitReport()
            try:
                # `waiting` only when asked for: a committer without bounds (the in-memory one) has
                # no such parameter.
                extra = {"waiting": waiting} if waiting is not None else {}
                report = await self.committer.commit(
                    request,
                    progress=progress,
                    fault=fault if fault is not None else pause_hook(),
                    report=partial,
                    **extra,
                )
            except asyncio.CancelledError:
                self._apply(partial)  # complete transactions of a split commit stay committed
                raise
            except FencedCommitError as exc:
                self._apply(exc.report)
                attempt += 1
                committed = set(exc.report.committed) | set(exc.report.dropped)
                writes = [(r, d) for r, d in writes if RecordId(r.partition, r.offset) not in committed]
                if attempt > FENCED_RETRIES:
                    # The session that keeps fencing us may have done the work: then this
                    # commit's outcome is what was wanted, not a failure.
                    done = await self._resolved_by_others(writes)
                    if done is not None:
                        return done
                    raise
                if on_fenced is not None:
                    on_fenced(str(exc))
                protected = await asyncio.to_thread(self.protected_keys, writes) if self.tombstones_on else {}
                # Two sessions with one id fence each other in turn: back off, apart (jitter).
                await asyncio.sleep(min(4.0, 0.25 * 2**attempt) * (0.5 + random.random()))
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

    async def _resolved_by_others(self, writes: Sequence[tuple[RecordLike, Decision]]) -> CommitReport | None:
        """If every one of `writes` is resolved in the group's offsets now (another session
        committed them), the report of a commit that had nothing left to do; else None."""
        try:
            state = await self.committer.current_resolution(
                self.config.group, self.config.source, self._known()
            )
        except Exception:  # the fencing error is the one to report
            log.debug("re-reading the resolution after fencing failed", exc_info=True)
            return None
        if any(not state[r.partition].is_resolved(r.offset) for r, _ in writes):
            return None
        report = CommitReport(dropped=[RecordId(r.partition, r.offset) for r, _ in writes], partitions=state)
        self._apply(report)
        return report

    # -- safe redrive (docs/redrive.md) ---------------------------------------------------------------

    @property
    def to_origin(self) -> bool:
        """Whether merges go back to each record's origin topic (DESTINATION `@origin`)."""
        return self.config.destination == redrive.ORIGIN

    def origin(self, row: int) -> str | None:
        """The origin topic the row's DLQ headers name (None: none)."""
        return redrive.origin_of(self.store.headers_at(row))

    def rows_without_origin(self, rows: Iterable[int]) -> list[int]:
        """The unresolved rows among `rows` whose headers name no origin topic."""
        return [r for r in rows if not self.resolved[r] and self.origin(r) is None]

    def _refuse_without_origin(self, candidates: list[int]) -> tuple[list[int], str | None]:
        """With @origin: the candidates whose headers name an origin, and the refusal of the others."""
        refused = self.rows_without_origin(candidates)
        if not refused:
            return candidates, None
        reason = redrive.missing_origin_message(self.config.source, [self.store.rid_at(r) for r in refused])
        skip = set(refused)
        return [r for r in candidates if r not in skip], reason

    async def canary(
        self, n: int, wait_seconds: float, *, on_committed: Callable[[CommitReport], None] | None = None
    ) -> redrive.CanaryOutcome:
        from dlq_tui.canary import commit_canary

        return await commit_canary(self, n, wait_seconds, on_committed=on_committed)

    def request_stop(self) -> None:
        """Stop a running commit before its next transaction (complete ones stay committed; the
        rest stays staged and `report.stopped` is set). For the app's cancel of a rate-capped commit."""
        self._stop_requested = True

    async def _redrive_request(
        self, writes: Sequence[tuple[RowView, Decision]], reason: str | None, *, paced: bool = True
    ) -> redrive.RequestParts:
        """The commit request's route, audit and pacing (`redrive.request_parts`)."""
        self._stop_requested = False
        cfg = self.config
        return await redrive.request_parts(
            cfg.kafka,
            writes,
            source=cfg.source,
            group=cfg.group,
            to_origin=self.to_origin,
            origin_partition=cfg.origin_partition,
            audit_topic=cfg.audit_topic,
            operator=cfg.operator,
            reason=reason if reason is not None else cfg.reason,
            original_digests=self.edits.original_digests(),
            max_rate=cfg.max_rate if paced else None,
            stop=lambda: self._stop_requested,
        )

    # -- edit then merge --------------------------------------------------------------------------

    def edit_text(self, row: int) -> str:
        """The row's value as the editor opens it (pretty JSON, or text); `DlqError` if it cannot
        be edited (not decoded)."""
        try:
            return editable_text(self._decoded_fetching(row).value)
        except EditError as exc:
            raise DlqError(str(exc)) from exc

    def prepare_edit(self, row: int, text: str) -> Edited:
        """Re-encode the edited `text` with the row's own format and schema: the new bytes, the
        field diff and the sizes. Raises `DlqError` (nothing staged) for an invalid edit. May fetch
        the schema from the registry: call it from a worker thread in the app."""
        try:
            return reencode(self._decoded_fetching(row).value, text, self.registry)
        except EditError as exc:
            raise DlqError(f"invalid edit: {exc}") from exc

    def stage_edit(self, row: int, edited: Edited) -> None:
        """Stage a merge of the edited record (same key, headers and timestamp; the new value).
        Refused like any merge (e.g. no origin with @origin); then nothing is staged."""
        rid = self.store.rid_at(row)
        if self.resolved[row]:
            raise DlqError(f"record {rid.partition}:{rid.offset} is already resolved")
        self.decide([row], Decision.MERGE)
        if self.buffer.get(rid) is not Decision.MERGE:
            raise DlqError(f"record {rid.partition}:{rid.offset}: the merge was refused")
        self.edits.set(rid, Edit(edited.value, redrive.sha256_hex(self.store.value_at(row))))

    def edited(self, row: int) -> bool:
        """Whether the row's staged merge carries an edited value (the review screen marks it)."""
        return self.store.rid_at(row) in self.edits

    def _decoded_fetching(self, row: int) -> DecodedRecord:
        return self._scan_decoder.decode_uncached(self.store.view(row))

    def _open_edits(self) -> None:
        if self.journal is None:
            return
        path = self.journal.path
        self.edits.path = path.with_name(path.name.removesuffix(".jsonl") + ".edits.jsonl")
        try:
            self.edits.load()
        except OSError as exc:
            self.edits.path = None
            self.notices.append(f"edit journal unavailable ({exc}); edits are kept in memory only")

    async def _source_ends(self) -> dict[int, int] | None:
        if self._reader is None:
            return None
        try:
            bounds = getattr(self.committer, "bounds", None)
            bound = bounds.request if isinstance(bounds, WaitBounds) else WaitBounds().request
            return await asyncio.wait_for(self._reader.end_offsets(), bound)
        except Exception:  # the committer then reads past the position itself (bounded)
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
        if new._offered:
            new.restore_journal()  # the journal holds this session's decisions
        elif new.journal is None and staged:
            for decision in Decision:
                new.buffer.set(
                    (rid for rid, d in staged if d is decision and not new.is_resolved_rid(rid)), decision
                )
        for rid, edit in self.edits.items():  # edits go with their staged merges
            if new.buffer.get(rid) is Decision.MERGE and rid not in new.edits:
                new.edits.set(rid, edit)
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
