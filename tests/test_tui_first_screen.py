"""The first screen and the filter's landing row, on the in-memory engine (no broker): issue 12's
"wrong first position" and "a filter jumps past its first match", and the footer at 60 columns."""

from __future__ import annotations

import asyncio
from typing import Any

from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.records import RawRecord
from dlq_tui.tui.app import DlqApp
from tests.tuikit import screen_text, wait_loaded, wait_until


def _record(partition: int, offset: int, text: str = "") -> RawRecord:
    value = f'{{"orderNumber": "ORD-{partition}-{offset}", "note": "{text}"}}'.encode()
    return RawRecord(
        partition, offset, 1_793_610_000_000 + offset, 0, f"K{partition}-{offset}".encode(), value
    )


def _interleaved() -> list[RawRecord]:
    """Partitions 2 and 1 arrive before partition 0, and then alternate (as fetches interleave)."""
    records = [_record(2, o) for o in range(40)] + [_record(1, o) for o in range(40)]
    for o in range(0, 400, 40):
        records += [_record(0, o + i) for i in range(40)] + [_record(1, 40 + o + i) for i in range(40)]
    return records


async def test_opens_on_the_first_row_however_partitions_interleave() -> None:
    gate = asyncio.Event()
    engine = MemoryEngine(_interleaved(), batch_size=40, gate=gate)
    app = DlqApp(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen_stack[0]
        gate.set()
        await wait_loaded(pilot)
        await pilot.pause(0.2)
        table = screen.table  # type: ignore[attr-defined]
        assert table.cursor == 0
        first = table.cursor_row()
        assert (engine.partition_at(first), engine.offset_at(first)) == (0, 0)
        assert "partition 0 · offset 0" in screen_text(app), "the detail pane shows the row under the cursor"


async def test_after_moving_the_cursor_stays_on_its_row_while_rows_load() -> None:
    gate = asyncio.Event()
    engine = MemoryEngine(_interleaved(), batch_size=40, gate=gate)
    app = DlqApp(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen: Any = app.screen_stack[0]
        gate.set()
        await wait_until(pilot, lambda: screen.table.view and len(screen.table.view) >= 80)
        gate.clear()
        await pilot.press("j", "j")
        row = screen.table.cursor_row()
        gate.set()
        await wait_loaded(pilot)
        assert screen.table.cursor_row() == row


async def test_a_filter_lands_on_its_first_match() -> None:
    records = [_record(0, o, "ANSI" if o in (3, 90, 95) else "") for o in range(100)]
    app = DlqApp(MemoryEngine(records))
    async with app.run_test(size=(100, 30)) as pilot:
        screen: Any = await wait_loaded(pilot)
        await pilot.press("G")  # near the end, below the first match
        assert screen.table.cursor == 99
        await pilot.press("slash", *"ANSI", "enter")
        await wait_until(pilot, lambda: screen.table.filter_text == "ANSI")
        row = screen.table.cursor_row()
        assert screen.engine.offset_at(row) == 3
        assert "offset 3" in screen_text(app)


async def test_the_footer_has_no_stray_character_at_60_columns() -> None:
    app = DlqApp(MemoryEngine([_record(0, o) for o in range(5)]))
    async with app.run_test(size=(60, 16)) as pilot:
        await wait_loaded(pilot)
        await wait_until(pilot, lambda: "Merge" in screen_text(app).splitlines()[-1])
        footer = screen_text(app).splitlines()[-1]
        assert "palette" not in footer and "▏" not in footer
        assert footer.startswith("m Merge p Purge")
