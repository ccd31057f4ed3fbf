"""Tombstones and undecodable records in the app (issues 12.1 and 13.4), on the in-memory engine:
tombstones are hidden and counted, a merge of one takes a separate confirmation; a filter says how
many records it could not judge and leaves them out."""

from __future__ import annotations

import json
from typing import Any

from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord
from dlq_tui.tui.app import DlqApp
from tests.tuikit import screen_text, wait_loaded, wait_until


def _records() -> list[RawRecord]:
    out = [
        RawRecord(0, o, 1_793_610_000_000, 0, f"K{o}".encode(), json.dumps({"reason": "wrong"}).encode())
        for o in range(4)
    ]
    out.append(RawRecord(0, 4, 1_793_610_000_000, 0, b"K1", None))  # an earlier purge's tombstone
    out.append(
        RawRecord(0, 5, 1_793_610_000_000, 0, b"K5", b"\x00\x00\x00\x00\x07poison")
    )  # schema 7 unknown
    return out


async def test_tombstones_are_hidden_and_counted() -> None:
    engine = MemoryEngine(_records(), compacted=True)
    app = DlqApp(engine)
    async with app.run_test(size=(140, 30)) as pilot:
        screen: Any = await wait_loaded(pilot)
        await wait_until(pilot, lambda: "1 tombstone (null value) hidden" in screen_text(app))
        assert len(screen.table.view) == 5
        assert "(null: tombstone)" not in screen_text(app)


async def test_merging_a_shown_tombstone_takes_a_separate_confirmation() -> None:
    engine = MemoryEngine(_records(), compacted=True)
    engine.config = type(engine.config)(**{**engine.config.__dict__, "show_tombstones": True})
    app = DlqApp(engine)
    async with app.run_test(size=(140, 30)) as pilot:
        screen: Any = await wait_loaded(pilot)
        await wait_until(pilot, lambda: len(screen.table.view) == 6)
        await pilot.press("G", "k")  # the tombstone, offset 4
        assert engine.is_tombstone(screen.table.cursor_row())
        await pilot.press("m")
        await wait_until(pilot, lambda: "Merge a tombstone?" in screen_text(app))
        await pilot.press("escape")
        assert engine.staged_counts()[Decision.MERGE] == 0
        await pilot.press("m")
        await wait_until(pilot, lambda: "Merge a tombstone?" in screen_text(app))
        await pilot.press("t")
        await wait_until(pilot, lambda: engine.staged_counts()[Decision.MERGE] == 1)


async def test_a_filter_leaves_undecodable_records_out_and_says_so() -> None:
    engine = MemoryEngine(_records())
    app = DlqApp(engine)
    async with app.run_test(size=(140, 30)) as pilot:
        screen: Any = await wait_loaded(pilot)
        await pilot.press("slash", *"NOT value.reason:wrong")
        await wait_until(pilot, lambda: "1 undecodable" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.table.filter_text == "NOT value.reason:wrong")
        assert len(screen.table.view) == 0, "the poison record is not taken for a match of the negation"
        await wait_until(pilot, lambda: "1 undecodable records left out" in screen_text(app))
