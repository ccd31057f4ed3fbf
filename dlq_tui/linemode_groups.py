"""`dlq-tui groups`: one row (or one JSON object) per failure group of the unresolved records.

Table output is for people (escaped, cut to the terminal's width per column); ``--format jsonl`` for
scripts: ``dlq-tui merge-all --where group:ID`` then acts on one group."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TextIO

from dlq_tui.decode.sanitize import one_line, safe_text
from dlq_tui.display import iso_ts
from dlq_tui.engine import TriageSession
from dlq_tui.groups import GroupSummary

__all__ = ["print_groups", "run_groups"]

_HEADER = (
    "GROUP",
    "COUNT",
    "UNDEC",
    "DEC",
    "RES",
    "FAILURE",
    "ORIGIN",
    "FIRST",
    "LAST",
    "PART",
    "CONVENTION",
)


def _partitions(parts: Sequence[int]) -> str:
    shown = ",".join(map(str, parts[:6]))
    return shown + (f",+{len(parts) - 6}" if len(parts) > 6 else "")


def _cell(text: str, width: int) -> str:
    return one_line(safe_text(text), width)


def print_groups(groups: Sequence[GroupSummary], fmt: str, out: TextIO) -> None:
    """Write `groups` as a table or as JSON lines."""
    if fmt == "jsonl":
        for g in groups:
            out.write(json.dumps(g.as_json(), ensure_ascii=False) + "\n")
        return
    rows = [
        (
            g.id,
            str(g.count),
            str(g.undecided),
            str(g.decided),
            str(g.resolved),
            _cell(g.label, 70),
            _cell(g.origin_topic or "-", 24),
            iso_ts(g.first_timestamp) if g.first_timestamp is not None else "-",
            iso_ts(g.last_timestamp) if g.last_timestamp is not None else "-",
            _partitions(g.partitions),
            g.convention or "-",
        )
        for g in groups
    ]
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(len(_HEADER))]
    right = {1, 2, 3, 4}
    for r in [_HEADER, *rows]:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.write("  ".join(cells).rstrip() + "\n")
    total = sum(g.count for g in groups)
    out.write(f"{len(groups)} group(s), {total} record(s); show one with: dlq-tui print --where group:ID\n")


async def run_groups(session: TriageSession, rows: Sequence[int], fmt: str, out: TextIO) -> int:
    """Compute the groups of `rows` off the event loop and print them."""
    groups = await asyncio.to_thread(session.groups, rows, session.decisions_snapshot())
    print_groups(groups, fmt, out)
    return 0
