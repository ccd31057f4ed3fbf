"""A Java stack trace (from DLQ headers) laid out for the detail pane: one frame per line, the
project's own frames emphasised, runs of framework frames folded into one dim line."""

from __future__ import annotations

from rich.text import Text

from dlq_tui.decode.sanitize import one_line
from dlq_tui.decode.stacktrace import LineKind, TraceLine, split_stack_trace

__all__ = ["FOLD_AFTER", "trace_text"]

FOLD_AFTER = 2
"""Framework frames in a row beyond this many are folded into one line."""
MAX_LINES = 60


def _fold(lines: list[TraceLine]) -> list[TraceLine | int]:
    """The lines, with each run of more than `FOLD_AFTER` framework frames replaced by its length
    (after showing the first `FOLD_AFTER` of it)."""
    out: list[TraceLine | int] = []
    run: list[TraceLine] = []

    def flush() -> None:
        if len(run) > FOLD_AFTER + 1:
            out.extend(run[:FOLD_AFTER])
            out.append(len(run) - FOLD_AFTER)
        else:
            out.extend(run)
        run.clear()

    for line in lines:
        if line.kind is LineKind.FRAME and line.framework and not line.own:
            run.append(line)
            continue
        flush()
        out.append(line)
    flush()
    return out


def trace_text(trace: str, *, width: int = 200) -> Text:
    """The trace as rich `Text` (payload text escaped: never markup, never a control sequence)."""
    out = Text()
    shown = 0
    folded = _fold(split_stack_trace(trace))
    for item in folded:
        if shown >= MAX_LINES:
            out.append(f"… {len(folded) - shown} more lines (x: raw headers)\n", style="dim italic")
            break
        shown += 1
        if isinstance(item, int):
            out.append(f"    … {item} framework frames\n", style="dim italic")
            continue
        indent = "  " * item.depth
        text = one_line(item.text, width)
        if item.kind in (LineKind.EXCEPTION, LineKind.CAUSED_BY, LineKind.SUPPRESSED):
            out.append(indent + text + "\n", style="bold")
        elif item.kind is LineKind.FRAME:
            style = "bold" if item.own else ("dim" if item.framework else "")
            out.append(indent + "    ")
            out.append(text + "\n", style=style)
        else:
            out.append(indent + text + "\n", style="dim")
    out.rstrip()
    return out
