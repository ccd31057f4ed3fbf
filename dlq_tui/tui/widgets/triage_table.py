"""The triage table: the record table over the engine's rows, owning what it shows — all loaded
rows or a filter's matches (kept current as rows load), the bulk selection, and the search for
the next open (unresolved, undecided) row, which goes on in a worker past `SCAN_ROWS`.

It tells the screen what changed with messages: `Said` (routine feedback for the status line) and
`ViewChanged` (the shown rows or the filter changed: title and counts).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from textual import on, work
from textual.message import Message
from textual.worker import get_current_worker

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import Engine
from dlq_tui.triage.filter import Filter
from dlq_tui.tui.rows import Selection, ViewRows
from dlq_tui.tui.widgets.record_table import RecordTable

__all__ = ["SCAN_ROWS", "TriageTable"]

SCAN_ROWS = 5_000
"""n/N and the advance after m/p/s look this many rows on the UI thread, then in a worker."""
NO_MATCH = "no record matches the filter (/: change it; an empty filter clears it)"


class TriageTable(RecordTable):
    @dataclass
    class Said(Message):
        text: str

    @dataclass
    class ViewChanged(Message):
        """The rows shown or the filter changed."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TriageTable.ViewChanged)

    @dataclass
    class _MoreMatched(Message):
        generation: int
        matches: array[int]
        covered: int

    @dataclass
    class _SeekDone(Message):
        token: int
        view: ViewRows
        origin: int
        found: int | None
        message: str

    def __init__(self, engine: Engine, *, id: str | None = None) -> None:
        self.engine = engine
        self.selection = Selection()
        self._all = ViewRows(engine, self.selection)
        self.view = self._all
        super().__init__(self._all, id=id)
        self.filter_text = ""
        self.flt: Filter | None = None
        self._filter_gen = 0
        self._covered = 0  # the applied filter has looked at the rows below this store row
        self.loaded_upto = 0  # store rows below this one are in the views
        self._more_running = False
        self._seek_token = 0
        self._user_moved = False  # until the engineer moves, the cursor stays on the first row

    # -- rows ---------------------------------------------------------------------------------------

    def adopt(self, engine: Engine) -> None:
        """A reopened engine: its rows are numbered anew."""
        self.engine = engine
        self.selection = Selection()
        self._all = ViewRows(engine, self.selection)
        self.view = self._all
        self.loaded_upto = 0
        if self.flt is not None:
            self._filter_gen += 1
            self.view = ViewRows(engine, self.selection)
            self._covered = 0
        self.set_source(self.view, cursor=0)

    def all_rows(self) -> tuple[array[int], int]:
        """The rows a new filter looks at, and the store row they cover up to."""
        return self._all.to_array(), self.loaded_upto

    def cursor_row(self) -> int | None:
        return self.view.row_at(self.cursor) if len(self.view) else None

    def targets(self) -> tuple[array[int], bool]:
        """The selection if there is one (bulk), else the cursor row."""
        if self.selection:
            return self.selection.rows(), True
        row = self.cursor_row()
        return (array("i") if row is None else array("i", [row])), False

    def take_rows(self, stop: int) -> None:
        """Show the store rows loaded up to `stop`, from where the views end (a batch whose message
        was lost to a cancelled loader is taken in with the next one)."""
        if stop <= self.loaded_upto:
            return
        rows = range(self.loaded_upto, stop)
        current = self.cursor_row()
        first = self._all.extend(self.engine.visible_rows(rows))
        self.loaded_upto = stop
        if self.view is self._all:
            self._grew(first, current)
        elif self.flt is not None:
            self._match_more()

    def _grew(self, first: int | None, current: int | None) -> None:
        """Rows were added from view index `first` on: the cursor stays on its row once the
        engineer has moved it, and on the first row until then (however partitions interleave)."""
        if first is None:
            return
        self.rows_changed(first, None)
        if not self._user_moved:
            if self.cursor != 0:
                self.cursor = 0
            self.post_message(self.CursorMoved(0, table=self))  # the first row may be a new one
        elif current is not None:
            index = self.view.index_of(current)
            if index is not None and index != self.cursor:
                self.cursor = index
        self.post_message(self.ViewChanged())

    def set_empty_text(self, *, loaded: bool) -> None:
        info = self.engine.info
        if self.view is not self._all:
            self.empty_text = NO_MATCH
        elif not loaded:
            self.empty_text = "loading…"
        else:
            what = "records" if info.from_beginning else "unresolved records"
            self.empty_text = f"no {what} in {one_line(info.source, 60)} for group {one_line(info.group, 40)}"

    def rederive(self) -> None:
        """After a commit: committed rows leave the views (or show as resolved with
        --from-beginning)."""
        engine = self.engine
        current = self.cursor_row()
        self._all.keep(engine.is_visible)
        if self.view is not self._all:
            self.view.keep(engine.is_visible)
        self.selection.discard_all([r for r in self.selection.rows() if engine.is_resolved(r)])
        cursor = 0 if current is None else self.view.index_at_or_after(current)
        self.set_source(self.view, cursor=cursor)
        self.post_message(self.CursorMoved(self.cursor, table=self))
        self.post_message(self.ViewChanged())

    # -- the cursor -----------------------------------------------------------------------------

    def user_moved(self) -> None:
        self._user_moved = True

    def watch_cursor(self, old: int, new: int) -> None:
        super().watch_cursor(old, new)
        if self.has_focus and new != 0:
            self._user_moved = True

    # -- filter ---------------------------------------------------------------------------------

    def apply_filter(self, text: str, flt: Filter, matches: array[int], covered: int) -> None:
        """Show `matches`; the cursor goes to the first match (documented in docs/keys.md)."""
        self.drop_selection("the filter changed")
        self.filter_text = text
        self.flt = flt
        self._filter_gen += 1
        self.view = ViewRows(self.engine, self.selection, matches)
        self._covered = covered
        self.empty_text = NO_MATCH
        self.set_source(self.view, cursor=0)
        self.post_message(self.CursorMoved(0, table=self))
        self._match_more()
        self.post_message(self.ViewChanged())

    def clear_filter(self, *, loaded: bool) -> None:
        if self.flt is None:
            return
        current = self.cursor_row()
        self.filter_text = ""
        self.flt = None
        self._filter_gen += 1
        self.view = self._all
        self.set_empty_text(loaded=loaded)
        cursor = 0 if current is None else self._all.index_at_or_after(current)
        self.set_source(self._all, cursor=cursor)
        self.post_message(self.CursorMoved(self.cursor, table=self))
        self.post_message(self.ViewChanged())

    def _match_more(self) -> None:
        """Run the applied filter over rows loaded since it last looked (one worker at a time)."""
        if self._more_running or self.flt is None or self._covered >= self.loaded_upto:
            return
        self._more_running = True
        rows = self.engine.visible_rows(range(self._covered, self.loaded_upto))
        self._match_rows(self._filter_gen, self.flt, rows, self.loaded_upto)

    @work(thread=True, group="filter-more")
    def _match_rows(self, generation: int, flt: Filter, rows: array[int], covered: int) -> None:
        self.post_message(self._MoreMatched(generation, self.engine.match(flt, rows), covered))

    @on(_MoreMatched)
    def _more_matched(self, message: _MoreMatched) -> None:
        self._more_running = False
        if message.generation != self._filter_gen:
            self._match_more()
            return
        self._covered = message.covered
        if len(message.matches):
            current = self.cursor_row()
            self._grew(self.view.extend(message.matches), current)
        self._match_more()

    # -- selection ------------------------------------------------------------------------------

    def drop_selection(self, why: str) -> None:
        """Bulk actions act on the selection: it never holds rows the table does not show."""
        if not self.selection:
            return
        n = len(self.selection)
        self.selection.clear()
        self.post_message(self.Said(f"selection of {n:,} cleared: {why} (a: select all matching)"))

    def toggle_select(self) -> str | None:
        """Flip the cursor row; returns why it cannot be selected, if it cannot."""
        if not len(self.view):
            return None
        index = self.cursor
        row = self.view.row_at(index)
        if self.engine.is_resolved(row) and row not in self.selection:
            return "resolved records cannot be selected"
        self.selection.toggle(row)
        self.rows_changed(index, index + 1)
        self.cursor = index + 1
        return None

    def select_all(self) -> int:
        engine = self.engine
        added = self.selection.add_all(r for r in self.view if not engine.is_resolved(r))
        self.rows_changed()
        return added

    def clear_selection(self) -> bool:
        if not self.selection:
            return False
        self.selection.clear()
        self.rows_changed()
        return True

    # -- the next open row --------------------------------------------------------------------

    def advance(self, index: int) -> bool:
        """After a decision: the cursor to the next open row (wrapping to the top); returns whether
        it moved now. A search past `SCAN_ROWS` rows goes on in a worker."""
        self._seek_token += 1
        view = self.view
        done = "every record shown is decided"
        found, resume = view.scan_open(index, 1, SCAN_ROWS)
        if found is None and resume is None:
            found, resume = view.scan_open(-1, 1, SCAN_ROWS, stop=index)
            if found is None and resume is None:
                self.post_message(self.Said(done + ": c to review and commit"))
                return False
            if resume is not None:
                self._seek(self._seek_token, view, resume, 1, index, None, done)
                return False
        elif found is None:
            assert resume is not None
            self._seek(self._seek_token, view, resume, 1, index, index, done)
            return False
        assert found is not None
        self.cursor = found
        return found != index

    def jump(self, step: int) -> None:
        """n / N: the next (1) or previous (-1) undecided row."""
        if not len(self.view):
            return
        index = self.cursor
        self._seek_token += 1
        where = "below" if step > 0 else "above"
        found, resume = self.view.scan_open(index, step, SCAN_ROWS)
        if found is not None:
            self.cursor = found
        elif resume is not None:
            self.post_message(self.Said(f"searching {where}…"))
            self._seek(self._seek_token, self.view, resume, step, index, None, f"no undecided record {where}")
        else:
            self.post_message(self.Said(f"no undecided record {where}"))

    @work(thread=True, exclusive=True, group="seek")
    def _seek(
        self, token: int, view: ViewRows, start: int, step: int, origin: int, wrap: int | None, none_msg: str
    ) -> None:
        """The rest of a search for the next open row (off the UI thread; reads only); `wrap`:
        then search from the top up to that index."""
        worker = get_current_worker()
        found = None
        try:
            found = view.find_open(start, step, cancelled=lambda: worker.is_cancelled)
            if found is None and wrap is not None and not worker.is_cancelled:
                found = view.find_open(0, 1, stop=wrap, cancelled=lambda: worker.is_cancelled)
        except IndexError:  # the view changed under the search (a commit): give up quietly
            return
        if not worker.is_cancelled:
            self.post_message(self._SeekDone(token, view, origin, found, none_msg))

    @on(_SeekDone)
    def _seek_done(self, message: _SeekDone) -> None:
        if message.token != self._seek_token or message.view is not self.view:
            return  # a newer search, or another view
        if self.cursor != message.origin:
            return  # the engineer moved on meanwhile
        if message.found is None:
            self.post_message(self.Said(message.message))
            return
        self.cursor = message.found
