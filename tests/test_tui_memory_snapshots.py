"""Snapshot tests (pytest-textual-snapshot) of the full-screen app on the in-memory engine: no
broker, no registry, so they run in `make test-fast`.

Everything that varies between runs is pinned: the sample records carry fixed timestamps (shown
in UTC), the schema is given to the engine under a fixed id, and toasts that come and go with
timing are cleared unless the snapshot is about one. Update with
``pytest tests/test_tui_memory_snapshots.py --snapshot-update`` and look at the SVGs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from dlq_tui.memory_engine import MemoryCommitter, MemoryEngine
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RecordId
from tests.memory_samples import SCHEMAS, compacted_records, sample_records
from tests.memory_tuikit import at, cursor_on, loaded, make_app, part, screen_text, shows, wait_for

SnapCompare = Callable[..., bool]
Before = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture(autouse=True)
def _pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def settle(pilot: Pilot[Any], *, toasts: bool = False) -> None:
    """Past the detail pane's throttle and the last repaint; toasts cleared unless wanted."""
    await pilot.pause(0.1)
    if not toasts:
        pilot.app.clear_notifications()
    await pilot.pause()


def steps(
    *keys: str, filter_text: str | None = None, rows: int | None = None, toasts: bool = False
) -> Before:
    """Wait for the load, optionally apply a filter (waiting for `rows` rows), press `keys`."""

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        if filter_text is not None:
            await pilot.press("slash", *filter_text)
            await shows(pilot, " records match", "#filter")
            await pilot.press("enter")
            await shows(pilot, f"({rows})", "#title")
        for key in keys:
            await pilot.press(key)
        await settle(pilot, toasts=toasts)

    return before


def test_first_screen_120x40(snap_compare: SnapCompare) -> None:
    app, _ = make_app()
    assert snap_compare(app, terminal_size=(120, 40), run_before=steps())


def test_merge_purge_skip_marks_80x24(snap_compare: SnapCompare) -> None:
    app, _ = make_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps("m", "p", "s", "down"))


def test_narrow_terminal_60x16_hides_the_detail(snap_compare: SnapCompare) -> None:
    app, _ = make_app()
    assert snap_compare(app, terminal_size=(60, 16), run_before=steps("m", "space", "space"))


def test_filter_bar_with_a_live_count(snap_compare: SnapCompare) -> None:
    app, _ = make_app()

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"key:ORD00*")
        await shows(pilot, "6 of 16 records match", "#filter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_filter_with_a_syntax_error(snap_compare: SnapCompare) -> None:
    app, _ = make_app()

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"(error:x OR", "enter")
        await shows(pilot, "⚠", "#filter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_filter_applied_and_all_matches_selected(snap_compare: SnapCompare) -> None:
    app, _ = make_app()
    before = steps("a", filter_text="error:*Timeout*", rows=6)
    assert snap_compare(app, terminal_size=(120, 30), run_before=before)


def test_detail_of_a_poison_record(snap_compare: SnapCompare) -> None:
    app, _ = make_app()
    before = steps(filter_text="key:ORD-POISON", rows=1)
    assert snap_compare(app, terminal_size=(100, 36), run_before=before)


def test_detail_of_a_hostile_record_shows_no_escapes_or_markup(snap_compare: SnapCompare) -> None:
    app, _ = make_app()
    before = steps(filter_text="key:ORD-HOST*", rows=1)
    assert snap_compare(app, terminal_size=(120, 40), run_before=before)


def test_detail_in_hex(snap_compare: SnapCompare) -> None:
    app, _ = make_app()
    assert snap_compare(app, terminal_size=(100, 36), run_before=steps("x"))


def test_review_with_a_withheld_tombstone(snap_compare: SnapCompare) -> None:
    app, _ = make_app(MemoryEngine(compacted_records(), compacted=True))

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("p", "p")
        await cursor_on(pilot, 0, 2)
        await pilot.press("c")
        await shows(pilot, "withheld")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_commit_result(snap_compare: SnapCompare) -> None:
    app, _ = make_app()

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("m", "m", "p", "c")
        await shows(pilot, "Commit 3 staged decisions")
        await pilot.press("enter")
        await shows(pilot, "✓ Committed")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_failed_commit(snap_compare: SnapCompare) -> None:
    engine = MemoryEngine(
        sample_records(),
        schemas=SCHEMAS,
        committer=MemoryCommitter(fail_with="broker said NOT_ENOUGH_REPLICAS"),
    )
    app, _ = make_app(engine)

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("m", "p", "c")
        await shows(pilot, "Commit 2 staged decisions")
        await pilot.press("enter")
        await shows(pilot, "NOT_ENOUGH_REPLICAS")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_journal_offer(snap_compare: SnapCompare) -> None:
    offered = {RecordId(0, 0): Decision.MERGE, RecordId(1, 0): Decision.PURGE, RecordId(2, 0): Decision.SKIP}
    app, _ = make_app(offered=offered)

    async def before(pilot: Pilot[Any]) -> None:
        await shows(pilot, "Restore staged decisions?")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_open_error(snap_compare: SnapCompare) -> None:
    app, _ = make_app(open_error="cannot reach the broker at 127.0.0.1:1 (connection refused)")

    async def before(pilot: Pilot[Any]) -> None:
        await shows(pilot, "Cannot open orders-dlq")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 24), run_before=before)


def test_help_screen(snap_compare: SnapCompare) -> None:
    app, _ = make_app()

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        await shows(pilot, "stage merge (copy byte for byte")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 40), run_before=before)


def test_loading_held(snap_compare: SnapCompare) -> None:
    gate = asyncio.Event()  # never set: the snapshot is read no further than its start
    app, _ = make_app(gate=gate)

    async def before(pilot: Pilot[Any]) -> None:
        await shows(pilot, "Loading snapshot", "#progress")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 24), run_before=before)


def test_quit_asks_with_staged_decisions(snap_compare: SnapCompare) -> None:
    app, _ = make_app()

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("m", "p", "q")
        await shows(pilot, "Quit without committing?")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_read_only_80x24(snap_compare: SnapCompare) -> None:
    app, _ = make_app(read_only=True)

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("s", "m")
        await wait_for(pilot, lambda: at(pilot.app) == (0, 1), "the skip's advance")
        assert "read-only" in part(pilot.app, "#staged")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_merge_refused_without_destination_toast(snap_compare: SnapCompare) -> None:
    app, _ = make_app(destination=None)

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        opening = "(dlq-tui SOURCE DESTINATION)"  # the "merge is off" warning on opening
        await shows(pilot, opening)
        pilot.app.clear_notifications()
        await wait_for(pilot, lambda: opening not in screen_text(pilot.app), "the opening warning cleared")
        await pilot.press("m")
        await shows(pilot, "merge is off: no DESTINATION topic was given")
        await settle(pilot, toasts=True)

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)
