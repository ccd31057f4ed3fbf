"""The record table's rows and columns: what a row source gives for each row (`RowCells`), and
which columns fit a width (`layout_columns`), each cell cut to its width (`fit_cell`).

Layout
------
Line 0 of the widget is the header; it never scrolls. View row ``i`` is drawn at widget line
``i - scroll_y + 1``; ``virtual_size`` is ``(width, len(source) + 1)``.

Columns, left to right: mark (1), select (1, ``●`` when selected), partition (4), offset (10),
timestamp (19), key, value, error. Key, value and error share what the fixed columns leave
(key about a quarter, at least 10 cells; error about two fifths of the rest, at least 20; value
the remainder, at least 30). When the width cannot hold every column at those minimums, columns
are dropped in this order (the error, why the record failed, is what triage needs most):

1. timestamp  (dropped below 101 layout cells: at 101 columns and less),
2. partition  (dropped below 77 layout cells: an 80-column terminal shows
               mark, select, offset, key, value, error),
3. error      (first shrinks to 12 cells, then is dropped below 68 layout cells).

Below 55 cells key and value shrink under their minimums; mark, select, offset, key and value stay.
Every cell is cut to its width with a trailing ``…``.

The layout width is the widget's width minus the vertical scrollbar, whether or not the scrollbar
is shown: the columns do not move when the scrollbar appears (a short table leaves one blank cell).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from rich.cells import cell_len, get_character_cell_size, set_cell_size

from dlq_tui.decode.sanitize import one_line

__all__ = ["Column", "RowCells", "RowSource", "fit_cell", "layout_columns", "safe_cell"]


@dataclass(frozen=True, slots=True)
class RowCells:
    """What one view row shows. All text is plain text (never markup)."""

    mark: str  # decision mark: "M", "P", "S", "" (or "✓" for a resolved record when shown)
    style: str  # "merge" | "purge" | "skip" | "resolved" | "" — picks the row's component class
    partition: int
    offset: int
    timestamp: str  # already formatted
    key: str  # one line
    value: str  # one-line preview
    error: str  # exception class / message, one line
    selected: bool = False  # in the app's bulk selection


class RowSource(Protocol):
    """The rows of the current view. Both methods must be cheap (O(1)-ish): they are called
    while painting."""

    def __len__(self) -> int: ...

    def cells(self, index: int) -> RowCells: ...


class EmptySource:
    def __len__(self) -> int:
        return 0

    def cells(self, index: int) -> RowCells:
        raise IndexError(index)


# --- column layout -----------------------------------------------------------------------------

PARTITION_WIDTH: Final = 4
OFFSET_WIDTH: Final = 10
TIMESTAMP_WIDTH: Final = 19
KEY_MIN: Final = 10
KEY_MAX: Final = 40
VALUE_MIN: Final = 30
ERROR_MIN: Final = 20
ERROR_SHRUNK: Final = 12  # the error's width when keeping it at ERROR_MIN would drop it
GAP: Final = 1  # blank cells between columns (none between mark and select)

#: Optional columns, in the order they are dropped when the width is short (the error shrinks to
#: `ERROR_SHRUNK` before it goes).
DROP_ORDER: Final = ("timestamp", "partition", "error")


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # mark | select | partition | offset | timestamp | key | value | error
    header: str
    width: int
    right: bool = False  # right-aligned (numbers)


def _needed(present: set[str], error_min: int = ERROR_MIN) -> int:
    need = 2  # mark + select
    if "partition" in present:
        need += GAP + PARTITION_WIDTH
    need += GAP + OFFSET_WIDTH
    if "timestamp" in present:
        need += GAP + TIMESTAMP_WIDTH
    need += GAP + KEY_MIN + GAP + VALUE_MIN
    if "error" in present:
        need += GAP + error_min
    return need


def layout_columns(width: int) -> tuple[Column, ...]:
    """The columns shown in `width` cells (see the module docstring for the drop order)."""
    present = {"error", "timestamp", "partition"}
    error_min = ERROR_MIN
    for name in DROP_ORDER:
        if _needed(present, error_min) <= width:
            break
        if name == "error" and _needed(present, ERROR_SHRUNK) <= width:
            error_min = ERROR_SHRUNK
            break
        present.discard(name)
    fixed = 2 + GAP + OFFSET_WIDTH
    if "partition" in present:
        fixed += GAP + PARTITION_WIDTH
    if "timestamp" in present:
        fixed += GAP + TIMESTAMP_WIDTH
    has_error = "error" in present
    flex = max(0, width - fixed - GAP * (3 if has_error else 2))
    key = max(KEY_MIN, min(flex // 4, KEY_MAX))
    key = min(key, flex - VALUE_MIN - (error_min if has_error else 0))  # the others get their minimum
    key = max(key, min(KEY_MIN, flex // 3))  # no room for the minimums: key takes a third
    rest = flex - key
    error = max(error_min, min(rest * 2 // 5, rest - VALUE_MIN)) if has_error else 0
    value = rest - error
    columns = [Column("mark", " ", 1), Column("select", " ", 1)]
    if "partition" in present:
        columns.append(Column("partition", "part", PARTITION_WIDTH, right=True))
    columns.append(Column("offset", "offset", OFFSET_WIDTH, right=True))
    if "timestamp" in present:
        columns.append(Column("timestamp", "timestamp", TIMESTAMP_WIDTH))
    columns.append(Column("key", "key", key))
    columns.append(Column("value", "value", value))
    if has_error:
        columns.append(Column("error", "error", error))
    return tuple(columns)


def fit_cell(text: str, width: int, *, right: bool = False) -> str:
    """`text` made exactly `width` cells wide: padded, or cut with a trailing ``…``."""
    if width <= 0:
        return ""
    if text.isascii():
        n = len(text)
        if n > width:
            return text[: width - 1] + "…"
    else:
        n = cell_len(text)
        if n > width:
            kept: list[str] = []
            n = 1  # the ellipsis
            for char in text:
                size = get_character_cell_size(char)
                if n + size > width:
                    break
                kept.append(char)
                n += size
            text = "".join(kept) + "…"
            n = cell_len(text)  # measure as the terminal code will (joiners, variation selectors)
            if n > width:
                return set_cell_size(text, width)
    pad = " " * (width - n)
    return pad + text if right else text + pad


def safe_cell(text: str) -> str:
    # The source promises one-line safe text; one_line() returns such a string unchanged (one regex
    # search), and escapes anything else so no control character reaches the terminal.
    return one_line(text)
