"""The one interface between the full-screen app and the engine.

Everything in `dlq_tui/tui/` reaches the engine through `Engine` and nothing else: not the record
store, the decoder, the staged buffer or the journal. Two implementations: `TriageSession` (Kafka
and the registry, `engine.py`) and `MemoryEngine` (a list of records with a fake resolution state,
`memory_engine.py`) on which the screens are tested without a broker.

Rows are store row numbers (`int`), numbered in arrival order; they stay valid until `reopen()`
returns a new engine.

**The thread rule.** Engine state changes on the event loop only: `open`, `load`, `decide`,
`undo`, `decide_many`, `restore_journal`, `discard_journal`, `commit` and `close` are called from
the loop (the async ones do their heavy part in a thread and apply the result on the loop).
From worker threads the app may call the *reads*: `decoded`, `match`, `visible_rows`,
`is_resolved`, `is_visible`, `decision`, `group_rows`, the `*_at` columns and `row_count`. They are safe because
the store only grows (appends happen on the loop, and a row is readable once `load` has yielded
it), the decode cache is locked, and a staged decision is read with one dict lookup; a read may
see a decision a moment old, never a torn one. Nothing else is safe off the loop.
"""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from dlq_tui.decode.encode import Edited
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.groups import GroupSummary
from dlq_tui.kafka.committer import CommitReport, ProgressHook
from dlq_tui.plan import CommitPlan
from dlq_tui.redrive import CanaryOutcome
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.filter import Filter
from dlq_tui.triage.journal import RestoreResult

__all__ = [
    "CanaryOutcome",
    "CommitReport",
    "DecideResult",
    "DecisionsListener",
    "Engine",
    "EngineInfo",
    "JournalOffer",
    "MatchResult",
    "PartitionStats",
    "ProgressHook",
    "RestoreResult",
]


@dataclass(frozen=True)
class EngineInfo:
    """What the app shows of the open DLQ and what it may offer."""

    source: str
    destination: str | None
    group: str
    read_only: bool = False
    from_beginning: bool = False
    start_note: str | None = None
    """With `--from`: what was not loaded (for the status line), e.g. ``from -1h: up to 33,412
    unresolved offsets before the start are not loaded``."""
    audit_topic: str | None = None
    """Audit records go there in the commit's transaction (the review asks for a reason)."""
    max_rate: float | None = None
    """Merges and purges per second at most (a commit is then several transactions)."""


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


@dataclass(frozen=True)
class JournalOffer:
    """Decisions of an earlier session that ended without committing, offered for restore."""

    merges: int
    purges: int
    skips: int

    @property
    def total(self) -> int:
        return self.merges + self.purges + self.skips


@dataclass(frozen=True)
class DecideResult:
    """The outcome of a bulk decision (or undo, `decision` None)."""

    decision: Decision | None
    changed: int
    total: int


@dataclass(frozen=True)
class MatchResult:
    """What a filter made of some rows: the matches, and the rows it could not judge."""

    matched: array[int]
    unknown: array[int]
    """Rows whose match depends on a key or value that could not be decoded."""
    reason: str | None = None
    """Why the first of them could not be decoded (e.g. the registry is unreachable)."""


DecisionsListener = Callable[[], None]
"""Called on the loop after the staged decisions changed (any decide, undo, commit, restore)."""


class Engine(Protocol):
    """One DLQ opened for triage, as the app sees it."""

    # -- what is open -------------------------------------------------------------------------

    @property
    def info(self) -> EngineInfo: ...

    @property
    def loading_done(self) -> bool:
        """The snapshot is read (in follow mode: the reader is at the end for now)."""
        ...

    @property
    def journal_offer(self) -> JournalOffer | None:
        """Decisions of a lost session to restore or discard, if any (until answered)."""
        ...

    @property
    def journal_note(self) -> str | None:
        """Why there is no journal, if there is none although one was wanted."""
        ...

    @property
    def journal_active(self) -> bool:
        """Staged decisions are journaled (quitting does not lose them)."""
        ...

    # -- lifecycle (on the loop) --------------------------------------------------------------

    async def open(self) -> None: ...

    def load(self, *, follow: bool = False) -> AsyncIterator[range]:
        """Read records; yields the rows of each batch once they are readable."""
        ...

    async def prefetch(self, rows: range) -> bool:
        """Fetch what decoding `rows` needs (schemas) off the loop; True if rows already shown
        decode differently now (repaint them)."""
        ...

    async def retry_schemas(self) -> bool:
        """Fetch again the schemas whose fetch failed (registry down, 5xx); True if rows shown
        decode differently now (repaint them)."""
        ...

    async def warm(self) -> None:
        """After loading: prepare what makes the first filter and the groups quick (in a thread)."""
        ...

    async def reopen(self) -> Engine:
        """A new engine on the same DLQ (new snapshot, fresh group offsets) that keeps the staged
        decisions still unresolved; this one is closed. If the new one cannot open, this one stays
        usable and the error is raised."""
        ...

    async def close(self) -> None: ...

    def restore_journal(self) -> RestoreResult: ...

    def discard_journal(self) -> None: ...

    # -- rows (reads: safe in threads) ---------------------------------------------------------

    def row_count(self) -> int: ...

    def visible_rows(self, rows: Iterable[int] | None = None) -> array[int]:
        """The rows (of `rows`, default all) shown by default: unresolved ones, or all with
        --from-beginning."""
        ...

    def is_visible(self, row: int) -> bool: ...

    def is_resolved(self, row: int) -> bool: ...

    def decision(self, row: int) -> Decision | None: ...

    def partition_at(self, row: int) -> int: ...

    def offset_at(self, row: int) -> int: ...

    def timestamp_at(self, row: int) -> int: ...

    def size_at(self, row: int) -> int:
        """Key plus value bytes of the row."""
        ...

    def decoded(self, row: int) -> DecodedRecord:
        """The row decoded for display (cached; never waits on the registry)."""
        ...

    def match(
        self, flt: Filter, rows: Iterable[int], *, cancelled: Callable[[], bool] | None = None
    ) -> array[int]:
        """The rows of `rows` that `flt` matches (a scan: call it from a thread)."""
        ...

    def match_with_unknown(
        self, flt: Filter, rows: Iterable[int], *, cancelled: Callable[[], bool] | None = None
    ) -> MatchResult:
        """As `match`, and the rows the filter could not judge (their key or value could not be
        decoded: registry down, poison) — neither matched nor excluded (a scan: from a thread)."""
        ...

    def is_tombstone(self, row: int) -> bool:
        """A null value: a deletion, not a failed record (hidden from triage unless shown)."""
        ...

    def hidden_tombstones(self) -> int:
        """Unresolved tombstones hidden from triage (the status line says how many)."""
        ...

    # -- decisions (on the loop) ----------------------------------------------------------------

    def decide(self, rows: Iterable[int], decision: Decision, *, allow_tombstones: bool = False) -> int:
        """Stage `decision` on the unresolved rows of `rows` (a few rows: bulk goes through
        `decide_many`); returns how many changed. Raises `DlqError` when it refuses all. A merge
        leaves tombstones out (with a notice) unless `allow_tombstones`: the engineer's explicit,
        separate confirmation."""
        ...

    def undo(self, rows: Iterable[int]) -> int: ...

    async def decide_many(
        self, rows: array[int], decision: Decision | None, *, allow_tombstones: bool = False
    ) -> DecideResult:
        """A bulk decision (`None`: undo) over any number of rows: checked in a thread, applied on
        the loop in slices so the screen keeps drawing."""
        ...

    def staged_counts(self) -> dict[Decision, int]: ...

    def has_writes(self) -> bool:
        """A commit would write something (a merge or purge is staged)."""
        ...

    def add_decisions_listener(self, listener: DecisionsListener) -> None: ...

    def remove_decisions_listener(self, listener: DecisionsListener) -> None: ...

    def take_notices(self) -> list[str]:
        """Notices since the last call (why some records were not decided, and the like)."""
        ...

    # -- failure groups -------------------------------------------------------------------------

    async def groups_async(self, rows: Iterable[int] | None = None) -> list[GroupSummary]:
        """The failure groups of `rows` (default: the rows shown), by count (computed in a thread)."""
        ...

    def group_rows(self, group_id: str, rows: Iterable[int] | None = None) -> array[int]:
        """The rows of `rows` (default: the rows shown) in failure group `group_id` (a read)."""
        ...

    # -- progress ---------------------------------------------------------------------------------

    def progress_stats(self) -> list[PartitionStats]: ...

    def unresolved_count(self) -> int: ...

    # -- commit -----------------------------------------------------------------------------------

    async def plan(self) -> CommitPlan:
        """What a commit would write (computed in a thread)."""
        ...

    async def commit(
        self,
        *,
        progress: ProgressHook | None = None,
        on_fenced: Callable[[str], None] | None = None,
        waiting: Callable[[str], None] | None = None,
        reason: str | None = None,
    ) -> CommitReport:
        """Commit the staged merges and purges; raises `DlqError` with the decisions kept.
        `waiting` hears "broker unreachable, retrying…" while a bounded wait goes on; `reason` goes
        into the audit records (with an audit topic)."""
        ...

    def request_stop(self) -> None:
        """Stop a running commit before its next transaction (complete ones stay committed, the
        rest stays staged; the report says `stopped`)."""
        ...

    async def canary(
        self, n: int, wait_seconds: float, *, on_committed: Callable[[CommitReport], None] | None = None
    ) -> CanaryOutcome:
        """Commit the first `n` staged merges in a transaction of their own, then watch the DLQ for
        `wait_seconds` for any of them coming back; the rest stays staged."""
        ...

    # -- edit then merge ------------------------------------------------------------------------

    def edit_text(self, row: int) -> str:
        """The row's value as an editor opens it (pretty JSON or text); `DlqError` if it cannot be
        edited."""
        ...

    def prepare_edit(self, row: int, text: str) -> Edited:
        """Re-encode edited `text` with the row's own format and schema (a thread: it may fetch the
        schema); `DlqError` for an invalid edit."""
        ...

    def stage_edit(self, row: int, edited: Edited) -> None:
        """Stage a merge of the edited record (same key, headers and timestamp)."""
        ...

    def edited(self, row: int) -> bool:
        """The row's staged merge carries an edited value."""
        ...
