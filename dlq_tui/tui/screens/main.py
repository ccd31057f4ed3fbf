"""The triage screen: title bar, record table, detail pane, filter bar, progress, staged bar, footer.

Long work runs in workers of named exclusive groups and posts messages back:

- ``load``: open the session (or reopen it for `r`), then read the snapshot (and follow) in
  batches; each batch's schemas are fetched off the UI thread before its rows are shown.
- ``filter-count``: the live match count while the filter is typed (thread; cancelled by the
  next keystroke). ``filter-more``: matches among rows loaded after the filter was applied.
- the detail pane's ``detail`` group lays out big records in a thread; the review screen's
  ``commit`` group runs the transaction.

The screen talks to the `Engine` only; it has no Kafka logic of its own.
"""

from __future__ import annotations

import time
from array import array
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Key, Resize
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState, get_current_worker

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import Engine
from dlq_tui.kafka.connection import DlqError
from dlq_tui.plan import result_lines
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.filter import Filter
from dlq_tui.tui import keys
from dlq_tui.tui.loader import Loader, describe_error
from dlq_tui.tui.rows import Selection, ViewRows
from dlq_tui.tui.screens.dialogs import ChoiceScreen, ErrorScreen, HelpScreen
from dlq_tui.tui.screens.review import CommitOutcome, ReviewScreen
from dlq_tui.tui.widgets.detail import DetailPane
from dlq_tui.tui.widgets.filter_bar import FilterBar
from dlq_tui.tui.widgets.progress import ProgressPane
from dlq_tui.tui.widgets.record_table import RecordTable
from dlq_tui.tui.widgets.staged_bar import StagedBar, TitleBar, TitleInfo

if TYPE_CHECKING:
    from dlq_tui.tui.app import DlqApp

__all__ = ["MainScreen"]

PROGRESS_INTERVAL_S = 0.25
AUTO_COLLAPSE_HEIGHT = 18
DETAIL_SIZES = ("normal", "large", "hidden")
STATUS_S = 6.0
"""Routine feedback stays this long in the staged bar's status (toasts would cover the table)."""
SCAN_ROWS = 5_000
"""n/N and the advance after m/p/s look this many rows on the UI thread, then in a worker."""
THREAD_DECIDE_ROWS = 100_000
"""Bulk decisions (and undo) over more rows than this run in a thread worker."""
WRITE_ACTIONS = frozenset(a.name for a in keys.ACTIONS if a.writes)


class MoreMatched(Message):
    def __init__(self, generation: int, matches: array[int], covered: int) -> None:
        super().__init__()
        self.generation, self.matches, self.covered = generation, matches, covered


class SeekDone(Message):
    """A worker's search for the next open row (`found` None: there is none)."""

    def __init__(self, token: int, view: object, origin: int, found: int | None, message: str) -> None:
        super().__init__()
        self.token, self.view, self.origin, self.found, self.message = token, view, origin, found, message


class Decided(Message):
    """A bulk decision (or undo, `decision` None) that ran in a worker is done."""

    def __init__(
        self, engine: Engine, decision: Decision | None, changed: int, total: int, error: str | None
    ) -> None:
        super().__init__()
        self.engine, self.decision, self.changed, self.total, self.error = (
            engine,
            decision,
            changed,
            total,
            error,
        )


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *keys.bindings(),
        Binding("escape", "escape", "Back", show=False),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.selection = Selection()
        self._all = ViewRows(engine, self.selection)
        self._view = self._all
        self.state = "connecting"  # connecting | loading | loaded | following | failed
        self.loader = Loader(engine)
        # filter: applied, and being typed
        self.filter_text = ""
        self._flt: Filter | None = None
        self._filter_gen = 0
        self._covered = 0  # the applied filter has looked at the rows below this store row
        self._loaded_upto = 0  # store rows below this one are in the views
        self._more_running = False
        # layout
        self._detail_size = "normal"
        self._detail_auto = True
        # throttled repaint of the progress pane
        self._progress_timer: Timer | None = None
        self._progress_at = 0.0
        # the staged bar's status line
        self._status = ""
        self._status_timer: Timer | None = None
        # a search for the next open row running in a worker (its token), a bulk decision running
        self._seek_token = 0
        self._deciding = False

    # -- composition ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        with Vertical(id="main-body"):
            yield RecordTable(self._all, id="records")
            yield DetailPane(self.engine, id="detail")
        yield FilterBar(self.engine, self._rows_now, id="filter")
        yield ProgressPane(id="progress")
        yield StagedBar(id="staged")
        yield Footer(compact=True)
        yield self.loader

    @property
    def table(self) -> RecordTable:
        return self.query_one("#records", RecordTable)

    @property
    def detail(self) -> DetailPane:
        return self.query_one("#detail", DetailPane)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#filter", FilterBar)

    @property
    def dlq_app(self) -> DlqApp:
        from dlq_tui.tui.app import DlqApp

        assert isinstance(self.app, DlqApp)
        return self.app

    def on_mount(self) -> None:
        table = self.table
        table.empty_text = "connecting…"
        table.loading = True
        table.focus()
        self.detail.border_title = "detail · enter: scroll · x: hex · d: size"
        self.detail.show_message("connecting…")
        self._apply_detail_size()
        self._update_title()
        self._update_status(progress_now=True)
        self.engine.add_decisions_listener(self._on_buffer_change)
        self.loader.start()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's unexpected error is shown (workers report expected failures
        as messages of their own)."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._deciding = False
            self.notify(
                f"unexpected error: {describe_error(event.worker.error)}", severity="error", timeout=15
            )

    def on_resize(self, event: Resize) -> None:
        if self._detail_auto:
            size = "hidden" if event.size.height < AUTO_COLLAPSE_HEIGHT else "normal"
            if size != self._detail_size:
                self._detail_size = size
                self._apply_detail_size()

    # -- loading --------------------------------------------------------------------------------

    @on(Loader.Opened)
    def _opened_session(self, message: Loader.Opened) -> None:
        engine = message.engine
        reopened = engine is not self.engine
        if reopened:
            self._adopt(engine)
        self.state = "following" if self.loader.following else "loading"
        table = self.table
        table.loading = False
        table.empty_text = "loading…"
        self.detail.show_message("loading…")
        for notice in engine.take_notices():
            self.notify(one_line(notice, 300), severity="warning")
        if engine.journal_note:
            self.notify(one_line(engine.journal_note, 300), severity="warning", timeout=10)
        cfg = engine.info
        if not reopened and not cfg.destination and not cfg.read_only:
            self.notify(
                "merge is off: no DESTINATION topic given (dlq-tui SOURCE DESTINATION)", severity="warning"
            )
        if engine.journal_offer:
            self._offer_journal(engine)
        self._update_title()
        self._update_status(progress_now=True)

    def _adopt(self, engine: Engine) -> None:
        """Switch the screen over to a reopened engine (its rows are numbered anew)."""
        self.engine.remove_decisions_listener(self._on_buffer_change)
        self.engine = engine
        self.dlq_app.engine = engine
        engine.add_decisions_listener(self._on_buffer_change)
        self.selection = Selection()
        self._all = ViewRows(engine, self.selection)
        self._view = self._all
        self._loaded_upto = 0
        self.filter_bar.reset(engine)
        if self._flt is not None:
            self._filter_gen += 1
            self._view = ViewRows(engine, self.selection)
            self._covered = 0
        self.detail.engine = engine
        self.table.set_source(self._view, cursor=0)

    def _offer_journal(self, engine: Engine) -> None:
        offer = engine.journal_offer
        assert offer is not None
        body = (
            f"A dlq-tui session on this DLQ that ended without committing staged {offer.total:,} decisions "
            f"({offer.merges:,} merge, {offer.purges:,} purge, {offer.skips:,} skip; those resolved since "
            "are left out).\nRestore them into the staged buffer, or discard them?"
        )

        def answered(answer: str | None) -> None:
            if engine is not self.engine:
                return
            if answer == "restore":
                result = engine.restore_journal()
                note = f"restored {result.restored:,} staged decisions"
                if result.dropped_as_resolved:
                    note += f" ({result.dropped_as_resolved:,} left out: resolved meanwhile)"
                self.say(note)
                self.table.rows_changed()
                self.detail.refresh_state()
            elif answer == "discard":
                engine.discard_journal()
                self.say("discarded the journaled decisions")
            self._update_status(progress_now=True)

        self.app.push_screen(
            ChoiceScreen(
                "Restore staged decisions?",
                body,
                [("r", "restore", "restore"), ("d", "discard", "discard")],
                cancel=None,  # the journal records nothing new until this is answered
            ),
            answered,
        )

    @on(Loader.OpenFailed)
    def _open_failed(self, message: Loader.OpenFailed) -> None:
        self.state = "failed"
        self.table.loading = False
        cfg = self.engine.info
        self.app.push_screen(
            ErrorScreen(
                f"Cannot open {one_line(cfg.source, 80)} (group {one_line(cfg.group, 60)})", message.message
            )
        )

    @on(Loader.ReopenFailed)
    def _reopen_failed(self, message: Loader.ReopenFailed) -> None:
        self.table.loading = False
        self.state = "loaded" if self.engine.loading_done else "loading"
        self.notify(
            f"reload failed: {one_line(message.message, 300)}. Still showing the previous snapshot; "
            "r: try again",
            severity="error",
            timeout=15,
        )
        self.loader.start()  # the rest of the old snapshot, if any; follow if on
        self._update_status(progress_now=True)

    @on(Loader.RowsLoaded)
    def _rows_loaded(self, message: Loader.RowsLoaded) -> None:
        if message.engine is self.engine:
            self._take_rows(message.rows.stop)
            if self.engine.loading_done:
                self._set_empty_text()
            self._update_status()

    @on(Loader.SchemasFetched)
    def _schemas_fetched(self, message: Loader.SchemasFetched) -> None:
        """The engine cleared its decode cache: repaint the rows and the detail."""
        if message.engine is self.engine:
            self.table.rows_changed()
            self.detail.refresh_state()

    def _take_rows(self, stop: int) -> None:
        """Show the store rows loaded up to `stop`, from where the views end (a batch whose message
        was lost to a cancelled loader is taken in with the next one)."""
        if stop <= self._loaded_upto:
            return
        engine = self.engine
        rows = range(self._loaded_upto, stop)
        current = self._cursor_row()
        first = self._all.extend(engine.visible_rows(rows))
        self._loaded_upto = stop
        if self._view is self._all:
            self._view_grew(first, current)
        elif self._flt is not None:
            self._match_more()

    def _view_grew(self, first: int | None, current: int | None) -> None:
        """Rows were added to the shown view from index `first` on; keep the cursor on its row."""
        if first is None:
            return
        table = self.table
        table.rows_changed(first, None)
        if current is not None:
            index = self._view.index_of(current)
            if index is not None and index != table.cursor:
                table.cursor = index

    @on(Loader.Finished)
    def _load_finished(self, message: Loader.Finished) -> None:
        if message.engine is not self.engine:
            return
        self._take_rows(self.engine.row_count())
        if message.error:
            self.state = "failed"
            self.loader.following = False
            self.notify(f"reading stopped: {one_line(message.error, 300)}", severity="error", timeout=15)
        else:
            self.state = "loaded"
        self._set_empty_text()
        self._update_title()
        self._update_status(progress_now=True)

    def _set_empty_text(self) -> None:
        """The snapshot is read: say what an empty table means (not "loading…")."""
        cfg = self.engine.info
        what = "records" if cfg.from_beginning else "unresolved records"
        self.table.empty_text = (
            f"no {what} in {one_line(cfg.source, 60)} for group {one_line(cfg.group, 40)}"
            if self._view is self._all
            else "no record matches the filter (/: change it; an empty filter clears it)"
        )
        if not len(self._view) and self.detail.row is None:
            self.detail.show_message("no record")

    # -- status ---------------------------------------------------------------------------------

    def _on_buffer_change(self) -> None:
        self.call_after_refresh(self._update_status)

    def _update_title(self) -> None:
        cfg = self.engine.info
        self.query_one("#title", TitleBar).show(
            TitleInfo(
                source=cfg.source,
                destination=cfg.destination,
                group=cfg.group,
                filter_text=self.filter_text,
                matches=len(self._view) if self._flt is not None else None,
                following=self.loader.following,
                read_only=cfg.read_only,
            )
        )

    def say(self, text: str) -> None:
        """Routine feedback, in the staged bar for `STATUS_S` (warnings and errors: notify)."""
        self._status = text
        if self._status_timer is not None:
            self._status_timer.stop()
        self._status_timer = self.set_timer(STATUS_S, self._clear_status) if text else None
        self._update_status()

    def _clear_status(self) -> None:
        self._status_timer = None
        self._status = ""
        self._update_status()

    def _update_status(self, *, progress_now: bool = False) -> None:
        engine = self.engine
        self.query_one("#staged", StagedBar).show(
            engine.staged_counts(),
            len(self.selection),
            read_only=engine.info.read_only,
            status=self._status,
        )
        now = time.monotonic()
        if progress_now or now - self._progress_at >= PROGRESS_INTERVAL_S:
            self._flush_progress()
        elif self._progress_timer is None:
            self._progress_timer = self.set_timer(PROGRESS_INTERVAL_S, self._flush_progress)

    def _flush_progress(self) -> None:
        if self._progress_timer is not None:
            self._progress_timer.stop()
            self._progress_timer = None
        self._progress_at = time.monotonic()
        engine = self.engine
        stats = engine.progress_stats() if self.loader.opened else []
        state = self.state
        if state == "loading" and self.loader.following and engine.loading_done:
            state = "following"
        self.query_one("#progress", ProgressPane).show(
            stats,
            state=state,
            loaded=engine.row_count(),
            unresolved=engine.unresolved_count(),
            decided=sum(engine.staged_counts().values()),
        )

    # -- the cursor and the detail ----------------------------------------------------------------

    def _cursor_index(self) -> int | None:
        return self.table.cursor if len(self._view) else None

    def _cursor_row(self) -> int | None:
        index = self._cursor_index()
        return None if index is None else self._view.row_at(index)

    @on(RecordTable.CursorMoved)
    def _cursor_moved(self, message: RecordTable.CursorMoved) -> None:
        if message.index < len(self._view):
            self.detail.show_row(self._view.row_at(message.index))

    @on(RecordTable.Activated)
    def _activated(self, _message: RecordTable.Activated) -> None:
        self.action_focus_detail()

    def _apply_detail_size(self) -> None:
        detail = self.detail
        for size in DETAIL_SIZES:
            detail.set_class(size == self._detail_size, f"-{size}")

    # -- decisions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        cfg = self.engine.info
        if action in WRITE_ACTIONS and cfg.read_only:
            return False
        if action == "merge" and not cfg.destination:
            return None  # shown disabled; the key says why (on_key)
        return True

    def unavailable(self) -> dict[str, str]:
        cfg = self.engine.info
        out: dict[str, str] = {}
        if cfg.read_only:
            out.update(dict.fromkeys(WRITE_ACTIONS, "--read-only"))
        elif not cfg.destination:
            out["merge"] = "no DESTINATION topic given"
        return out

    def on_key(self, event: Key) -> None:
        cfg = self.engine.info
        if cfg.destination or cfg.read_only or isinstance(self.focused, Input):
            return
        if event.key in self.dlq_app.keys_for("merge"):
            event.stop()
            self.notify(
                "merge is off: no DESTINATION topic was given (dlq-tui SOURCE DESTINATION)",
                severity="warning",
            )

    def _targets(self) -> tuple[array[int], bool]:
        """The selection if there is one (bulk), else the cursor row."""
        if self.selection:
            return self.selection.rows(), True
        row = self._cursor_row()
        return (array("i") if row is None else array("i", [row])), False

    def _decide(self, decision: Decision) -> None:
        if self._busy():
            return
        rows, bulk = self._targets()
        if not rows:
            self.notify("no record here", severity="warning")
            return
        if bulk and len(rows) > THREAD_DECIDE_ROWS:
            self._deciding = True
            self.say(f"staging {decision.value} on {len(rows):,} selected records…")
            self._decide_many(self.engine, rows, decision)
            return
        try:
            changed = self.engine.decide(rows, decision)
        except DlqError as exc:
            self._show_notices()
            self.notify(str(exc), severity="error")
            return
        self._show_notices()
        if bulk:
            self._bulk_done(decision, changed, len(rows))
            return
        index = self.table.cursor
        if self.engine.is_resolved(rows[0]):
            self.notify("this record is already resolved", severity="warning")
            return
        self.table.rows_changed(index, index + 1)
        if not self._advance(index):
            self.detail.refresh_state()  # the cursor stays: show the new decision
        self._update_status()

    def _busy(self) -> bool:
        if self._deciding:
            self.notify("a bulk decision is still running", severity="warning")
        return self._deciding

    def _show_notices(self) -> None:
        for notice in self.engine.take_notices():
            self.notify(one_line(notice, 300), severity="warning", timeout=10)

    @work(exclusive=True, group="decide", exit_on_error=False)
    async def _decide_many(self, engine: Engine, rows: array[int], decision: Decision | None) -> None:
        """A bulk decision over many rows: the engine checks them in a thread and applies them on
        the loop in slices (the screen keeps drawing)."""
        try:
            result = await engine.decide_many(rows, decision)
        except DlqError as exc:
            self.post_message(Decided(engine, decision, 0, len(rows), str(exc)))
        else:
            self.post_message(Decided(engine, decision, result.changed, len(rows), None))

    @on(Decided)
    def _decided(self, message: Decided) -> None:
        self._deciding = False
        if message.engine is not self.engine:
            return
        self._show_notices()
        if message.error is not None:
            self.say("")
            self.notify(message.error, severity="error")
            return
        if message.decision is None:
            self._undo_done(message.changed)
        else:
            self._bulk_done(message.decision, message.changed, message.total)

    def _bulk_done(self, decision: Decision, changed: int, total: int) -> None:
        self.selection.clear()
        self.table.rows_changed()
        self.detail.refresh_state()
        self.say(f"{decision.value} staged on {changed:,} of {total:,} selected records")

    def _undo_done(self, changed: int) -> None:
        self.selection.clear()
        self.table.rows_changed()
        self.detail.refresh_state()
        self.say(f"undone on {changed:,} records")

    def _advance(self, index: int) -> bool:
        """After a decision: the cursor to the next open row (wrapping to the top); returns whether
        it moved now. A search past `SCAN_ROWS` rows goes on in a worker."""
        self._seek_token += 1
        view = self._view
        found, resume = view.scan_open(index, 1, SCAN_ROWS)
        if found is None and resume is None:
            found, resume = view.scan_open(-1, 1, SCAN_ROWS, stop=index)
            if found is None and resume is None:
                self.say("every record shown is decided: c to review and commit")
                return False
            if resume is not None:
                self._seek(self._seek_token, view, resume, 1, index, None, "every record shown is decided")
                return False
        elif found is None:
            assert resume is not None
            self._seek(self._seek_token, view, resume, 1, index, index, "every record shown is decided")
            return False
        assert found is not None
        self.table.cursor = found
        return found != index

    @work(thread=True, exclusive=True, group="seek")
    def _seek(
        self, token: int, view: ViewRows, start: int, step: int, origin: int, wrap: int | None, none_msg: str
    ) -> None:
        """The rest of a search for the next open row (off the UI thread); `wrap`: then search from
        the top up to that index."""
        worker = get_current_worker()
        found = None
        try:
            found = view.find_open(start, step, cancelled=lambda: worker.is_cancelled)
            if found is None and wrap is not None and not worker.is_cancelled:
                found = view.find_open(0, 1, stop=wrap, cancelled=lambda: worker.is_cancelled)
        except IndexError:  # the view changed under the search (a commit): give up quietly
            return
        if not worker.is_cancelled:
            self.post_message(SeekDone(token, view, origin, found, none_msg))

    @on(SeekDone)
    def _seek_done(self, message: SeekDone) -> None:
        if message.token != self._seek_token or message.view is not self._view:
            return  # a newer search, or another view
        if self.table.cursor != message.origin:
            return  # the engineer moved on meanwhile
        if message.found is None:
            self.say(message.message)
            return
        self.table.cursor = message.found

    def action_merge(self) -> None:
        self._decide(Decision.MERGE)

    def action_purge(self) -> None:
        self._decide(Decision.PURGE)

    def action_skip(self) -> None:
        self._decide(Decision.SKIP)

    def action_undo(self) -> None:
        if self._busy():
            return
        rows, bulk = self._targets()
        if not rows:
            return
        if bulk and len(rows) > THREAD_DECIDE_ROWS:
            self._deciding = True
            self.say(f"undoing on {len(rows):,} selected records…")
            self._decide_many(self.engine, rows, None)
            return
        changed = self.engine.undo(rows)
        if bulk:
            self._undo_done(changed)
        else:
            if not changed:
                self.say("nothing staged on this record")
            index = self.table.cursor
            self.table.rows_changed(index, index + 1)
            self.detail.refresh_state()
        self._update_status()

    # -- selection ------------------------------------------------------------------------------

    def action_toggle_select(self) -> None:
        index = self._cursor_index()
        if index is None:
            return
        row = self._view.row_at(index)
        if self.engine.is_resolved(row) and row not in self.selection:
            self.notify("resolved records cannot be selected", severity="warning")
            return
        self.selection.toggle(row)
        self.table.rows_changed(index, index + 1)
        self.table.cursor = index + 1
        self._update_status()

    def action_select_all(self) -> None:
        engine = self.engine
        added = self.selection.add_all(r for r in self._view if not engine.is_resolved(r))
        self.table.rows_changed()
        what = "matching the filter" if self._flt is not None else "shown"
        self.say(f"selected {added:,} more records {what}")

    def action_clear_selection(self) -> None:
        if not self.selection:
            return
        self.selection.clear()
        self.table.rows_changed()
        self._update_status()

    # -- navigation -----------------------------------------------------------------------------

    def action_next_match(self) -> None:
        self._jump(1)

    def action_previous_match(self) -> None:
        self._jump(-1)

    def _jump(self, step: int) -> None:
        index = self._cursor_index()
        if index is None:
            return
        self._seek_token += 1
        where = "below" if step > 0 else "above"
        found, resume = self._view.scan_open(index, step, SCAN_ROWS)
        if found is not None:
            self.table.cursor = found
        elif resume is not None:
            self.say(f"searching {where}…")
            self._seek(
                self._seek_token, self._view, resume, step, index, None, f"no undecided record {where}"
            )
        else:
            self.say(f"no undecided record {where}")

    def action_top(self) -> None:
        self.table.cursor = 0

    def action_bottom(self) -> None:
        self.table.cursor = max(0, len(self._view) - 1)

    def action_focus_detail(self) -> None:
        if self._detail_size == "hidden":
            self._detail_size = "normal"
            self._detail_auto = False
            self._apply_detail_size()
        self.detail.focus()

    def action_escape(self) -> None:
        bar = self.filter_bar
        if bar.is_open:
            bar.close()
        elif self.focused is not self.table:
            self.table.focus()
        elif self.selection:
            self.action_clear_selection()

    def action_hex(self) -> None:
        self.detail.toggle_hex()

    def action_detail_size(self) -> None:
        i = DETAIL_SIZES.index(self._detail_size)
        self._detail_size = DETAIL_SIZES[(i + 1) % len(DETAIL_SIZES)]
        self._detail_auto = False
        self._apply_detail_size()
        if self._detail_size == "hidden" and self.focused is self.detail:
            self.table.focus()

    # -- filter ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.filter_bar.open(self.filter_text)

    def _rows_now(self) -> tuple[array[int], int]:
        return self._all.to_array(), self._loaded_upto

    @on(FilterBar.Closed)
    def _filter_closed(self) -> None:
        self.table.focus()

    @on(FilterBar.Pending)
    def _filter_pending(self) -> None:
        self.say("filtering…")

    @on(FilterBar.Cleared)
    def _filter_cleared(self) -> None:
        self._clear_filter()

    @on(FilterBar.Applied)
    def _apply_filter(self, counted: FilterBar.Applied) -> None:
        current = self._cursor_row()
        if self._status == "filtering…":
            self.say("")
        self._drop_selection("the filter changed")
        self.filter_text = counted.text
        self._flt = counted.flt
        self._filter_gen += 1
        self._view = ViewRows(self.engine, self.selection, counted.matches)
        self._covered = counted.covered
        self.table.empty_text = "no record matches the filter (/: change it; an empty filter clears it)"
        cursor = 0 if current is None else self._view.index_at_or_after(current)
        self.table.set_source(self._view, cursor=cursor)
        if not len(self._view):
            self.detail.show_message("no record matches the filter")
        self._match_more()
        self._update_title()

    def _drop_selection(self, why: str) -> None:
        """Bulk actions act on the selection: it never holds rows the table does not show."""
        if not self.selection:
            return
        n = len(self.selection)
        self.selection.clear()
        self.say(f"selection of {n:,} cleared: {why} (a: select all matching)")

    def _clear_filter(self) -> None:
        if self._flt is None:
            return
        current = self._cursor_row()
        self.filter_text = ""
        self._flt = None
        self._filter_gen += 1
        self._view = self._all
        cfg = self.engine.info
        what = "records" if cfg.from_beginning else "unresolved records"
        self.table.empty_text = f"no {what}" if self.state != "loading" else "loading…"
        cursor = 0 if current is None else self._all.index_at_or_after(current)
        self.table.set_source(self._all, cursor=cursor)
        self._update_title()

    def _match_more(self) -> None:
        """Run the applied filter over rows loaded since it last looked (one worker at a time)."""
        if self._more_running or self._flt is None or self._covered >= self._loaded_upto:
            return
        self._more_running = True
        rows = self.engine.visible_rows(range(self._covered, self._loaded_upto))
        self._match_rows(self._filter_gen, self._flt, rows, self._loaded_upto)

    @work(thread=True, group="filter-more")
    def _match_rows(self, generation: int, flt: Filter, rows: array[int], covered: int) -> None:
        self.post_message(MoreMatched(generation, self.engine.match(flt, rows), covered))

    @on(MoreMatched)
    def _more_matched(self, message: MoreMatched) -> None:
        self._more_running = False
        if message.generation != self._filter_gen:
            self._match_more()
            return
        self._covered = message.covered
        if len(message.matches):
            current = self._cursor_row()
            self._view_grew(self._view.extend(message.matches), current)
            self._update_title()
        self._match_more()

    # -- follow, reload -------------------------------------------------------------------------

    def action_follow(self) -> None:
        if not self.loader.opened:
            return
        self.loader.following = not self.loader.following
        if self.loader.following:
            self.say("following: new records are added as they arrive")
            if self.state in ("loaded", "failed"):
                self.state = "loading"
                self.loader.start()
        else:
            self.say("stopped following")
            if self.state == "following":
                self.state = "loaded"
        self._update_title()
        self._update_status(progress_now=True)

    def action_reload(self) -> None:
        if not self.loader.opened:
            return
        if self._busy():
            return
        self.say("reloading: new snapshot, fresh group offsets; staged decisions are kept")
        self.state = "connecting"
        self.table.loading = True
        self.loader.reload()
        self._update_status(progress_now=True)

    # -- commit and quit --------------------------------------------------------------------------

    def action_commit(self) -> None:
        if self._busy():
            return
        if not self.engine.has_writes():
            self.say("nothing to commit: stage merge or purge first (skip is never committed)")
            return
        self.app.push_screen(ReviewScreen(self.engine), self._committed)

    def _committed(self, outcome: CommitOutcome | None) -> None:
        if outcome is None:
            return
        self._rederive()
        if outcome.report is not None:
            self.say("committed: " + result_lines(outcome.report.result())[0][0])
        elif outcome.error:
            self.notify(
                f"commit failed; decisions kept: {one_line(outcome.error, 300)}", severity="error", timeout=15
            )

    def _rederive(self) -> None:
        """After a commit: committed rows leave the views (or show as resolved with
        --from-beginning)."""
        engine = self.engine
        current = self._cursor_row()
        self._all.keep(engine.is_visible)
        if self._view is not self._all:
            self._view.keep(engine.is_visible)
        self.selection.discard_all([r for r in self.selection.rows() if engine.is_resolved(r)])
        cursor = 0 if current is None else self._view.index_at_or_after(current)
        self.table.set_source(self._view, cursor=cursor)
        if not len(self._view):
            self.detail.show_message("no record")
        else:
            self.detail.show_row(self._view.row_at(self.table.cursor), force=True)
        self._update_title()
        self._update_status(progress_now=True)

    def action_quit(self) -> None:
        if not self.engine.has_writes():
            self.dlq_app.request_exit(0)
            return
        counts = self.engine.staged_counts()
        kept = (
            "They stay in the local journal, and reopening this DLQ offers to restore them."
            if self.engine.journal_active
            else "There is no journal for this session: they will be lost."
        )
        body = (
            f"{counts[Decision.MERGE]:,} merge and {counts[Decision.PURGE]:,} purge are staged and not "
            f"committed. {kept}"
        )

        def answered(answer: str | None) -> None:
            if answer == "quit":
                self.dlq_app.request_exit(0)
            elif answer == "commit":
                self.action_commit()

        self.app.push_screen(
            ChoiceScreen(
                "Quit without committing?",
                body,
                [("q", "quit", "quit"), ("c", "review and commit", "commit")],
                cancel="stay",
            ),
            answered,
        )

    def action_help(self) -> None:
        app = self.dlq_app
        shown = {
            a.name: app.key_display(a.name)
            for a in keys.ACTIONS
            if self.check_action(a.name, ()) is not False
        }
        self.app.push_screen(HelpScreen(shown, self.unavailable()))
