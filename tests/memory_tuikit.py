"""Helpers for the app's tests on the in-memory engine: read what the screen shows and wait for it.

Everything here goes through public interfaces only: widgets by id, `Widget.render_lines` for what
a widget draws, keys through the pilot. No broker and no registry is involved."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.tui.app import DlqApp
from tests.memory_samples import SCHEMAS, sample_records

__all__ = [
    "at",
    "loaded",
    "make_app",
    "part",
    "screen_text",
    "shows",
    "text_of",
    "wait_for",
]

WAIT_S = 15.0
DETAIL_HEAD = re.compile(r"partition (\d+) · offset (\d+)")


def make_app(engine: MemoryEngine | None = None, **kw: Any) -> tuple[DlqApp, MemoryEngine]:
    """The app on `engine`, or on a memory engine over the sample DLQ (`kw` for its options)."""
    if engine is None:
        kw.setdefault("schemas", SCHEMAS)
        engine = MemoryEngine(sample_records(), **kw)
    return DlqApp(engine), engine


def _drawn(widget: Widget, max_height: int) -> list[str]:
    width, height = widget.outer_size
    if not widget.display or not width or not height:
        return []
    strips = widget.render_lines(Region(0, 0, width, min(height, max_height)))
    return [strip.text.rstrip() for strip in strips]


def text_of(widget: Widget, *, whole: bool = False) -> str:
    """What `widget` and its descendants draw (at most a screenful of each unless `whole`: a
    scrolled body entirely), top-down."""
    limit = 1 << 20 if whole else max(1, widget.app.size.height)
    # A screen draws only its background (a modal one: the screens below it); its widgets follow.
    lines = [] if isinstance(widget, Screen) else _drawn(widget, limit)
    for child in widget.query("*"):
        if child.display and all(a.display for a in child.ancestors_with_self if isinstance(a, Widget)):
            lines += _drawn(child, limit)
    return "\n".join(line for line in lines if line.strip())


def screen_text(app: App[Any]) -> str:
    """What the active screen draws (its widgets, toasts included), as text."""
    return text_of(app.screen)


def part(app: App[Any], selector: str, *, whole: bool = False) -> str:
    """The text of one part of the active screen (`#records`, `#detail`, ...)."""
    return text_of(app.screen.query_one(selector), whole=whole)


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = WAIT_S
) -> None:
    """Let the app run until `condition` holds (fails after `timeout`, showing the screen)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


async def shows(pilot: Pilot[Any], text: str, selector: str | None = None) -> str:
    """Wait until `text` is drawn (in `selector`'s part, or anywhere); returns what is drawn."""
    app = pilot.app

    def drawn() -> str:
        return screen_text(app) if selector is None else part(app, selector)

    await wait_for(pilot, lambda: text in drawn(), repr(text) + (f" in {selector}" if selector else ""))
    return drawn()


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait until the progress pane says the snapshot is loaded and the table shows it (a record
    line under the header, or the words saying it is empty)."""
    await shows(pilot, "Snapshot loaded", "#progress")
    app = pilot.app

    def table_done() -> bool:
        table = part(app, "#records")
        return "no unresolved records" in table or (len(table.splitlines()) > 1 and "loading…" not in table)

    await wait_for(pilot, table_done, "the table to show the snapshot")


def at(app: App[Any]) -> tuple[int, int] | None:
    """The (partition, offset) the detail pane shows: the record under the cursor."""
    found = DETAIL_HEAD.search(part(app, "#detail"))
    return None if found is None else (int(found[1]), int(found[2]))


async def cursor_on(pilot: Pilot[Any], partition: int, offset: int) -> None:
    """Wait until the detail pane (which follows the cursor) shows `partition`/`offset`."""
    await wait_for(pilot, lambda: at(pilot.app) == (partition, offset), f"the cursor on {partition}/{offset}")
