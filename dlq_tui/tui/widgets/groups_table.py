"""`GroupsTable`: the failure groups of a DLQ, one row per group, largest first.

The widget is given `GroupSummary` objects (`set_groups`) and owns nothing else: it never reaches
the engine. It keeps the cursor on the same group across refreshes (groups change while records load
and after commits) and posts:

* `GroupChosen(group_id)` on ``enter`` — the screen shows the group's records (filter ``group:ID``);
* `GroupDecision(group_id, decision)` on ``m`` / ``p`` / ``s`` — the screen stages the decision on the
  group's unresolved records through the staged buffer, like any bulk decision.

Cells are plain `Text` (never markup) and escaped with `safe_text`, so exception messages from the
DLQ cannot drive the terminal or the markup parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from dlq_tui.decode.sanitize import one_line, safe_text
from dlq_tui.display import iso_ts
from dlq_tui.groups import GroupSummary
from dlq_tui.triage.decisions import Decision

__all__ = ["GroupChosen", "GroupDecision", "GroupsTable"]

COLUMNS = (
    ("count", "count"),
    ("undecided", "undec"),
    ("decided", "dec"),
    ("resolved", "res"),
    ("exception", "exception"),
    ("message", "message"),
    ("origin", "origin"),
    ("first", "first"),
    ("last", "last"),
    ("partitions", "part"),
)


@dataclass
class GroupChosen(Message):
    """Show the records of this group (``enter``)."""

    group_id: str


@dataclass
class GroupDecision(Message):
    """Stage `decision` on the unresolved records of this group (``m``, ``p``, ``s``)."""

    group_id: str
    decision: Decision


def _short_class(name: str) -> str:
    return name.rsplit(".", 1)[-1] if name else ""


def _time(ms: int | None) -> str:
    return iso_ts(ms)[:19].replace("T", " ") if ms is not None else "-"


def _parts(parts: Sequence[int]) -> str:
    shown = ",".join(map(str, parts[:4]))
    return shown + ("…" if len(parts) > 4 else "")


def _cells(g: GroupSummary) -> list[Text]:
    if g.kind != "error":  # grouped by origin topic, or the one group without any DLQ headers
        exception, message = "(no error headers)", ""
    else:
        exception, message = _short_class(g.exception), g.message
    texts = [
        str(g.count),
        str(g.undecided),
        str(g.decided),
        str(g.resolved),
        one_line(safe_text(exception), 40),
        one_line(safe_text(message), 60),
        one_line(safe_text(g.origin_topic or "-"), 30),
        _time(g.first_timestamp),
        _time(g.last_timestamp),
        _parts(g.partitions),
    ]
    return [Text(t, justify="right") if i < 4 else Text(t) for i, t in enumerate(texts)]


class GroupsTable(DataTable[Text]):
    """Failure groups with a row cursor; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Show records"),
        Binding("m", "decide('merge')", "Merge group"),
        Binding("p", "decide('purge')", "Purge group"),
        Binding("s", "decide('skip')", "Skip group"),
    ]

    def __init__(
        self,
        groups: Sequence[GroupSummary] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, name=name, id=id, classes=classes)
        self._groups: list[GroupSummary] = list(groups)

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self._fill(None)

    @property
    def groups(self) -> list[GroupSummary]:
        """The groups shown, in display order."""
        return list(self._groups)

    @property
    def current(self) -> GroupSummary | None:
        """The group under the cursor."""
        row = self.cursor_row
        return self._groups[row] if 0 <= row < len(self._groups) else None

    def set_groups(self, groups: Sequence[GroupSummary]) -> None:
        """Show `groups` (already sorted), keeping the cursor on the group it was on if it is still there."""
        current = self.current
        self._groups = list(groups)
        if self.is_mounted:
            self._fill(current.id if current else None)

    def _fill(self, keep: str | None) -> None:
        self.clear()
        for g in self._groups:
            self.add_row(*_cells(g), key=g.id)
        if keep is not None:
            for i, g in enumerate(self._groups):
                if g.id == keep:
                    self.move_cursor(row=i)
                    break

    def action_choose(self) -> None:
        current = self.current
        if current is not None:
            self.post_message(GroupChosen(current.id))

    def action_decide(self, decision: str) -> None:
        current = self.current
        if current is not None:
            self.post_message(GroupDecision(current.id, Decision(decision)))
