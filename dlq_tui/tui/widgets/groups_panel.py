"""The groups view: a title line and the `GroupsTable`, kept current from the engine. It owns the
refresh — the summaries are computed off the loop (`Engine.groups_async`), at most one refresh at a
time and at most once per `REFRESH_S` while records load — and lets the table's `GroupChosen` and
`GroupDecision` messages bubble to the screen."""

from __future__ import annotations

import time
from typing import Any

from textual import work
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from dlq_tui.engine_api import Engine
from dlq_tui.groups import GroupSummary
from dlq_tui.tui.widgets.groups_table import GroupsTable

__all__ = ["REFRESH_S", "GroupsPanel"]

REFRESH_S = 1.0
"""While records load, the groups are recounted at most this often."""


class GroupsPanel(Vertical):
    DEFAULT_CSS = """
    GroupsPanel { height: 1fr; }
    GroupsPanel > #groups-title { height: 1; padding: 0 1; background: $boost; }
    GroupsPanel > GroupsTable { height: 1fr; }
    """

    def __init__(self, engine: Engine, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.table = GroupsTable(id="groups-table")
        self._title = Static("", id="groups-title", markup=False)
        self._stale = True
        self._counted_at = 0.0
        self._timer: Timer | None = None
        self.counted = False  # the first count is in

    def compose(self) -> Any:
        yield self._title
        yield self.table

    def on_mount(self) -> None:
        self._title.update(Content.assemble(("Failure groups", "bold"), " · counting…"))

    def adopt(self, engine: Engine) -> None:
        self.engine = engine
        self.mark_stale(now=True)

    def mark_stale(self, *, now: bool = False) -> None:
        """The groups changed (rows loaded, decisions, a commit): recount when shown, at most once
        per `REFRESH_S` unless `now`."""
        self._stale = True
        if not self.display:
            return
        wait = 0.0 if now else max(0.0, REFRESH_S - (time.monotonic() - self._counted_at))
        if wait <= 0:
            self._recount()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._recount)

    def _recount(self) -> None:
        self._timer = None
        if self._stale:
            self._stale = False
            self._counted_at = time.monotonic()
            self._count(self.engine)

    @work(exclusive=True, group="groups", exit_on_error=False)
    async def _count(self, engine: Engine) -> None:
        groups = await engine.groups_async()
        if engine is self.engine:
            self._show(groups)

    def _show(self, groups: list[GroupSummary]) -> None:
        self.counted = True
        total = sum(g.count for g in groups)
        undecided = sum(g.undecided for g in groups)
        self._title.update(
            Content.assemble(
                ("Failure groups", "bold"),
                f" · {len(groups):,} groups · {total:,} records · {undecided:,} undecided   ",
                ("enter: its records · m/p/s: on the whole group · v: records", "dim"),
            )
        )
        self.table.set_groups(groups)
