"""Per-partition progress: snapshot offsets read, decided / unresolved records; overall on top."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import PartitionStats

__all__ = ["ProgressFigures", "ProgressPane", "progress_lines"]

MAX_PARTITION_LINES = 3
WIDE = 110


def _bar(fraction: float, width: int) -> str:
    fraction = max(0.0, min(1.0, fraction))
    full = int(fraction * width)
    return "█" * full + "░" * (width - full)


def progress_lines(
    stats: Sequence[PartitionStats],
    width: int,
    *,
    state: str,
    loaded: int,
    unresolved: int,
    decided: int,
    notes: Sequence[str] = (),
) -> list[Content]:
    """The lines of the pane at `width` cells. `state`: connecting | loading | loaded | following.
    `notes`: what the figures leave out (records before `--from`, hidden tombstones), one line each."""
    read = sum(s.offsets_read for s in stats)
    total = sum(s.offsets_total for s in stats)
    counts = f"{loaded:,} records · {unresolved:,} unresolved · {decided:,} decided"
    if state == "connecting":
        head = Content.assemble(("Connecting…", "bold"))
    elif state == "loading":
        pct = read / total if total else 1.0
        head = Content.assemble(
            ("Loading snapshot ", "bold"), (_bar(pct, 12), "$text-accent"), f" {pct:4.0%} · ", counts
        )
    elif state == "following":
        head = Content.assemble(("► Following ", "bold $text-success"), "(f: stop) · ", counts)
    else:
        head = Content.assemble(("Snapshot loaded ", "bold"), counts)
    lines = [head]
    lines += [
        Content.assemble(("⚑ " + one_line(note, max(20, width - 2)), "$text-warning")) for note in notes
    ]
    if not stats:
        return lines
    wide = width >= WIDE
    cells: list[Content] = []
    for s in stats:
        if wide:
            text = (
                f"p{s.partition} {s.offsets_read:,}/{s.offsets_total:,} offsets read · "
                f"{s.decided:,}/{s.unresolved:,} decided"
            )
        else:
            text = f"p{s.partition} {s.offsets_read}/{s.offsets_total} read · {s.decided}/{s.unresolved} dec"
        cells.append(Content.assemble((text, "" if s.done else "$text-accent")))
    cell_width = max(len(c.plain) for c in cells)
    sep = " │ "
    per_line = max(1, (width + len(sep)) // (cell_width + len(sep)))
    rows = [cells[i : i + per_line] for i in range(0, len(cells), per_line)]
    shown = rows[:MAX_PARTITION_LINES]
    for i, row in enumerate(shown):
        parts: list[Content | str] = []
        for j, cell in enumerate(row):
            if j:
                parts.append(sep)
            parts.append(cell.pad_right(cell_width - len(cell.plain)) if j < len(row) - 1 else cell)
        line = Content.assemble(*parts)
        if i == len(shown) - 1 and len(rows) > len(shown):
            hidden = sum(len(r) for r in rows[len(shown) :])
            line = Content.assemble(line, (f" … +{hidden} partitions", "dim"))
        lines.append(line)
    return lines


PROGRESS_INTERVAL_S = 0.25
"""While loading, the figures are read at most this often."""


@dataclass(frozen=True)
class ProgressFigures:
    stats: tuple[PartitionStats, ...]
    state: str
    loaded: int
    unresolved: int
    decided: int
    notes: tuple[str, ...] = ()


class ProgressPane(Widget):
    """Per-partition progress. `request(figures)` reads the figures now, or — if it read them less
    than `PROGRESS_INTERVAL_S` ago — once that interval is over (a flood of batches costs one
    read per interval); `show` draws given figures at once."""

    DEFAULT_CSS = """
    ProgressPane { height: auto; width: 1fr; padding: 0 1; background: $boost; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._stats: tuple[PartitionStats, ...] = ()
        self._state = "connecting"
        self._figures = (0, 0, 0)
        self._notes: tuple[str, ...] = ()
        self._figures_of: Callable[[], ProgressFigures] | None = None
        self._read_at = 0.0
        self._timer: Timer | None = None

    def request(self, figures: Callable[[], ProgressFigures], *, now: bool = False) -> None:
        self._figures_of = figures
        elapsed = time.monotonic() - self._read_at
        if now or elapsed >= PROGRESS_INTERVAL_S:
            self._read()
        elif self._timer is None:
            self._timer = self.set_timer(PROGRESS_INTERVAL_S - elapsed, self._read)

    def _read(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._read_at = time.monotonic()
        if self._figures_of is not None:
            f = self._figures_of()
            self.show(
                f.stats,
                state=f.state,
                loaded=f.loaded,
                unresolved=f.unresolved,
                decided=f.decided,
                notes=f.notes,
            )

    def show(
        self,
        stats: Sequence[PartitionStats],
        *,
        state: str,
        loaded: int,
        unresolved: int,
        decided: int,
        notes: Sequence[str] = (),
    ) -> None:
        new = (tuple(stats), state, (loaded, unresolved, decided), tuple(notes))
        if new == (self._stats, self._state, self._figures, self._notes):
            return
        layout = len(new[0]) != len(self._stats) or state != self._state or new[3] != self._notes
        self._stats, self._state, self._figures, self._notes = new
        self.refresh(layout=layout)

    def render(self) -> Content:
        loaded, unresolved, decided = self._figures
        lines = progress_lines(
            self._stats,
            self.content_region.width or 80,
            state=self._state,
            loaded=loaded,
            unresolved=unresolved,
            decided=decided,
            notes=self._notes,
        )
        return Content("\n").join(lines)
