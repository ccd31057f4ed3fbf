"""The filter bar: an input for the filter language, the live match count and inline errors."""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Static

from dlq_tui.decode.sanitize import one_line
from dlq_tui.triage.filter import FilterError

__all__ = ["FilterBar"]

HINT = "enter: show matches · esc: cancel · empty: clear · e.g. key:ORD00* error:Timeout value.reason:wrong*"


class FilterBar(Vertical):
    """Hidden until `/`. The screen owns the logic (parsing, counting in a worker); this shows it."""

    DEFAULT_CSS = """
    FilterBar { height: auto; display: none; background: $boost; padding: 0 0; }
    FilterBar.-open { display: block; }
    FilterBar > Input { width: 1fr; }
    FilterBar > #filter-status { height: auto; padding: 0 1; }
    FilterBar > #filter-status.-error { color: $text-error; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.input = Input(placeholder="filter (docs/filters.md)", id="filter-input", compact=True)
        self.input.cursor_blink = False
        self.status = Static("", id="filter-status", markup=False)

    def compose(self) -> Any:
        yield self.input
        yield self.status

    def open(self, text: str) -> None:
        self.add_class("-open")
        self.input.value = text
        self.input.cursor_position = len(text)
        self.input.focus()
        if not text:
            self.show_hint()

    def close(self) -> None:
        self.remove_class("-open")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def show_hint(self) -> None:
        self.status.remove_class("-error")
        self.status.update(Content.assemble((HINT, "dim")))

    def show_counting(self, total: int) -> None:
        self.status.remove_class("-error")
        self.status.update(
            Content.assemble((f"counting matches in {total:,} records…", "italic"), "  ", (HINT, "dim"))
        )

    def show_count(self, matches: int, total: int) -> None:
        self.status.remove_class("-error")
        self.status.update(
            Content.assemble(
                (f"{matches:,} of {total:,} records match", "bold"), "  ", ("enter: show them", "dim")
            )
        )

    def show_error(self, error: FilterError, text: str) -> None:
        self.status.add_class("-error")
        # The filter text again with a caret under the error (render() blanks control characters).
        self.status.update(
            Content.assemble(error.render(text) + "\n", ("⚠ " + one_line(str(error), 200), "bold"))
        )
