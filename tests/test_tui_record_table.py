"""RecordTable: the virtual record table, driven through a tiny host app and a synthetic source."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from dlq_tui.tui.widgets.record_table import (
    RecordTable,
    RowCells,
    fit_cell,
    layout_columns,
)

KINDS = ("", "merge", "purge", "skip", "resolved")
MARKS = {"": "", "merge": "M", "purge": "P", "skip": "S", "resolved": "✓"}


@dataclass
class Rows:
    """N rows computed from their index; counts `cells` calls. Overrides replace single rows."""

    n: int
    selected: set[int] = field(default_factory=set)
    overrides: dict[int, RowCells] = field(default_factory=dict)
    calls: int = 0

    def __len__(self) -> int:
        return self.n

    def cells(self, index: int) -> RowCells:
        if not 0 <= index < self.n:
            raise IndexError(index)
        self.calls += 1
        if index in self.overrides:
            return self.overrides[index]
        kind = KINDS[index % 5]
        return RowCells(
            mark=MARKS[kind],
            style=kind,
            partition=index % 3,
            offset=1000 + index,
            timestamp=f"2026-11-{1 + index % 28:02d}T10:{index % 60:02d}:00",
            key=f"ORD{index:07d}",
            value=f'{{"order": {index}, "reason": "wrong product"}}',
            error="java.net.SocketTimeoutException: read timed out",
            selected=index in self.selected,
        )


class Host(App[None]):
    def __init__(self, source: Rows | None) -> None:
        super().__init__()
        self.source = source
        self.moves: list[int] = []
        self.activated: list[int] = []

    def compose(self) -> ComposeResult:
        yield RecordTable(self.source, id="table")

    def on_mount(self) -> None:
        self.query_one(RecordTable).focus()

    def on_record_table_cursor_moved(self, event: RecordTable.CursorMoved) -> None:
        self.moves.append(event.index)

    def on_record_table_activated(self, event: RecordTable.Activated) -> None:
        self.activated.append(event.index)


def lines(table: RecordTable) -> list[str]:
    """What the table shows now, line by line (header first)."""
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


async def wheel(pilot: Pilot[None], down: bool) -> None:
    # Pilot has no wheel helper; this posts the same events a terminal's wheel produces.
    kind = events.MouseScrollDown if down else events.MouseScrollUp
    await pilot._post_mouse_events([kind], RecordTable, offset=(20, 4))


def test_fit_cell_cuts_with_ellipsis_and_pads() -> None:
    assert fit_cell("abcdef", 4) == "abc…"
    assert fit_cell("ab", 4) == "ab  "
    assert fit_cell("12", 4, right=True) == "  12"
    assert fit_cell("日本語テキスト", 6) == "日本… "  # wide characters count two cells
    assert fit_cell("日本語テキスト", 7) == "日本語…"
    assert fit_cell("日本", 6, right=True) == "  日本"
    assert fit_cell("x", 0) == ""


@pytest.mark.parametrize(
    ("width", "expected"),
    [
        (200, ("mark", "select", "partition", "offset", "timestamp", "key", "value", "error")),
        (101, ("mark", "select", "partition", "offset", "timestamp", "key", "value", "error")),
        (100, ("mark", "select", "partition", "offset", "key", "value", "error")),
        (79, ("mark", "select", "offset", "key", "value", "error")),
        (68, ("mark", "select", "offset", "key", "value", "error")),
        (67, ("mark", "select", "offset", "key", "value")),
        (30, ("mark", "select", "offset", "key", "value")),
    ],
)
def test_layout_drops_timestamp_then_partition_then_error(width: int, expected: tuple[str, ...]) -> None:
    columns = layout_columns(width)
    assert tuple(c.name for c in columns) == expected
    error = next((c.width for c in columns if c.name == "error"), None)
    if width == 79:
        assert error is not None and error >= 20  # 80x24: why the record failed is on screen
    if width == 68:
        assert error == 12  # shrunk before it goes
    if width >= 55:
        assert sum(c.width for c in columns) + len(columns) - 2 == width  # fills the width exactly


async def test_navigation_keys_clamp_and_post_cursor_moved() -> None:
    app = Host(Rows(100))
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(RecordTable)
        rows = table.scrollable_content_region.height - 1
        assert table.cursor == 0
        await pilot.press("up", "k")  # already at the top: clamped, nothing posted
        assert table.cursor == 0
        await pilot.press("down", "j", "down")
        assert table.cursor == 3
        await pilot.press("k")
        assert table.cursor == 2
        await pilot.press("pagedown")
        assert table.cursor == 2 + rows
        await pilot.press("pageup")
        assert table.cursor == 2
        await pilot.press("G")
        assert table.cursor == 99
        await pilot.press("down", "pagedown")
        assert table.cursor == 99
        await pilot.press("g")
        assert table.cursor == 0
        await pilot.press("end", "home", "enter")
        await pilot.pause()
        assert app.moves == [1, 2, 3, 2, 2 + rows, 2, 99, 0, 99, 0]
        assert app.activated == [0]
        table.cursor = 500
        assert table.cursor == 99
        table.cursor = -3
        assert table.cursor == 0


async def test_cursor_stays_visible() -> None:
    app = Host(Rows(200))
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(RecordTable)
        rows = table.scrollable_content_region.height - 1
        for _ in range(rows + 5):
            await pilot.press("down")
        top = table.scroll_offset.y
        assert top <= table.cursor < top + rows
        assert table.cursor == top + rows - 1  # scrolled by the least amount
        assert f"ORD{table.cursor:07d}" in lines(table)[rows]
        await pilot.press("G")
        assert "ORD0000199" in lines(table)[-1]
        assert lines(table)[0].split()[:2] == ["part", "offset"]  # header stays on top


async def test_a_million_rows() -> None:
    source = Rows(1_000_000)
    app = Host(source)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(RecordTable)
        rows = table.scrollable_content_region.height - 1
        assert table.virtual_size.height == 1_000_001
        source.calls = 0
        await pilot.press("G")
        await pilot.pause()
        assert table.cursor == 999_999
        shown = lines(table)
        assert "1000999 2026-11-08T10:39:00" in shown[-1]  # offset and timestamp of row 999,999
        assert f"ORD{999_999:07d}" in shown[-1]
        assert f"ORD{999_999 - rows + 1:07d}" in shown[1]
        # The jump touched only the rows on screen (and the lines re-read above), never the view.
        assert source.calls <= 3 * rows
        await pilot.press("g", "pagedown", "pagedown")
        await pilot.pause()
        assert table.cursor == 2 * rows
        assert f"ORD{2 * rows:07d}" in lines(table)[1 + table.cursor - table.scroll_offset.y]
        await pilot.press("pageup")
        assert table.cursor == rows


async def test_cursor_move_repaints_only_two_lines() -> None:
    app = Host(Rows(1_000))
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(RecordTable)
        await pilot.pause()
        painted: list[int] = []
        original = table.render_line

        def spy(y: int) -> object:
            painted.append(y)
            return original(y)

        table.render_line = spy  # type: ignore[method-assign,assignment]
        await pilot.press("down")
        await pilot.pause()
        assert sorted(set(painted)) == [1, 2]


async def test_cursor_row_reads_without_colour() -> None:
    app = Host(Rows(10))
    async with app.run_test(size=(100, 12)):
        table = app.query_one(RecordTable)
        cursor_styles = [seg.style for seg in table.render_line(1) if seg.style]
        assert cursor_styles and all(s.reverse and s.bold for s in cursor_styles)
        assert not any(seg.style and seg.style.reverse for seg in table.render_line(2))
        assert all(seg.style and seg.style.bold for seg in table.render_line(0))  # header


async def test_narrow_terminal_drops_columns() -> None:
    app = Host(Rows(50))
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(RecordTable)
        assert table.visible_columns() == ("mark", "select", "offset", "key", "value")
        header = lines(table)[0]
        assert "timestamp" not in header and "error" not in header and "part" not in header
        app.query_one(RecordTable).styles.width = 40
        await pilot.pause()
        for line in lines(table):
            assert len(line) <= 40
    app = Host(Rows(50))
    async with app.run_test(size=(160, 10)):
        table = app.query_one(RecordTable)
        assert "error" in table.visible_columns()
        assert "SocketTimeoutException" in lines(table)[1]


async def test_80_columns_show_the_error_and_columns_do_not_move_with_the_scrollbar() -> None:
    app = Host(Rows(3))  # no scrollbar
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(RecordTable)
        assert table.visible_columns() == ("mark", "select", "offset", "key", "value", "error")
        short = lines(table)[:4]
        assert "java.net.Socket" in short[1]
        table.set_source(Rows(100), cursor=0)  # now the scrollbar shows
        await pilot.pause()
        assert table.scrollbars_enabled[0]
        tall = lines(table)[:4]
        assert [line.rstrip() for line in tall] == [line.rstrip() for line in short]


async def test_markup_and_control_characters_show_literally() -> None:
    source = Rows(3)
    source.overrides[1] = RowCells(
        mark="M",
        style="merge",
        partition=0,
        offset=7,
        timestamp="2026-11-01T00:00:00",
        key="[bold]x[/]",
        value="[red]not red[/red] \x1b[31mESC\x07 line\nbreak",
        error="[link=http://evil]click[/link]",
    )
    app = Host(source)
    async with app.run_test(size=(160, 10)):
        table = app.query_one(RecordTable)
        strip = table.render_line(2)
        text = strip.text
        assert "[bold]x[/]" in text
        assert "[red]not red[/red]" in text
        assert "[link=http://evil]click" in text
        assert "\x1b" not in text and "\x07" not in text and "\n" not in text
        assert "\\x1b[31mESC\\x07 line↵break" in text
        assert not any(seg.style and seg.style.link for seg in strip)


async def test_rows_changed_grows_the_scrollable_area() -> None:
    source = Rows(5)
    app = Host(source)
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(RecordTable)
        assert table.virtual_size.height == 6
        assert table.max_scroll_y == 0
        source.n = 500
        table.rows_changed(5)
        await pilot.pause()
        assert table.virtual_size.height == 501
        assert table.max_scroll_y == 501 - table.scrollable_content_region.height
        await pilot.press("G")
        assert table.cursor == 499
        assert "ORD0000499" in lines(table)[-1]
        # a decided row is redrawn after rows_changed(range)
        await pilot.press("g")
        source.overrides[0] = RowCells("P", "purge", 0, 1000, "t", "ORD0000000", "v", "e")
        table.rows_changed(0, 1)
        assert lines(table)[1].startswith("P")


async def test_set_source_keeps_cursor_and_clamps() -> None:
    app = Host(Rows(100))
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(RecordTable)
        await pilot.press("down", "down", "down")
        table.set_source(Rows(50))
        await pilot.pause()
        assert table.cursor == 3
        table.set_source(Rows(2))
        await pilot.pause()
        assert table.cursor == 1
        table.set_source(Rows(40), cursor=30)
        await pilot.pause()
        assert table.cursor == 30
        assert "ORD0000030" in "".join(lines(table))
        assert app.moves[-3:] == [3, 1, 30]


async def test_empty_source_placeholder() -> None:
    source = Rows(0)
    app = Host(source)
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(RecordTable)
        shown = lines(table)
        placeholder = [line for line in shown[1:] if line.strip()]
        assert [p.strip() for p in placeholder] == ["no unresolved records"]
        assert placeholder[0].index("no") in range(25, 35)  # centred
        await pilot.press("down", "G", "enter")
        assert table.cursor == 0 and app.activated == [] and app.moves == []
        table.empty_text = "no records match key:ORD*"
        await pilot.pause()
        assert any(line.strip() == "no records match key:ORD*" for line in lines(table))
        source.n = 3
        table.rows_changed()
        await pilot.pause()
        assert app.moves == [0]
        assert "ORD0000000" in lines(table)[1]


async def test_click_moves_cursor_and_wheel_keeps_it_visible() -> None:
    app = Host(Rows(300))
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(RecordTable)
        rows = table.scrollable_content_region.height - 1
        await pilot.click(RecordTable, offset=(20, 4))
        assert table.cursor == 3
        await pilot.click(RecordTable, offset=(20, 0))  # the header: no move
        assert table.cursor == 3
        for _ in range(5):
            await wheel(pilot, down=True)
        await pilot.pause()
        top = table.scroll_offset.y
        assert top == 5 * RecordTable.WHEEL_LINES
        assert top <= table.cursor < top + rows
        await wheel(pilot, down=False)
        await pilot.pause()
        assert table.scroll_offset.y == top - RecordTable.WHEEL_LINES
        assert table.scroll_offset.y <= table.cursor < table.scroll_offset.y + rows


def snapshot_rows() -> Rows:
    source = Rows(50, selected={2, 3, 7, 11})
    source.overrides[4] = RowCells(
        mark="",
        style="",
        partition=1,
        offset=4,
        timestamp="2026-11-01T10:04:00",
        key="[bold]not bold[/]",
        value="日本語 payload — wide characters and a very long value that must be cut with an ellipsis",
        error="",
    )
    return source


def test_snapshot_80x24(snap_compare: object) -> None:
    app = Host(snapshot_rows())
    assert snap_compare(app, press=["down", "down", "down"], terminal_size=(80, 24))  # type: ignore[operator]


async def test_scan_open_is_bounded() -> None:
    from dlq_tui.memory_engine import MemoryEngine
    from dlq_tui.triage.decisions import Decision
    from dlq_tui.triage.records import RawRecord
    from dlq_tui.tui.rows import Selection, ViewRows

    engine = MemoryEngine([RawRecord(0, o, 0, 0, b"k", b"v") for o in range(10_000)], destination=None)
    await engine.open()
    await engine.load_all()
    engine.decide([r for r in range(10_000) if r != 9_000], Decision.SKIP)
    view = ViewRows(engine, Selection(), range(10_000))
    assert view.scan_open(0, 1, 5_000) == (None, 5_001)  # gave up: go on from 5,001 in a worker
    assert view.find_open(5_001) == 9_000
    assert view.scan_open(8_000, 1, 5_000) == (9_000, None)
    assert view.scan_open(9_000, 1, 5_000) == (None, None)  # none below
    assert view.scan_open(9_500, -1, 5_000) == (9_000, None)
    assert view.scan_open(-1, 1, 5_000, stop=100) == (None, None)
