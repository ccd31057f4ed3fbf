"""The triage screen's data flow: what it shows as the engine opens, loads and changes.

`TriageScreen` composes the parts — title bar, `TriageTable`, `DetailPane`, `FilterBar`,
`ProgressPane`, `StagedBar`, footer, and the `Loader` and `Decider` that own their workers — and
reacts to what they post: batches loaded, the engine reopened, the cursor moved, the status
changed (one coalescing `StatusDirty` message). What the keys do is `MainScreen`'s (main.py).

The screen reaches the engine through the `Engine` interface only; it has no Kafka logic.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import Engine
from dlq_tui.tui import keys
from dlq_tui.tui.decider import Decider
from dlq_tui.tui.loader import Loader, describe_error
from dlq_tui.tui.screens.dialogs import ErrorScreen, journal_offer_dialog
from dlq_tui.tui.widgets.detail import DetailPane
from dlq_tui.tui.widgets.filter_bar import FilterBar
from dlq_tui.tui.widgets.groups_panel import GroupsPanel
from dlq_tui.tui.widgets.progress import ProgressFigures, ProgressPane
from dlq_tui.tui.widgets.record_table import RecordTable
from dlq_tui.tui.widgets.staged_bar import StagedBar, TitleBar, TitleInfo
from dlq_tui.tui.widgets.triage_table import TriageTable

__all__ = ["DETAIL_SIZES", "StatusDirty", "TriageScreen"]

AUTO_COLLAPSE_HEIGHT = 18
DETAIL_SIZES = ("normal", "large", "hidden")
SCHEMA_RETRY_S = 10.0
"""How often schemas that failed to fetch are tried again."""
WRITE_ACTIONS = frozenset(a.name for a in keys.ACTIONS if a.writes)


@dataclass
class StatusDirty(Message):
    """Something the status shows changed; many in the queue are drawn once."""

    progress_now: bool = False

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusDirty) and not (message.progress_now and not self.progress_now)


class TriageScreen(Screen[None]):
    # Below 100 columns the footer leaves out the palette key (ctrl+p still opens the palette): it
    # docks on the right, over the keys that do not fit, and a stray letter showed behind it.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012 (Textual declares it so)
    DEFAULT_CSS = """
    TriageScreen.-narrow FooterKey.-command-palette { display: none; }
    """

    def __init__(self, engine: Engine, *, first_view: str = "records") -> None:
        super().__init__()
        self.view = first_view  # "groups" | "records"
        self.engine = engine
        self.state = "connecting"  # connecting | loading | loaded | following | failed
        self.loader = Loader(engine)
        self._detail_size = "normal"
        self._detail_auto = True
        self.decider = Decider()

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        with Vertical(id="main-body"):
            yield GroupsPanel(self.engine, id="groups")
            yield TriageTable(self.engine, id="records")
            yield DetailPane(self.engine, id="detail")
        yield FilterBar(self.engine, lambda: self.table.all_rows(), id="filter")
        yield ProgressPane(id="progress")
        yield StagedBar(id="staged")
        yield Footer(compact=True)
        yield self.loader
        yield self.decider

    @property
    def table(self) -> TriageTable:
        return self.query_one("#records", TriageTable)

    @property
    def groups(self) -> GroupsPanel:
        return self.query_one("#groups", GroupsPanel)

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
        self.engine.add_decisions_listener(self._decisions_changed)
        self.show_view(self.view)
        self.set_interval(SCHEMA_RETRY_S, self._retry_schemas)
        self.loader.start()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's unexpected error is shown (workers report expected failures
        as messages of their own)."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
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
        self.focus_view()
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

    def show_view(self, view: str) -> None:
        """The failure groups or the records (the detail pane goes with the records)."""
        self.view = view
        self.set_class(view == "groups", "-groups")
        # A hidden table must not take the focus (e.g. while the records table shows "loading").
        self.groups.table.can_focus = view == "groups"
        if view == "groups":
            self.groups.mark_stale(now=True)
        self.focus_view()
        self.refresh_status()

    def focus_view(self) -> None:
        (self.groups.table if self.view == "groups" else self.table).focus()

    def _decisions_changed(self) -> None:
        self.refresh_status()
        self.groups.mark_stale(now=True)

    def _adopt(self, engine: Engine) -> None:
        """Switch the screen over to a reopened engine (its rows are numbered anew)."""
        self.engine.remove_decisions_listener(self._decisions_changed)
        self.engine = self.host.engine = engine
        engine.add_decisions_listener(self._decisions_changed)
        self.filter_bar.reset(engine)
        self.detail.engine = engine
        self.table.adopt(engine)
        self.groups.adopt(engine)

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
            self.groups.mark_stale()

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
        self.groups.mark_stale(now=True)

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
            notes=tuple(n for n in (engine.info.start_note, self._tombstone_note()) if n),
        )

    @work(exclusive=True, group="schemas", exit_on_error=False)
    async def _retry_schemas(self) -> None:
        """The registry came back (or stopped failing): repaint what now decodes, without `r`."""
        engine = self.engine
        if self.loader.opened and await engine.retry_schemas() and engine is self.engine:
            self.table.rows_changed()
            self.detail.refresh_state()
            self.groups.mark_stale()

    def _tombstone_note(self) -> str | None:
        hidden = self.engine.hidden_tombstones()
        if not hidden:
            return None
        what = "tombstone (null value)" if hidden == 1 else "tombstones (null values)"
        return f"{hidden:,} {what} hidden: deletions, not failed records (--show-tombstones shows them)"

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

    def _show_notices(self) -> None:
        for notice in self.engine.take_notices():
            self.notify(one_line(notice, 300), severity="warning", timeout=10)

    def action_focus_detail(self) -> None:
        if self._detail_size == "hidden":
            self._detail_size = "normal"
            self._detail_auto = False
            self._apply_detail_size()
        self.detail.focus()

    def _apply_detail_size(self) -> None:
        for size in DETAIL_SIZES:
            self.detail.set_class(size == self._detail_size, f"-{size}")
