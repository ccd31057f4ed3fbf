"""`RecordTable`: the virtual record table of the triage screen.

A Line API widget (`ScrollView` + `render_line`), not a `DataTable`: rows are asked of a `RowSource`
only when they are on screen, and rendered rows are kept in a small LRU cache of strips. No work
per keypress or per paint depends on the number of rows, so moving the cursor costs the same with a
million rows as with a thousand.

Columns and their layout are in `table_layout` (what is shown at which width).

Payload text is never parsed as markup: cells go into `Segment`s as plain text, and anything a
terminal could interpret (control characters, bidi overrides) is escaped once more here, though the
source is expected to hand over safe one-line text already.

Styles are component classes (``record-table--header``, ``--cursor``, ``--merge``, ``--purge``,
``--skip``, ``--resolved``, ``--selected``) so the app's stylesheet can override them. The defaults
use text styles (reverse, bold, dim) as well as colour, so they still read under ``NO_COLOR``.

Keys: up/k, down/j, pageup, pagedown, home/g, end/G, enter (posts `Activated`). A click moves the
cursor (a double click activates); the mouse wheel scrolls the view and drags the cursor along so
that it never leaves the screen (the row the engineer acts on is always the one they can see).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dlq_tui.tui.widgets.table_layout import (
    GAP,
    Column,
    EmptySource,
    RowCells,
    RowSource,
    fit_cell,
    layout_columns,
    safe_cell,
)

__all__ = ["Column", "RecordTable", "RowCells", "RowSource", "fit_cell", "layout_columns"]


# --- the widget ----------------------------------------------------------------------------------

_BOLD: Final = Style(bold=True)
_SEP: Final = " " * GAP
_KINDS: Final = frozenset({"merge", "purge", "skip", "resolved"})
_CacheKey = tuple[int, int, int, bool]  # (row index, width, version, is cursor row)


class RecordTable(ScrollView, can_focus=True, inherit_bindings=False):
    """A virtual table over a `RowSource` (see the module docstring)."""

    ALLOW_SELECT = False  # text selection makes no sense over a virtual table

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "cursor_top", "Top", show=False),
        Binding("end,G", "cursor_bottom", "Bottom", show=False),
        Binding("enter", "activate", "Open", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header",
        "record-table--cursor",
        "record-table--merge",
        "record-table--purge",
        "record-table--skip",
        "record-table--resolved",
        "record-table--selected",
        "record-table--empty",
    }

    DEFAULT_CSS = """
    RecordTable {
        width: 1fr;
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        background: $surface;
        color: $foreground;
        & > .record-table--header { background: $panel; color: $text; text-style: bold; }
        & > .record-table--cursor { text-style: reverse bold; }
        & > .record-table--merge { color: $text-success; }
        & > .record-table--purge { color: $text-error; }
        & > .record-table--skip { color: $text-warning; }
        & > .record-table--resolved { text-style: dim; }
        & > .record-table--selected { background: $primary-muted; }
        & > .record-table--empty { text-style: italic dim; }
    }
    """

    WHEEL_LINES: ClassVar[int] = 3
    CACHE_SIZE: ClassVar[int] = 512

    cursor: reactive[int] = reactive(0, init=False, repaint=False)
    """Index of the cursor row in the view; clamped to ``[0, len - 1]`` (0 when empty)."""

    empty_text: reactive[str] = reactive("no unresolved records")
    """Shown, centred, when the view has no rows."""

    class _RowMessage(Message):
        def __init__(self, index: int, *, table: RecordTable | None = None) -> None:
            super().__init__()
            self.index = index
            self.table = table

        @property
        def control(self) -> RecordTable | None:
            return self.table

    class CursorMoved(_RowMessage):
        """The cursor moved to view row `index` (also posted after `set_source` on a non-empty view,
        and when an empty view gets its first row). Not debounced."""

    class Activated(_RowMessage):
        """Enter (or a double click) on view row `index`."""

    def __init__(
        self,
        source: RowSource | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rt_source: RowSource = source if source is not None else EmptySource()
        self._rt_version = 0
        self._rt_rows: OrderedDict[_CacheKey, Strip] = OrderedDict()
        self._rt_header: tuple[int, int, Strip] | None = None  # (width, version, strip)
        self._rt_layout: tuple[int, tuple[Column, ...]] | None = None
        self._rt_styles: dict[tuple[str, bool, bool], Style] = {}
        self._rt_virtual_rows = 0
        self._update_virtual_size()

    # --- public API --------------------------------------------------------------------------

    @property
    def source(self) -> RowSource:
        return self._rt_source

    @property
    def row_count(self) -> int:
        return len(self._rt_source)

    def set_source(self, source: RowSource, *, cursor: int | None = None) -> None:
        """Show a new view (e.g. after a filter). The cursor stays at its index (or moves to `cursor`
        if given), clamped to the new view; `CursorMoved` is posted if the view has rows."""
        old = self.cursor
        self._rt_source = source
        self._invalidate()
        self._update_virtual_size()
        self.set_reactive(RecordTable.cursor, self._clamp(old if cursor is None else cursor))
        self.refresh()
        self._scroll_to_cursor()
        if len(source):
            self.post_message(self.CursorMoved(self.cursor, table=self))

    def rows_changed(self, start: int | None = None, end: int | None = None) -> None:
        """Rows were appended, decided or (de)selected. With no arguments every row is redrawn;
        otherwise view rows ``start`` (inclusive) to ``end`` (exclusive; ``None`` = to the end) are.
        Updates the scrollable size. Cost: the cache size plus the rows on screen, never the view."""
        was_empty = self._rt_virtual_rows == 0
        n = len(self._rt_source)
        if start is None:
            self._invalidate()
            self.refresh()
        else:
            stop = n if end is None else end
            if stop > start:
                for key in [k for k in self._rt_rows if start <= k[0] < stop]:
                    del self._rt_rows[key]
                top = self.scroll_offset.y
                first, last = max(start, top), min(stop, top + self._rows_height())
                if first < last:
                    self.refresh_lines(first + 1, last - first)
        self._update_virtual_size()
        clamped = self._clamp(self.cursor)
        if clamped != self.cursor:
            self.cursor = clamped  # posts CursorMoved
        elif was_empty and n:
            self.refresh()
            self.post_message(self.CursorMoved(self.cursor, table=self))

    def visible_columns(self) -> tuple[str, ...]:
        """Names of the columns shown at the current width."""
        return tuple(c.name for c in self._columns(self._layout_width()))

    # --- geometry ------------------------------------------------------------------------------

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def _layout_width(self) -> int:
        """The width the columns are laid out on: as if the vertical scrollbar were shown."""
        return max(0, self.size.width - self.styles.gutter.width - self.styles.scrollbar_size_vertical)

    def _rows_height(self) -> int:
        """Lines available for rows (the viewport minus the header); at least 1."""
        return max(1, self.scrollable_content_region.height - 1)

    def _clamp(self, index: int) -> int:
        n = len(self._rt_source)
        return 0 if n == 0 else max(0, min(index, n - 1))

    def _update_virtual_size(self) -> None:
        n = len(self._rt_source)
        self._rt_virtual_rows = n
        size = Size(self._content_width() if self.is_mounted else 0, n + 1)
        if size != self.virtual_size:
            self.virtual_size = size

    def _scroll_to_cursor(self) -> None:
        rows = self._rows_height()
        top = self.scroll_offset.y
        cursor = self.cursor
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, force=True)
        elif cursor >= top + rows:
            self.scroll_to(y=cursor - rows + 1, animate=False, force=True)

    def _refresh_row(self, index: int) -> None:
        y = index - self.scroll_offset.y + 1
        if 1 <= y <= self._rows_height():
            self.refresh(Region(0, y, self.size.width, 1))

    def _invalidate(self) -> None:
        self._rt_version += 1
        self._rt_rows.clear()

    # --- cursor ----------------------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        return self._clamp(value)

    def watch_cursor(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._scroll_to_cursor()
        self._refresh_row(new)
        if len(self._rt_source):
            self.post_message(self.CursorMoved(new, table=self))

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_page_up(self) -> None:
        self._page(-self._rows_height())

    def action_page_down(self) -> None:
        self._page(self._rows_height())

    def _page(self, delta: int) -> None:
        # Move the view and the cursor together, so the cursor keeps its place on the screen.
        self.scroll_to(y=self.scroll_offset.y + delta, animate=False, force=True)
        self.cursor += delta

    def action_cursor_top(self) -> None:
        self.cursor = 0

    def action_cursor_bottom(self) -> None:
        self.cursor = len(self._rt_source) - 1

    def action_activate(self) -> None:
        if len(self._rt_source):
            self.post_message(self.Activated(self.cursor, table=self))

    # --- events ----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._update_virtual_size()

    def on_resize(self, event: events.Resize) -> None:
        self._rt_layout = None
        self._update_virtual_size()
        self._scroll_to_cursor()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = self.scroll_offset.y + offset.y - 1
        if index >= len(self._rt_source):
            return
        event.stop()
        self.focus()
        self.cursor = index
        if event.chain >= 2:
            self.post_message(self.Activated(index, table=self))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, self.WHEEL_LINES)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, -self.WHEEL_LINES)

    def _wheel(self, event: events.MouseEvent, delta: int) -> None:
        event.prevent_default()  # replaces ScrollView's own wheel handling
        event.stop()
        top = max(0, min(self.scroll_offset.y + delta, self.max_scroll_y))
        self.scroll_to(y=top, animate=False, force=True)
        self.cursor = max(top, min(self.cursor, top + self._rows_height() - 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rt_styles.clear()
        self._rt_header = None
        self._invalidate()

    def watch_empty_text(self) -> None:
        self.refresh()

    # --- rendering -------------------------------------------------------------------------------

    def _columns(self, width: int) -> tuple[Column, ...]:
        cached = self._rt_layout
        if cached is None or cached[0] != width:
            cached = self._rt_layout = (width, layout_columns(width))
        return cached[1]

    def _row_style(self, kind: str, selected: bool, cursor: bool) -> Style:
        key = (kind, selected, cursor)
        style = self._rt_styles.get(key)
        if style is None:
            style = self.rich_style
            if kind in _KINDS:
                style += self.get_component_rich_style(f"record-table--{kind}", partial=True)
            if selected:
                style += self.get_component_rich_style("record-table--selected", partial=True)
            if cursor:
                style += self.get_component_rich_style("record-table--cursor", partial=True)
            self._rt_styles[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self._content_width()
        if y == 0:
            return self._header(width)
        n = len(self._rt_source)
        if n == 0:
            return self._placeholder(y, width)
        index = self.scroll_offset.y + y - 1
        if index >= n:
            return Strip.blank(width, self.rich_style)
        is_cursor = index == self.cursor
        key = (index, width, self._rt_version, is_cursor)
        cache = self._rt_rows
        strip = cache.get(key)
        if strip is None:
            strip = self._render_row(index, width, is_cursor)
            cache[key] = strip
            if len(cache) > self.CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return strip

    def _header(self, width: int) -> Strip:
        cached = self._rt_header
        if cached is not None and cached[0] == width and cached[1] == self._rt_version:
            return cached[2]
        style = self.rich_style + self.get_component_rich_style("record-table--header", partial=True)
        text = _SEP.join(
            fit_cell(c.header, c.width, right=c.right)
            for c in self._columns(self._layout_width())[2:]
            if c.width
        )
        strip = Strip([Segment("  " + _SEP + text, style)]).adjust_cell_length(width, style)
        self._rt_header = (width, self._rt_version, strip)
        return strip

    def _placeholder(self, y: int, width: int) -> Strip:
        base = self.rich_style
        if y != 1 + (self._rows_height() - 1) // 2:
            return Strip.blank(width, base)
        style = base + self.get_component_rich_style("record-table--empty", partial=True)
        text = fit_cell(safe_cell(self.empty_text), width)
        text = text.strip()
        left = max(0, (width - cell_len(text)) // 2)
        return Strip([Segment(" " * left, base), Segment(text, style)]).adjust_cell_length(width, base)

    def _render_row(self, index: int, width: int, is_cursor: bool) -> Strip:
        cells = self._rt_source.cells(index)
        style = self._row_style(cells.style, cells.selected, is_cursor)
        segments = [
            Segment(fit_cell(safe_cell(cells.mark), 1), style + _BOLD),
            Segment("●" if cells.selected else " ", style),
        ]
        # Plain ASCII runs go into as few segments as possible; anything else (the "…" of a cut
        # cell, wide characters) gets its own segment, so that measuring a segment stays on Rich's
        # fast all-single-cell path instead of a per-character walk over the whole row.
        run: list[str] = []
        total = 2
        for column in self._columns(self._layout_width())[2:]:
            name = column.name
            if not column.width:
                continue
            if name == "partition":
                text = str(cells.partition)
            elif name == "offset":
                text = str(cells.offset)
            elif name == "timestamp":
                text = safe_cell(cells.timestamp)
            elif name == "key":
                text = safe_cell(cells.key)
            elif name == "value":
                text = safe_cell(cells.value)
            else:
                text = safe_cell(cells.error)
            run.append(_SEP)
            cell = fit_cell(text, column.width, right=column.right)
            total += GAP + column.width
            if cell.isascii():
                run.append(cell)
                continue
            if cell[-1] == "…" and cell[:-1].isascii():
                run.append(cell[:-1])
                cell = "…"
            segments.append(Segment("".join(run), style))
            segments.append(Segment(cell, style))
            run = []
        if run:
            segments.append(Segment("".join(run), style))
        return Strip(segments, total).adjust_cell_length(width, style)
