"""The filter bar: it owns the filter being typed — parses it at each keystroke (errors show with
their position), counts its matches in a thread once typing pauses, and on enter posts `Applied`
with the matches (or `Cleared` for an empty filter). The screen only swaps the table's rows.

Stale counts are told apart by a token: each keystroke starts a new one, and a count that comes
back with an older token is dropped.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import Engine
from dlq_tui.triage.filter import Filter, FilterError, parse

__all__ = ["FilterBar"]

HINT = "enter: show matches · esc: cancel · empty: clear · F1: syntax · e.g. key:ORD00* error:Timeout value.reason:wrong*"
COUNT_DEBOUNCE_S = 0.15
LIVE_COUNT_ROWS = 200_000
"""Above this many records the live count waits for `LIVE_COUNT_MIN_CHARS` characters."""
LIVE_COUNT_MIN_CHARS = 3

RowsNow: TypeAlias = "Callable[[], tuple[array[int], int]]"
"""The rows a filter looks at now (the unfiltered view) and the store row it has covered to."""


@dataclass(frozen=True)
class Counted:
    token: int
    text: str
    flt: Filter
    matches: array[int]
    total: int
    covered: int
    unknown: int = 0
    """Rows the filter could not judge (their key or value could not be decoded)."""
    reason: str | None = None


class FilterBar(Vertical):
    """Hidden until `open`."""

    DEFAULT_CSS = """
    FilterBar { height: auto; display: none; background: $boost; padding: 0 0; }
    FilterBar.-open { display: block; }
    FilterBar > Input { width: 1fr; }
    FilterBar > #filter-status { height: auto; padding: 0 1; }
    FilterBar > #filter-status.-error { color: $text-error; }
    """

    @dataclass
    class Applied(Message):
        """Show the matches of `flt` (among the rows loaded before store row `covered`); `unknown`
        rows could not be judged (undecodable) and are not among them."""

        text: str
        flt: Filter
        matches: array[int]
        covered: int
        unknown: int = 0
        reason: str | None = None

    @dataclass
    class Cleared(Message):
        """The filter was emptied: show every row."""

    @dataclass
    class Pending(Message):
        """Enter was pressed before the count was done: it applies when the count is."""

        text: str

    @dataclass
    class Closed(Message):
        """The bar closed (enter or esc): focus goes back to the table."""

    @dataclass
    class HelpWanted(Message):
        """F1: show the filter syntax."""

    @dataclass
    class _Counted(Message):
        counted: Counted

    BINDINGS: ClassVar[list[BindingType]] = [Binding("f1", "syntax", "Filter syntax", show=False)]

    def __init__(self, engine: Engine, rows_now: RowsNow, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self._rows_now = rows_now
        self.input = Input(
            placeholder="filter (F1: the syntax, with examples)", id="filter-input", compact=True
        )
        self.input.cursor_blink = False
        self.status = Static("", id="filter-status", markup=False)
        self._token = 0
        self._counted: Counted | None = None
        self._apply_when_counted: str | None = None
        self._timer: Timer | None = None
        self._counting: tuple[int, str] | None = None  # (token, text) of the count running

    def compose(self) -> Any:
        yield self.input
        yield self.status

    # -- opening and closing ----------------------------------------------------------------------

    def open(self, text: str) -> None:
        self.add_class("-open")
        self.input.value = text
        self.input.cursor_position = len(text)
        self.input.focus()
        if not text:
            self.show_hint()
        else:
            self._typed(text)

    def close(self, *, cancel: bool = True) -> None:
        """Hide the bar; `cancel`: also drop a count running and a pending apply."""
        self.remove_class("-open")
        if cancel:
            self.workers.cancel_group(self, "filter-count")
            self._apply_when_counted = None
        self.post_message(self.Closed())

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def reset(self, engine: Engine) -> None:
        """A reopened engine: counts over the old one's rows are void."""
        self.engine = engine
        self._token += 1
        self._counted = None

    def _applied(self, c: Counted) -> Applied:
        return self.Applied(c.text, c.flt, c.matches, c.covered, c.unknown, c.reason)

    def action_syntax(self) -> None:
        self.post_message(self.HelpWanted())

    # -- typing and counting ------------------------------------------------------------------------

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self._typed(event.value)

    def _typed(self, text: str, *, now: bool = False) -> None:
        """Parse at once; count once typing pauses for `COUNT_DEBOUNCE_S` (or `now`), so a fast
        typist does not start a scan of a million records per keystroke."""
        self._token += 1
        self._counted = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not text.strip():
            self.workers.cancel_group(self, "filter-count")
            self.show_hint()
            return
        try:
            flt = parse(text)
        except FilterError as exc:
            self.workers.cancel_group(self, "filter-count")
            self.show_error(exc, text)
            return
        token = self._token
        rows, covered = self._rows_now()
        if not now and len(rows) > LIVE_COUNT_ROWS and len(text.strip()) < LIVE_COUNT_MIN_CHARS:
            # One or two letters match nearly every row of a big DLQ: a count would decode them all
            # on every keystroke. Enter still counts and applies.
            self.status.remove_class("-error")
            self.status.update(
                Content.assemble(
                    (
                        f"{len(rows):,} records: the live count starts at {LIVE_COUNT_MIN_CHARS} characters",
                        "italic",
                    ),
                    "  ",
                    ("enter: count and show the matches", "dim"),
                )
            )
            return
        self.show_counting(len(rows))

        def start() -> None:
            self._timer = None
            if token == self._token:
                self._counting = (token, text)
                self._count(token, text, flt, rows, covered)

        if now:
            start()
        else:
            self._timer = self.set_timer(COUNT_DEBOUNCE_S, start)

    @work(thread=True, exclusive=True, group="filter-count")
    def _count(self, token: int, text: str, flt: Filter, rows: array[int], covered: int) -> None:
        worker = get_current_worker()
        result = self.engine.match_with_unknown(flt, rows, cancelled=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            counted = Counted(
                token, text, flt, result.matched, len(rows), covered, len(result.unknown), result.reason
            )
            self.post_message(self._Counted(counted))

    @on(_Counted)
    def _on_counted(self, message: _Counted) -> None:
        counted = message.counted
        if counted.token != self._token:
            return
        self._counted = counted
        if self._apply_when_counted == counted.text:
            self._apply_when_counted = None
            self.post_message(self._applied(counted))
        elif self.is_open:
            self.show_count(len(counted.matches), counted.total, counted.unknown)

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if not text.strip():
            self.close()
            self.post_message(self.Cleared())
            return
        try:
            parse(text)
        except FilterError as exc:
            self.show_error(exc, text)
            self.app.bell()
            return
        counted = self._counted
        if counted is not None and counted.text == text:
            self.close()
            self.post_message(self._applied(counted))
            return
        if self._counting != (self._token, text):  # not already being counted
            self._typed(text, now=True)
        self._apply_when_counted = text
        self.close(cancel=False)
        self.post_message(self.Pending(text))

    # -- what the status line says ------------------------------------------------------------------

    def show_hint(self) -> None:
        self.status.remove_class("-error")
        self.status.update(Content.assemble((HINT, "dim")))

    def show_counting(self, total: int) -> None:
        self.status.remove_class("-error")
        self.status.update(
            Content.assemble((f"counting matches in {total:,} records…", "italic"), "  ", (HINT, "dim"))
        )

    def show_count(self, matches: int, total: int, unknown: int = 0) -> None:
        self.status.remove_class("-error")
        parts: list[str | tuple[str, str]] = [(f"{matches:,} of {total:,} records match", "bold")]
        if unknown:
            parts += [" · ", (f"{unknown:,} undecodable: not known to match, left out", "$text-warning")]
        self.status.update(Content.assemble(*parts, "  ", ("enter: show them", "dim")))

    def show_error(self, error: FilterError, text: str) -> None:
        self.status.add_class("-error")
        # The filter text again with a caret under the error (render() blanks control characters).
        self.status.update(
            Content.assemble(error.render(text) + "\n", ("⚠ " + one_line(str(error), 200), "bold"))
        )
