"""The triage screen: title bar, triage table, detail pane, filter bar, progress, staged bar, footer.

The parts own their state and their workers and post messages; the screen wires them together:

- `Loader` opens (or reopens, `r`) the engine and reads its records in batches;
- `TriageTable` owns the rows shown (all, or a filter's matches kept current), the selection and
  the search for the next open row;
- `FilterBar` parses, debounces and counts the filter being typed, and posts `Applied`/`Cleared`;
- `DetailPane` lays out the row under the cursor (big records in a thread);
- the status (title, staged bar, progress) is refreshed by one coalescing `StatusDirty` message.

The screen reaches the engine through the `Engine` interface only; it has no Kafka logic.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Key, Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import Engine
from dlq_tui.kafka.connection import DlqError
from dlq_tui.plan import result_lines
from dlq_tui.triage.decisions import Decision
from dlq_tui.tui import keys
from dlq_tui.tui.loader import Loader, describe_error
from dlq_tui.tui.screens.dialogs import ErrorScreen, HelpScreen, journal_offer_dialog, quit_dialog
from dlq_tui.tui.screens.review import CommitOutcome, ReviewScreen
from dlq_tui.tui.widgets.detail import DetailPane
from dlq_tui.tui.widgets.filter_bar import FilterBar
from dlq_tui.tui.widgets.progress import ProgressFigures, ProgressPane
from dlq_tui.tui.widgets.record_table import RecordTable
from dlq_tui.tui.widgets.staged_bar import StagedBar, TitleBar, TitleInfo
from dlq_tui.tui.widgets.triage_table import TriageTable

__all__ = ["MainScreen"]

AUTO_COLLAPSE_HEIGHT = 18
DETAIL_SIZES = ("normal", "large", "hidden")
BULK_ROWS = 100_000
"""Bulk decisions (and undo) over more rows than this run as a worker, in slices."""
WRITE_ACTIONS = frozenset(a.name for a in keys.ACTIONS if a.writes)


@dataclass
class StatusDirty(Message):
    """Something the status shows changed; many in the queue are drawn once."""

    progress_now: bool = False

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusDirty) and not (message.progress_now and not self.progress_now)


@dataclass
class Decided(Message):
    """A bulk decision (or undo, `decision` None) that ran as a worker is done."""

    engine: Engine
    decision: Decision | None
    changed: int
    total: int
    error: str | None


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *keys.bindings(),
        Binding("escape", "escape", "Back", show=False),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.state = "connecting"  # connecting | loading | loaded | following | failed
        self.loader = Loader(engine)
        self._detail_size = "normal"
        self._detail_auto = True
        self._deciding = False  # a bulk decision is running

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        with Vertical(id="main-body"):
            yield TriageTable(self.engine, id="records")
            yield DetailPane(self.engine, id="detail")
        yield FilterBar(self.engine, lambda: self.table.all_rows(), id="filter")
        yield ProgressPane(id="progress")
        yield StagedBar(id="staged")
        yield Footer(compact=True)
        yield self.loader

    @property
    def table(self) -> TriageTable:
        return self.query_one("#records", TriageTable)

    @property
    def detail(self) -> DetailPane:
        return self.query_one("#detail", DetailPane)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#filter", FilterBar)

    @property
    def host(self) -> keys.Host:
        assert isinstance(self.app, keys.Host)
        return self.app

    def on_mount(self) -> None:
        table = self.table
        table.empty_text = "connecting…"
        table.loading = True
        table.focus()
        self.detail.border_title = "detail · enter: scroll · x: hex · d: size"
        self.detail.show_message("connecting…")
        self._apply_detail_size()
        self.refresh_status(progress_now=True)
        self.engine.add_decisions_listener(self.refresh_status)
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
    def _opened(self, message: Loader.Opened) -> None:
        engine = message.engine
        reopened = engine is not self.engine
        if reopened:
            self._adopt(engine)
        self.state = "following" if self.loader.following else "loading"
        self.table.loading = False
        self.table.set_empty_text(loaded=False)
        self.detail.show_message("loading…")
        self._show_notices()
        if engine.journal_note:
            self.notify(one_line(engine.journal_note, 300), severity="warning", timeout=10)
        info = engine.info
        if not reopened and not info.destination and not info.read_only:
            self.notify(
                "merge is off: no DESTINATION topic given (dlq-tui SOURCE DESTINATION)", severity="warning"
            )
        offer = engine.journal_offer
        if offer is not None:
            self.app.push_screen(
                journal_offer_dialog(offer), lambda answer: self._journal_answered(engine, answer)
            )
        self.refresh_status(progress_now=True)

    def _adopt(self, engine: Engine) -> None:
        """Switch the screen over to a reopened engine (its rows are numbered anew)."""
        self.engine.remove_decisions_listener(self.refresh_status)
        self.engine = self.host.engine = engine
        engine.add_decisions_listener(self.refresh_status)
        self.filter_bar.reset(engine)
        self.detail.engine = engine
        self.table.adopt(engine)

    def _journal_answered(self, engine: Engine, answer: str | None) -> None:
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
        self.refresh_status(progress_now=True)

    @on(Loader.OpenFailed)
    def _open_failed(self, message: Loader.OpenFailed) -> None:
        self.state = "failed"
        self.table.loading = False
        info = self.engine.info
        title = f"Cannot open {one_line(info.source, 80)} (group {one_line(info.group, 60)})"
        self.app.push_screen(ErrorScreen(title, message.message))

    @on(Loader.ReopenFailed)
    def _reopen_failed(self, message: Loader.ReopenFailed) -> None:
        self.table.loading = False
        self.state = "loaded" if self.engine.loading_done else "loading"
        self.notify(
            f"reload failed: {one_line(message.message, 300)}. Still showing the previous snapshot; r: try again",
            severity="error",
            timeout=15,
        )
        self.loader.start()  # the rest of the old snapshot, if any; follow if on
        self.refresh_status(progress_now=True)

    @on(Loader.RowsLoaded)
    def _rows_loaded(self, message: Loader.RowsLoaded) -> None:
        if message.engine is self.engine:
            self.table.take_rows(message.rows.stop)
            if self.engine.loading_done:
                self._loaded_text()
            self.refresh_status()

    @on(Loader.SchemasFetched)
    def _schemas_fetched(self, message: Loader.SchemasFetched) -> None:
        if message.engine is self.engine:
            self.table.rows_changed()
            self.detail.refresh_state()

    @on(Loader.Finished)
    def _load_finished(self, message: Loader.Finished) -> None:
        if message.engine is not self.engine:
            return
        self.table.take_rows(self.engine.row_count())
        if message.error:
            self.state = "failed"
            self.loader.following = False
            self.notify(f"reading stopped: {one_line(message.error, 300)}", severity="error", timeout=15)
        else:
            self.state = "loaded"
        self._loaded_text()
        self.refresh_status(progress_now=True)

    def _loaded_text(self) -> None:
        """The snapshot is read: say what an empty table means (not "loading…")."""
        self.table.set_empty_text(loaded=True)
        if not len(self.table.view) and self.detail.row is None:
            self.detail.show_message("no record")

    # -- status ---------------------------------------------------------------------------------

    def refresh_status(self, *, progress_now: bool = False) -> None:
        self.post_message(StatusDirty(progress_now))

    def say(self, text: str) -> None:
        """Routine feedback, in the staged bar for a few seconds (warnings and errors: notify)."""
        self.query_one("#staged", StagedBar).say(text)

    @on(StatusDirty)
    def _draw_status(self, message: StatusDirty) -> None:
        engine, table = self.engine, self.table
        info = engine.info
        self.query_one("#title", TitleBar).show(
            TitleInfo(
                source=info.source,
                destination=info.destination,
                group=info.group,
                filter_text=table.filter_text,
                matches=len(table.view) if table.flt is not None else None,
                following=self.loader.following,
                read_only=info.read_only,
            )
        )
        self.query_one("#staged", StagedBar).show(
            engine.staged_counts(), len(table.selection), read_only=info.read_only
        )
        self.query_one("#progress", ProgressPane).request(self._progress_figures, now=message.progress_now)

    def _progress_figures(self) -> ProgressFigures:
        engine = self.engine
        state = self.state
        if state == "loading" and self.loader.following and engine.loading_done:
            state = "following"
        return ProgressFigures(
            stats=tuple(engine.progress_stats()) if self.loader.opened else (),
            state=state,
            loaded=engine.row_count(),
            unresolved=engine.unresolved_count(),
            decided=sum(engine.staged_counts().values()),
        )

    @on(TriageTable.Said)
    def _table_said(self, message: TriageTable.Said) -> None:
        self.say(message.text)

    @on(TriageTable.ViewChanged)
    def _view_changed(self) -> None:
        self.refresh_status()

    # -- the cursor and the detail ----------------------------------------------------------------

    @on(RecordTable.CursorMoved)
    def _cursor_moved(self, message: RecordTable.CursorMoved) -> None:
        view = self.table.view
        if message.index < len(view):
            self.detail.show_row(view.row_at(message.index))
        elif not len(view):
            self.detail.show_message("no record")

    @on(RecordTable.Activated)
    def _activated(self) -> None:
        self.action_focus_detail()

    def _apply_detail_size(self) -> None:
        for size in DETAIL_SIZES:
            self.detail.set_class(size == self._detail_size, f"-{size}")

    # -- what may be done -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        info = self.engine.info
        if action in WRITE_ACTIONS and info.read_only:
            return False
        if action == "merge" and not info.destination:
            return None  # shown disabled; the key says why (on_key)
        return True

    def unavailable(self) -> dict[str, str]:
        info = self.engine.info
        if info.read_only:
            return dict.fromkeys(WRITE_ACTIONS, "--read-only")
        return {} if info.destination else {"merge": "no DESTINATION topic given"}

    def on_key(self, event: Key) -> None:
        info = self.engine.info
        if info.destination or info.read_only or isinstance(self.focused, Input):
            return
        if event.key in self.host.keys_for("merge"):
            event.stop()
            self.notify(
                "merge is off: no DESTINATION topic was given (dlq-tui SOURCE DESTINATION)",
                severity="warning",
            )

    # -- decisions ------------------------------------------------------------------------------

    def _busy(self) -> bool:
        if self._deciding:
            self.notify("a bulk decision is still running", severity="warning")
        return self._deciding

    def _show_notices(self) -> None:
        for notice in self.engine.take_notices():
            self.notify(one_line(notice, 300), severity="warning", timeout=10)

    def _decide(self, decision: Decision | None) -> None:
        """Stage `decision` (None: undo) on the selection, or on the cursor row and move on."""
        if self._busy():
            return
        table = self.table
        rows, bulk = table.targets()
        if not rows:
            if decision is not None:
                self.notify("no record here", severity="warning")
            return
        if bulk and len(rows) > BULK_ROWS:
            self._deciding = True
            what = "undoing" if decision is None else f"staging {decision.value}"
            self.say(f"{what} on {len(rows):,} selected records…")
            self._decide_many(self.engine, rows, decision)
            return
        try:
            changed = self.engine.undo(rows) if decision is None else self.engine.decide(rows, decision)
        except DlqError as exc:
            self._show_notices()
            self.notify(str(exc), severity="error")
            return
        self._show_notices()
        if bulk:
            self._bulk_done(decision, changed, len(rows))
            return
        index = table.cursor
        table.rows_changed(index, index + 1)
        if decision is None:
            if not changed:
                self.say("nothing staged on this record")
            self.detail.refresh_state()
        elif self.engine.is_resolved(rows[0]):
            self.notify("this record is already resolved", severity="warning")
        elif not table.advance(index):
            self.detail.refresh_state()  # the cursor stays: show the new decision

    @work(exclusive=True, group="decide", exit_on_error=False)
    async def _decide_many(self, engine: Engine, rows: array[int], decision: Decision | None) -> None:
        """The engine checks the rows in a thread and applies them on the loop in slices."""
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
        self._bulk_done(message.decision, message.changed, message.total)

    def _bulk_done(self, decision: Decision | None, changed: int, total: int) -> None:
        self.table.clear_selection()
        self.table.rows_changed()
        self.detail.refresh_state()
        if decision is None:
            self.say(f"undone on {changed:,} records")
        else:
            self.say(f"{decision.value} staged on {changed:,} of {total:,} selected records")
        self.refresh_status()

    def action_merge(self) -> None:
        self._decide(Decision.MERGE)

    def action_purge(self) -> None:
        self._decide(Decision.PURGE)

    def action_skip(self) -> None:
        self._decide(Decision.SKIP)

    def action_undo(self) -> None:
        self._decide(None)

    # -- selection and navigation ---------------------------------------------------------------

    def action_toggle_select(self) -> None:
        refused = self.table.toggle_select()
        if refused:
            self.notify(refused, severity="warning")
        self.refresh_status()

    def action_select_all(self) -> None:
        added = self.table.select_all()
        what = "matching the filter" if self.table.flt is not None else "shown"
        self.say(f"selected {added:,} more records {what}")
        self.refresh_status()

    def action_clear_selection(self) -> None:
        if self.table.clear_selection():
            self.refresh_status()

    def action_next_match(self) -> None:
        self.table.jump(1)

    def action_previous_match(self) -> None:
        self.table.jump(-1)

    def action_top(self) -> None:
        self.table.cursor = 0

    def action_bottom(self) -> None:
        self.table.cursor = max(0, len(self.table.view) - 1)

    def action_focus_detail(self) -> None:
        if self._detail_size == "hidden":
            self._detail_size = "normal"
            self._detail_auto = False
            self._apply_detail_size()
        self.detail.focus()

    def action_escape(self) -> None:
        if self.filter_bar.is_open:
            self.filter_bar.close()
        elif self.focused is not self.table:
            self.table.focus()
        else:
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
        self.filter_bar.open(self.table.filter_text)

    @on(FilterBar.Closed)
    def _filter_closed(self) -> None:
        self.table.focus()

    @on(FilterBar.Pending)
    def _filter_pending(self) -> None:
        self.say("filtering…")

    @on(FilterBar.Cleared)
    def _filter_cleared(self) -> None:
        self.table.clear_filter(loaded=self.state != "loading")

    @on(FilterBar.Applied)
    def _filter_applied(self, message: FilterBar.Applied) -> None:
        if self.query_one("#staged", StagedBar).status == "filtering…":
            self.say("")
        self.table.apply_filter(message.text, message.flt, message.matches, message.covered)

    # -- follow, reload, commit, quit, help ---------------------------------------------------------

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
        self.refresh_status(progress_now=True)

    def action_reload(self) -> None:
        if not self.loader.opened or self._busy():
            return
        self.say("reloading: new snapshot, fresh group offsets; staged decisions are kept")
        self.state = "connecting"
        self.table.loading = True
        self.loader.reload()
        self.refresh_status(progress_now=True)

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
        self.table.rederive()
        self.detail.refresh_state()
        self.refresh_status(progress_now=True)
        if outcome.report is not None:
            self.say("committed: " + result_lines(outcome.report.result())[0][0])
        elif outcome.error:
            self.notify(
                f"commit failed; decisions kept: {one_line(outcome.error, 300)}", severity="error", timeout=15
            )

    def action_quit(self) -> None:
        if not self.engine.has_writes():
            self.host.request_exit(0)
            return

        def answered(answer: str | None) -> None:
            if answer == "quit":
                self.host.request_exit(0)
            elif answer == "commit":
                self.action_commit()

        self.app.push_screen(quit_dialog(self.engine.staged_counts(), self.engine.journal_active), answered)

    def action_help(self) -> None:
        host = self.host
        shown = {
            a.name: host.key_display(a.name)
            for a in keys.ACTIONS
            if self.check_action(a.name, ()) is not False
        }
        self.app.push_screen(HelpScreen(shown, self.unavailable()))
