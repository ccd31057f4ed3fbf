"""The bars around the table: the title bar (what is open) and the staged bar (what is decided).

Both build `Content` from (text, style) parts: text is never parsed as markup."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from dlq_tui.decode.sanitize import one_line
from dlq_tui.triage.decisions import Decision

__all__ = ["StagedBar", "TitleBar", "TitleInfo", "staged_content", "title_content"]

Part = str | tuple[str, str]


def staged_content(
    counts: dict[Decision, int], selected: int = 0, *, read_only: bool = False, status: str = ""
) -> Content:
    """``3 merge · 1 purge · 2 skip · uncommitted`` (or ``nothing staged``), then the selection,
    then `status` (the last routine feedback: bulk counts, undo, reload, follow)."""
    parts: list[Part] = []
    merge, purge, skip = counts[Decision.MERGE], counts[Decision.PURGE], counts[Decision.SKIP]
    if read_only:
        parts.append(("read-only", "bold reverse"))
        if skip:
            parts += [" · ", (f"{skip:,} skip", "bold $text-warning")]
        elif not status:
            parts.append((" browsing: merge, purge and commit are off", "dim"))
    elif merge or purge or skip:
        parts += [
            (f"{merge:,} merge", "bold $text-success" if merge else ""),
            " · ",
            (f"{purge:,} purge", "bold $text-error" if purge else ""),
            " · ",
            (f"{skip:,} skip", "bold $text-warning" if skip else ""),
        ]
        if merge or purge:
            parts += [" · ", ("uncommitted", "bold reverse")]
            if not status:
                parts.append((" c: review and commit", "dim"))
    else:
        parts.append(("nothing staged", "dim"))
    if selected:
        parts += [" │ ", (f"{selected:,} selected", "bold")]
    if status:
        parts += [" │ ", (one_line(status, 200), "italic")]
    return Content.assemble(*parts)


STATUS_S = 6.0
"""Routine feedback stays this long in the staged bar's status."""


class StagedBar(Static):
    """Always visible: the staged decisions, the selection size, and a one-line status (routine
    feedback that would otherwise be a toast covering the table; it clears after `STATUS_S`).
    Repaints only on change."""

    DEFAULT_CSS = """
    StagedBar { height: 1; width: 1fr; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._last: tuple[int, int, int, int, bool, str] | None = None
        self._counts: dict[Decision, int] = dict.fromkeys(Decision, 0)
        self._selected = 0
        self._read_only = False
        self.status = ""
        self._status_timer: Timer | None = None

    def say(self, text: str) -> None:
        """Show `text` as the status for `STATUS_S` (an empty text clears it now)."""
        self.status = text
        if self._status_timer is not None:
            self._status_timer.stop()
        self._status_timer = self.set_timer(STATUS_S, lambda: self.say("")) if text else None
        self._paint()

    def show(self, counts: dict[Decision, int], selected: int, *, read_only: bool = False) -> None:
        self._counts, self._selected, self._read_only = counts, selected, read_only
        self._paint()

    def _paint(self) -> None:
        counts = self._counts
        key = (
            counts[Decision.MERGE],
            counts[Decision.PURGE],
            counts[Decision.SKIP],
            self._selected,
            self._read_only,
            self.status,
        )
        if key == self._last:
            return
        self._last = key
        # One line, 1fr wide: new text never changes its size, so no layout pass of the screen.
        self.update(
            staged_content(counts, self._selected, read_only=self._read_only, status=self.status),
            layout=False,
        )


@dataclass(frozen=True)
class TitleInfo:
    source: str
    destination: str | None
    group: str
    filter_text: str = ""
    matches: int | None = None
    following: bool = False
    read_only: bool = False


def title_content(info: TitleInfo, width: int = 200) -> Content:
    """The title line; names are shortened (with …) to fit `width`, the filter and modes first."""
    tail: list[Part] = []
    if info.filter_text:
        tail += [("  filter ", "dim"), (one_line(info.filter_text, 40), "bold")]
        if info.matches is not None:
            tail.append(f" ({info.matches:,})")
    if info.following:
        tail.append(("  ► following", "bold $text-success"))
    if info.read_only:
        tail.append(("  READ-ONLY", "bold reverse"))
    tail_len = sum(len(p) if isinstance(p, str) else len(p[0]) for p in tail)
    room = max(12, width - tail_len - len("  group ") - len(" → ") - 1)
    # Share the room: source, destination and group in about 2:2:1.
    src_w, dst_w, grp_w = max(8, room * 2 // 5), max(8, room * 2 // 5), max(6, room // 5)
    parts: list[Part] = [(one_line(info.source, src_w), "bold")]
    if info.destination:
        parts += [" → ", one_line(info.destination, dst_w)]
    elif not info.read_only:
        parts.append((" (no destination: merge off)", "dim"))
    parts += [("  group ", "dim"), one_line(info.group, grp_w)]
    return Content.assemble(*parts, *tail)


class TitleBar(Static):
    """One line: source → destination, group, filter, following, mode."""

    DEFAULT_CSS = """
    TitleBar { height: 1; width: 1fr; padding: 0 1; background: $primary-muted; color: $text; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._info: TitleInfo | None = None

    def show(self, info: TitleInfo) -> None:
        if info != self._info:
            self._info = info
            self.refresh()

    def render(self) -> Content:
        if self._info is None:
            return Content("")
        return title_content(self._info, self.content_region.width or 200)

    def on_resize(self) -> None:
        self.refresh()
