"""The triage screen's keys: decide, select, move, filter, follow, reload, commit, quit, help.

`MainScreen` is `TriageScreen` (triage_screen.py: the parts and the data flow) plus the actions
bound to the keys of `tui.keys`.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.events import Key
from textual.widgets import Input

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import Engine
from dlq_tui.export import ExportResult, clipboard_text
from dlq_tui.kafka.connection import DlqError
from dlq_tui.plan import result_lines
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.filter import parse
from dlq_tui.tui import keys
from dlq_tui.tui.decider import Decider
from dlq_tui.tui.editing import diff_dialog, invalid_dialog, run_editor
from dlq_tui.tui.screens.dialogs import HelpScreen, quit_dialog, tombstone_dialog
from dlq_tui.tui.screens.export import ExportScreen
from dlq_tui.tui.screens.review import CommitOutcome, ReviewScreen
from dlq_tui.tui.screens.triage_screen import DETAIL_SIZES, TriageScreen
from dlq_tui.tui.widgets.filter_bar import FilterBar
from dlq_tui.tui.widgets.groups_table import GroupChosen, GroupDecision
from dlq_tui.tui.widgets.staged_bar import StagedBar

__all__ = ["MainScreen"]

WRITE_ACTIONS = frozenset(a.name for a in keys.ACTIONS if a.writes)
COPY_MAX_ROWS = 1_000
"""`y` copies at most this many records (a terminal's clipboard is no place for more)."""


class MainScreen(TriageScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        *keys.bindings(),
        Binding("escape", "escape", "Back", show=False),
    ]

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
        if self.decider.running:
            self.notify("a bulk decision is still running", severity="warning")
        return self.decider.running

    def _decide(self, decision: Decision | None, *, allow_tombstones: bool = False) -> None:
        """Stage `decision` (None: undo) on the selection, or on the cursor row and move on."""
        if self._busy():
            return
        rows, bulk = self.table.targets()
        if not rows:
            if decision is not None:
                self.notify("no record here", severity="warning")
            return
        if (
            decision is Decision.MERGE
            and not bulk
            and not allow_tombstones
            and self.engine.is_tombstone(rows[0])
        ):
            self.app.push_screen(tombstone_dialog(), lambda answer: self._tombstone_answered(answer))
            return
        done = self.decider.decide(self.engine, rows, decision, bulk=bulk, allow_tombstones=allow_tombstones)
        if done is None:
            what = "undoing" if decision is None else f"staging {decision.value}"
            self.say(f"{what} on {len(rows):,} selected records…")
        else:
            self._decided(done)

    def _tombstone_answered(self, answer: str | None) -> None:
        if answer == "merge":
            self._decide(Decision.MERGE, allow_tombstones=True)

    @on(Decider.Done)
    def _decided(self, done: Decider.Done) -> None:
        if done.engine is not self.engine:
            return
        self._show_notices()
        if done.error is not None:
            self.say("")
            self.notify(done.error, severity="error")
            return
        table, decision = self.table, done.decision
        if done.bulk:
            table.clear_selection()
            table.rows_changed()
            self.detail.refresh_state()
            what = "undone" if decision is None else f"{decision.value} staged"
            self.say(f"{what} on {done.changed:,} of {len(done.rows):,} {done.label}")
            self.refresh_status()
            return
        index = table.cursor
        table.rows_changed(index, index + 1)
        if decision is None:
            if not done.changed:
                self.say("nothing staged on this record")
            self.detail.refresh_state()
        elif self.engine.is_resolved(done.rows[0]):
            self.notify("this record is already resolved", severity="warning")
        elif not table.advance(index):
            self.detail.refresh_state()  # the cursor stays: show the new decision

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

    def action_escape(self) -> None:
        if self.filter_bar.is_open:
            self.filter_bar.close()
        elif self.focused not in (self.table, self.groups.table):
            self.focus_view()
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
        self.focus_view()

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
        if message.unknown:
            why = f" ({one_line(message.reason, 120)})" if message.reason else ""
            self.say(f"{message.unknown:,} undecodable records left out: the filter cannot judge them")
            self.notify(
                f"{message.unknown:,} records could not be decoded{why}: the filter cannot tell whether they "
                "match, so they are left out (a bulk decision does not touch them)",
                severity="warning",
                timeout=12,
            )
        if self.view == "groups":
            self.show_view("records")  # a filter shows records

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
        self.app.push_screen(ReviewScreen(self.engine, canary=self.host.canary), self._committed)

    def _committed(self, outcome: CommitOutcome | None) -> None:
        if outcome is None:
            return
        self.table.rederive()
        self.detail.refresh_state()
        self.groups.mark_stale(now=True)
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

    # -- failure groups -------------------------------------------------------------------------

    def action_groups(self) -> None:
        self.show_view("records" if self.view == "groups" else "groups")

    @on(GroupChosen)
    async def _group_chosen(self, message: GroupChosen) -> None:
        """Its records, as the filter `group:ID` (the filter bar shows it; `/` changes it)."""
        table = self.table
        rows, covered = table.all_rows()
        text = f"group:{message.group_id}"
        matches = await asyncio.to_thread(self.engine.group_rows, message.group_id, rows)
        table.apply_filter(text, parse(text), matches, covered)
        self.show_view("records")

    @on(GroupDecision)
    async def _group_decision(self, message: GroupDecision) -> None:
        """m/p/s on a group: the decision on all its unresolved records shown, as a bulk decision."""
        if self._busy():
            return
        rows, _covered = self.table.all_rows()
        engine = self.engine
        matches = await asyncio.to_thread(engine.group_rows, message.group_id, rows)
        if not matches:
            self.notify("no record of this group is shown", severity="warning")
            return
        done = self.decider.decide(
            engine, matches, message.decision, bulk=True, label=f"records of group {message.group_id}"
        )
        if done is None:
            self.say(
                f"staging {message.decision.value} on {len(matches):,} records of group {message.group_id}…"
            )
        else:
            self._decided(done)

    # -- edit then merge ------------------------------------------------------------------------

    def action_edit(self) -> None:
        row = self.table.cursor_row()
        if row is None:
            self.notify("no record here", severity="warning")
            return
        try:
            text = self.engine.edit_text(row)
        except DlqError as exc:
            self.notify(str(exc), severity="error")
            return
        self._edit(self.engine, row, text)

    @work(exclusive=True, group="edit", exit_on_error=False)
    async def _edit(self, engine: Engine, row: int, text: str) -> None:
        """Editor, re-encode, diff, stage — until the engineer stages the merge or gives up."""
        while True:
            changed = run_editor(self.app, text)
            if changed is None:
                self.notify("the editor failed; nothing is staged", severity="error")
                return
            if changed == text:
                self.say("no change: nothing is staged")
                return
            text = changed
            try:
                edited = await asyncio.to_thread(engine.prepare_edit, row, text)
            except DlqError as exc:
                if await self.app.push_screen_wait(invalid_dialog(str(exc))) == "edit":
                    continue
                return
            answer = await self.app.push_screen_wait(diff_dialog(edited))
            if answer == "edit":
                continue
            if answer == "merge" and engine is self.engine:
                try:
                    engine.stage_edit(row, edited)
                except DlqError as exc:
                    self.notify(str(exc), severity="error")
                    return
                self.table.rows_changed()
                self.detail.refresh_state()
                self.say(f"merge of the edited record staged ({edited.summary()})")
            return

    def action_copy(self) -> None:
        rows, _bulk = self.table.targets()
        if not rows:
            self.notify("no record here", severity="warning")
            return
        if len(rows) > COPY_MAX_ROWS:
            self.notify(
                f"{len(rows):,} records are too many for the clipboard: w exports them to a file",
                severity="warning",
            )
            return
        self.app.copy_to_clipboard(clipboard_text(self.engine, rows))
        self.say(
            f"copied {len(rows):,} record(s) as JSON to the clipboard (OSC 52: nothing arrived? your terminal "
            "does not allow it; in tmux: set -g set-clipboard on; w exports to a file)"
        )

    def action_export(self) -> None:
        table = self.table
        if table.selection:
            rows, what = table.selection.rows(), "the selection"
        else:
            rows = table.view.to_array()
            what = "the filter's matches" if table.flt is not None else "every row shown"
        if not rows:
            self.notify("nothing to export", severity="warning")
            return

        def done(result: ExportResult | None) -> None:
            if result is not None:
                self.say(f"exported {result.records:,} records to {one_line(str(result.path), 200)}")

        self.app.push_screen(ExportScreen(self.engine, rows, what), done)

    @on(FilterBar.HelpWanted)
    def _filter_help(self) -> None:
        self.action_help(tab="filters")

    def action_help(self, tab: str = "keys") -> None:
        host = self.host
        shown = {
            a.name: host.key_display(a.name)
            for a in keys.ACTIONS
            if self.check_action(a.name, ()) is not False
        }
        self.app.push_screen(HelpScreen(shown, self.unavailable(), tab=tab))
