"""Pilot tests of the full-screen app on the in-memory engine: no broker, no registry.

Each test uses the app as a person does (keys through the pilot) and asserts on what the screen
draws (widgets by id, their rendered text) and on the engine's public interface. What these tests
claim is the screen's behaviour; what Kafka does with a commit is proven against the real broker
(tests/test_tui_app.py, tests/test_engine.py)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot

from dlq_tui.memory_engine import MemoryCommitter, MemoryEngine
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RecordId
from dlq_tui.tui.app import DlqApp
from tests.memory_samples import (
    HOSTILE_TEXTS,
    SCHEMAS,
    compacted_records,
    ordinary_records,
    sample_records,
)
from tests.memory_tuikit import (
    at,
    cursor_on,
    loaded,
    make_app,
    part,
    screen_text,
    shows,
    wait_for,
)

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Timestamps shown in UTC; no journal or state outside the test's directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def counts(engine: MemoryEngine) -> tuple[int, int, int]:
    staged = engine.staged_counts()
    return staged[Decision.MERGE], staged[Decision.PURGE], staged[Decision.SKIP]


def table_lines(app: App[Any]) -> list[str]:
    """The table's record lines (the header line dropped)."""
    lines = part(app, "#records").splitlines()
    return [line for line in lines[1:] if re.match(r"^.\s+\d+\s+\d+ ", line)]


def line_of(app: App[Any], key: str) -> str:
    """The table line showing `key` (exactly one)."""
    found = [line for line in table_lines(app) if f" {key} " in line]
    assert len(found) == 1, (key, table_lines(app))
    return found[0]


def mark(app: App[Any], key: str) -> str:
    """The decision mark in the first column of `key`'s line ("M", "P", "S" or " ")."""
    return line_of(app, key)[0]


def row_of(engine: MemoryEngine, partition: int, offset: int) -> int:
    """The engine's row number of a record (through the engine's public reads)."""
    for row in range(engine.row_count()):
        if engine.partition_at(row) == partition and engine.offset_at(row) == offset:
            return row
    raise AssertionError(f"no row {partition}/{offset}")


async def apply_filter(pilot: Pilot[Any], text: str, matches: int) -> None:
    """Type `text` into the filter bar, wait for the live count, apply it."""
    await pilot.press("slash", *text)
    await shows(pilot, f"{matches} of ", "#filter")
    await pilot.press("enter")
    await wait_for(pilot, lambda: len(table_lines(pilot.app)) == matches, f"{matches} rows after the filter")


# -- first screen, the cursor ---------------------------------------------------------------------


async def test_first_screen_shows_the_rows_and_the_first_record() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        assert part(app, "#title").strip().startswith("orders-dlq → orders-retry")
        assert "group orders-consumer" in part(app, "#title")
        lines = table_lines(app)
        assert len(lines) == 16
        assert " ORD001 " in lines[0]
        assert '"orderNumber":"ORD001"' in lines[0]
        assert "OrderNotFoundException" in lines[0]
        await cursor_on(pilot, 0, 0)
        detail = await shows(pilot, "key ORD001", "#detail")
        assert '"reason": "Found a cheaper offer"' in detail  # the Avro value, decoded
        assert "original offset    5000" in detail  # Spring's binary long header, decoded
        assert "original partition 0" in detail
        assert "17 records · 17 unresolved · 0 decided" in part(app, "#progress")
        assert "nothing staged" in part(app, "#staged")


async def test_cursor_moves_with_j_k_and_arrows_and_the_detail_follows() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await cursor_on(pilot, 0, 0)
        await pilot.press("j")
        await cursor_on(pilot, 0, 1)
        await pilot.press("down", "down")
        await cursor_on(pilot, 0, 3)
        await shows(pilot, "key ORD-POISON", "#detail")
        await pilot.press("k")
        await cursor_on(pilot, 0, 2)
        await pilot.press("up", "up", "up")  # stops at the first row
        await cursor_on(pilot, 0, 0)


async def test_g_and_G_go_to_the_first_and_the_last_row() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("G")
        await cursor_on(pilot, 2, 4)
        await shows(pilot, "key ORD-BADUTF8", "#detail")
        await pilot.press("g")
        await cursor_on(pilot, 0, 0)


async def test_page_down_and_up_move_by_a_screenful() -> None:
    app, _ = make_app(MemoryEngine(ordinary_records(90, partitions=1), schemas=SCHEMAS))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        first_page = table_lines(app)
        assert " ORD001 " in first_page[0]
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: (at(app) or (0, 0))[1] >= len(first_page) - 1, "a page down")
        offset = at(app)
        assert offset is not None
        # The table scrolled: the row under the cursor is drawn, the first row is not.
        assert any(f" ORD{offset[1] + 1:03d} " in line for line in table_lines(app))
        assert not any(" ORD001 " in line for line in table_lines(app))
        await pilot.press("pageup")
        await cursor_on(pilot, 0, 0)
        assert " ORD001 " in table_lines(app)[0]


# -- decisions --------------------------------------------------------------------------------------


async def test_merge_marks_the_row_and_moves_to_the_next_open_record() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m")
        await cursor_on(pilot, 0, 1)
        assert mark(app, "ORD001") == "M"
        assert mark(app, "ORD004") == " "
        assert engine.decision(row_of(engine, 0, 0)) is Decision.MERGE
        await shows(pilot, "1 merge · 0 purge · 0 skip · uncommitted", "#staged")
        await shows(pilot, "1 decided", "#progress")


async def test_purge_and_skip_marks_and_counts() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("p", "s")
        await cursor_on(pilot, 0, 2)
        assert (mark(app, "ORD001"), mark(app, "ORD004")) == ("P", "S")
        assert counts(engine) == (0, 1, 1)
        await shows(pilot, "0 merge · 1 purge · 1 skip · uncommitted", "#staged")


async def test_auto_advance_passes_over_decided_rows_and_wraps_to_the_top() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("down", "s", "g")  # ORD004 skipped; back to ORD001
        await cursor_on(pilot, 0, 0)
        await pilot.press("m")  # the next open record is ORD-J3: ORD004 is decided
        await cursor_on(pilot, 0, 2)
        await pilot.press("G", "p")  # the last row: wraps to the first open one from the top
        await cursor_on(pilot, 0, 2)
        assert counts(engine) == (1, 1, 1)


async def test_deciding_the_last_open_record_says_everything_is_decided() -> None:
    app, engine = make_app(MemoryEngine(ordinary_records(2, partitions=1), schemas=SCHEMAS))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "p")
        await shows(pilot, "every record shown is decided: c to review and commit", "#staged")
        assert counts(engine) == (1, 1, 0)


async def test_undo_takes_back_the_decision_on_the_cursor_row() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "p", "up")
        await cursor_on(pilot, 0, 1)
        await pilot.press("u")
        await wait_for(pilot, lambda: mark(app, "ORD004") == " ", "the purge mark gone")
        assert mark(app, "ORD001") == "M"
        assert counts(engine) == (1, 0, 0)
        await shows(pilot, "1 merge · 0 purge · 0 skip", "#staged")
        await pilot.press("u")  # nothing staged here any more
        await shows(pilot, "nothing staged on this record", "#staged")


async def test_space_selects_rows_and_a_decision_applies_to_the_selection() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("space", "space")  # selects ORD001 and ORD004, moving down
        await cursor_on(pilot, 0, 2)
        await shows(pilot, "2 selected", "#staged")
        await pilot.press("p")
        await shows(pilot, "purge staged on 2 of 2 selected records", "#staged")
        assert "selected │" not in part(app, "#staged")
        assert (mark(app, "ORD001"), mark(app, "ORD004"), mark(app, "ORD-J3")) == ("P", "P", " ")
        assert counts(engine) == (0, 2, 0)


async def test_a_selects_all_shown_and_escape_clears_the_selection() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        await shows(pilot, "16 selected", "#staged")
        await shows(pilot, "selected 16 more records shown", "#staged")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "selected │" not in part(app, "#staged"), "the selection cleared")
        await pilot.press("s")  # acts on the cursor row alone now
        assert counts(engine) == (0, 0, 1)


# -- the filter -----------------------------------------------------------------------------------


async def test_filter_bar_opens_counts_live_and_applies() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        assert "enter: show matches" not in screen_text(app)
        await pilot.press("slash")
        await shows(pilot, "enter: show matches", "#filter")
        assert app.focused is app.screen.query_one("#filter-input")
        await pilot.press(*"key:ORD00*")
        await shows(pilot, "6 of 16 records match", "#filter")
        await pilot.press("backspace", "1")  # key:ORD001: live count follows typing
        await shows(pilot, "1 of 16 records match", "#filter")
        await pilot.press("backspace", "*", "enter")
        await wait_for(pilot, lambda: len(table_lines(app)) == 6, "6 rows")
        assert "enter: show matches" not in screen_text(app)
        await shows(pilot, "filter key:ORD00* (6)", "#title")
        assert all(re.search(r" ORD00\d ", line) for line in table_lines(app))


async def test_filter_syntax_error_shows_where_and_is_not_applied() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"(error:x OR", "enter")
        text = await shows(pilot, "⚠", "#filter")
        lines = text.splitlines()
        caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
        # The filter again, with a caret just past its end, where a term is missing.
        assert lines[caret - 1].strip() == "(error:x OR"
        assert lines[caret].index("^") == len(lines[caret - 1])
        assert "expected a term after 'OR' at column 12" in text
        assert len(table_lines(app)) == 16  # not applied
        assert "filter" not in part(app, "#title")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "⚠" not in screen_text(app), "the bar closed")


async def test_an_unknown_field_is_an_error_that_names_the_known_ones() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"colour:red")
        text = await shows(pilot, "⚠", "#filter")
        assert "colour" in text
        assert "key" in text.split("⚠", 1)[1]


async def test_the_cursor_lands_on_the_first_match_and_stays_on_its_row_when_cleared() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("G")  # p2/4, below every match
        await cursor_on(pilot, 2, 4)
        await apply_filter(pilot, "key:ORD-J*", 4)
        await cursor_on(pilot, 0, 2)  # ORD-J3, the first match (docs/keys.md)
        await pilot.press("down")
        await cursor_on(pilot, 1, 2)  # ORD-J1
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")  # clear
        await wait_for(pilot, lambda: len(table_lines(app)) == 16, "all rows")
        await cursor_on(pilot, 1, 2)  # still on ORD-J1, now among all rows
        await pilot.press("down")
        await cursor_on(pilot, 1, 3)  # ORD-J4 follows it in the full table


async def test_an_empty_filter_clears_it() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await apply_filter(pilot, "error:*Timeout*", 6)
        await shows(pilot, "filter error:*Timeout* (6)", "#title")
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")
        await wait_for(pilot, lambda: len(table_lines(app)) == 16, "all 16 rows again")
        assert "filter" not in part(app, "#title")


async def test_a_filter_without_matches_says_so() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"key:NOPE")
        await shows(pilot, "0 of 16 records match", "#filter")
        await pilot.press("enter")
        await shows(pilot, "no record matches the filter", "#records")
        assert table_lines(app) == []


async def test_n_and_N_go_to_the_next_and_previous_undecided_record() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("down", "s", "s", "g")  # ORD004, ORD-J3 skipped
        await cursor_on(pilot, 0, 0)
        await pilot.press("n")
        await cursor_on(pilot, 0, 3)
        await pilot.press("N")
        await cursor_on(pilot, 0, 0)
        await pilot.press("N")
        await shows(pilot, "no undecided record above", "#staged")
        await pilot.press("G", "n")
        await shows(pilot, "no undecided record below", "#staged")


async def test_bulk_purge_over_a_filter_decides_the_matches_only() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await apply_filter(pilot, "error:*Timeout*", 6)
        await pilot.press("a")
        await shows(pilot, "selected 6 more records matching the filter", "#staged")
        await pilot.press("p")
        await shows(pilot, "purge staged on 6 of 6 selected records", "#staged")
        assert counts(engine) == (0, 6, 0)
        assert all(line.startswith("P") for line in table_lines(app))
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")
        await wait_for(pilot, lambda: len(table_lines(app)) == 16, "all rows")
        assert sum(line.startswith("P") for line in table_lines(app)) == 6
        # The records that did not match are undecided.
        assert mark(app, "ORD001") == " "
        assert mark(app, "ORD003") == "P"  # failed with a timeout


# -- review and commit --------------------------------------------------------------------------


async def test_review_shows_the_plan_and_commit_removes_the_rows() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "m", "p", "c")
        text = await shows(pilot, "Commit 3 staged decisions in 1 transaction")
        assert "merge 2 → orders-retry" in text
        assert "purge 1" in text
        assert "tombstones: none (the source topic is not compacted)" in text
        assert "group orders-consumer: committed offsets p0 → 3" in text
        await pilot.press("enter")
        await shows(pilot, "✓ Committed: 2 merged, 1 purged, 0 skipped; 0 tombstones in 1 transaction")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(table_lines(app)) == 13, "13 rows left")
        assert not any(
            f" {key} " in line for key in ("ORD001", "ORD004", "ORD-J3") for line in table_lines(app)
        )
        await shows(pilot, "committed: 2 merged, 1 purged", "#staged")
        assert "14 unresolved · 0 decided" in part(app, "#progress")
        written = engine.memory_committer.written
        assert [(w.topic, w.key) for w in written] == [
            ("orders-retry", b"ORD001"),
            ("orders-retry", b"ORD004"),
        ]
        originals = {r.key: r for r in sample_records()}
        assert written[0].value == originals[b"ORD001"].value  # byte for byte
        assert written[0].headers == originals[b"ORD001"].headers


async def test_nothing_to_commit_without_a_merge_or_purge() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("s", "c")
        await shows(pilot, "nothing to commit: stage merge or purge first", "#staged")
        assert "Commit" not in screen_text(app).split("─detail")[0]


async def test_review_of_a_compacted_source_withholds_a_tombstone() -> None:
    engine = MemoryEngine(compacted_records(), compacted=True)
    app, _ = make_app(engine)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("p", "p")  # ORD-A@0 and ORD-B@1; ORD-A@2 stays unresolved
        await cursor_on(pilot, 0, 2)
        await pilot.press("c")
        text = await shows(pilot, "Commit 2 staged decisions")
        assert "tombstones: 1 to orders-dlq (the source topic is compacted; none for keyless records)" in text
        assert (
            "1 withheld: a newer record with the same key is undecided (compaction would delete it)" in text
        )
        await pilot.press("enter")
        result = await shows(
            pilot, "✓ Committed: 0 merged, 2 purged, 0 skipped; 1 tombstone in 1 transaction"
        )
        assert "1 tombstone withheld: a newer record with the same key is undecided" in result
    tombstones = [w for w in engine.memory_committer.written if w.value is None]
    assert [(w.topic, w.key) for w in tombstones] == [("orders-dlq", b"ORD-B")]


async def test_a_failing_commit_keeps_the_decisions_and_shows_the_error() -> None:
    engine = MemoryEngine(
        sample_records(),
        schemas=SCHEMAS,
        committer=MemoryCommitter(fail_with="broker said NOT_ENOUGH_REPLICAS"),
    )
    app, _ = make_app(engine)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "p", "c")
        await shows(pilot, "Commit 2 staged decisions")
        await pilot.press("enter")
        text = await shows(pilot, "NOT_ENOUGH_REPLICAS")
        assert "✓ Committed" not in text
        await pilot.press("enter")
        await shows(pilot, "commit failed; decisions kept")
        assert counts(engine) == (1, 1, 0)
        assert (mark(app, "ORD001"), mark(app, "ORD004")) == ("M", "P")
        assert len(table_lines(app)) == 16
        assert engine.memory_committer.written == []


async def test_escape_cancels_a_commit_that_is_held() -> None:
    gate = asyncio.Event()
    engine = MemoryEngine(sample_records(), schemas=SCHEMAS, committer=MemoryCommitter(gate=gate))
    app, _ = make_app(engine)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "c")
        await shows(pilot, "Commit 1 staged decision")
        await pilot.press("enter")
        await shows(pilot, "producing")
        await shows(pilot, "committing…")
        await pilot.press("escape")
        text = await shows(pilot, "decisions kept")
        assert "cancelled" in text
        assert "✓ Committed" not in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(table_lines(app)) == 16, "the main screen")
        assert counts(engine) == (1, 0, 0)
        assert mark(app, "ORD001") == "M"
    gate.set()
    assert engine.memory_committer.written == []


async def test_escape_on_the_review_goes_back_without_committing() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "c")
        await shows(pilot, "Commit 1 staged decision")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Commit 1 staged" not in screen_text(app), "the review closed")
        assert counts(engine) == (1, 0, 0)
        assert mark(app, "ORD001") == "M"
        assert engine.memory_committer.written == []


async def test_r_retries_a_failed_commit() -> None:
    engine = MemoryEngine(
        sample_records(), schemas=SCHEMAS, committer=MemoryCommitter(fail_with="coordinator moved")
    )
    app, _ = make_app(engine)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "p", "c")
        await shows(pilot, "Commit 2 staged decisions")
        await pilot.press("enter")
        await shows(pilot, "coordinator moved")
        await pilot.press("r")  # the memory committer fails once only
        await shows(pilot, "✓ Committed: 1 merged, 1 purged, 0 skipped; 0 tombstones in 1 transaction")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(table_lines(app)) == 14, "the two committed rows gone")
        assert [w.key for w in engine.memory_committer.written] == [b"ORD001"]


async def test_ctrl_q_during_a_held_commit_asks_then_cancels_and_quits() -> None:
    gate = asyncio.Event()
    engine = MemoryEngine(sample_records(), schemas=SCHEMAS, committer=MemoryCommitter(gate=gate))
    app, _ = make_app(engine)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "c")
        await shows(pilot, "Commit 1 staged decision")
        await pilot.press("enter")
        await shows(pilot, "producing")
        await pilot.press("ctrl+q")
        await shows(pilot, "Cancel the commit and quit?")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    gate.set()
    assert app.return_code == 0
    assert engine.memory_committer.written == []


async def test_cancel_and_quit_does_not_promise_a_journal_that_is_not_there() -> None:
    gate = asyncio.Event()
    engine = MemoryEngine(sample_records(), schemas=SCHEMAS, committer=MemoryCommitter(gate=gate))
    assert not engine.journal_active
    app, _ = make_app(engine)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "c")
        await shows(pilot, "Commit 1 staged decision")
        await pilot.press("enter")
        await shows(pilot, "producing")
        await pilot.press("ctrl+q")
        text = await shows(pilot, "Cancel the commit and quit?")
        gate.set()
        assert "stay in the local journal" not in " ".join(text.split())


async def test_from_beginning_shows_resolved_rows_and_refuses_deciding_them() -> None:
    app, engine = make_app(from_beginning=True, committed={0: 2}, resolved=[RecordId(2, 1)])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        assert len(table_lines(app)) == 16  # all but the tombstone (not triage material)
        assert [mark(app, k) for k in ("ORD001", "ORD004", "ORD006", "ORD-J3")] == ["✓", "✓", "✓", " "]
        await shows(pilot, "· resolved", "#detail")
        await pilot.press("m")
        await shows(pilot, "already resolved")
        assert counts(engine) == (0, 0, 0)
        assert "17 records · 14 unresolved" in part(app, "#progress")


# -- refusals -------------------------------------------------------------------------------------


async def test_merge_is_refused_without_a_destination() -> None:
    app, engine = make_app(destination=None)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m")
        await shows(pilot, "merge is off: no DESTINATION topic was given")
        assert counts(engine) == (0, 0, 0)
        assert mark(app, "ORD001") == " "
        await pilot.press("p")  # purge is still possible
        assert counts(engine) == (0, 1, 0)


async def test_read_only_refuses_merge_purge_and_commit_but_browses() -> None:
    app, engine = make_app(read_only=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await shows(pilot, "read-only", "#staged")
        await pilot.press("m", "p", "c")
        assert counts(engine) == (0, 0, 0)
        assert "Commit" not in screen_text(app).split("─detail")[0]
        assert "m Merge" not in screen_text(app)
        await pilot.press("down")
        await cursor_on(pilot, 0, 1)


async def test_keyless_merge_is_refused_to_a_compacted_destination() -> None:
    app, engine = make_app(destination_compacted=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await apply_filter(pilot, "partition:1 offset:4", 1)
        assert "(no key)" in table_lines(app)[0]
        await pilot.press("m")
        await shows(pilot, "keyless record(s) cannot be merged")
        assert counts(engine) == (0, 0, 0)
        await pilot.press("p")  # purging it is fine
        assert counts(engine) == (0, 1, 0)


# -- quitting, the journal, opening -----------------------------------------------------------------


async def test_quit_with_staged_decisions_asks_first() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "q")
        text = await shows(pilot, "Quit without committing?")
        flat = " ".join(text.split())  # the dialog wraps its text
        assert "1 merge and 0 purge are staged and not committed" in flat
        # The memory engine keeps no journal, and the dialog says so.
        assert "There is no journal for this session: they will be lost." in flat
        await pilot.press("escape")  # stay
        await wait_for(pilot, lambda: "Quit without committing?" not in screen_text(app), "the dialog closed")
        assert app.is_running
        await pilot.press("q")
        await shows(pilot, "Quit without committing?")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0


async def test_quit_with_nothing_staged_exits_at_once() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("s", "q")  # a skip writes nothing: no question
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0


async def test_journal_offer_restore_stages_the_decisions() -> None:
    offered = {RecordId(0, 0): Decision.MERGE, RecordId(1, 0): Decision.PURGE, RecordId(2, 0): Decision.SKIP}
    app, engine = make_app(offered=offered)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        text = await shows(pilot, "Restore staged decisions?")
        assert "(1 merge, 1 purge, 1 skip" in text
        await pilot.press("r")
        await shows(pilot, "restored 3 staged decisions", "#staged")
        assert counts(engine) == (1, 1, 1)
        await wait_for(pilot, lambda: mark(app, "ORD001") == "M", "the merge mark")
        assert (mark(app, "ORD002"), mark(app, "ORD003")) == ("P", "S")


async def test_journal_offer_discard_stages_nothing() -> None:
    app, engine = make_app(offered={RecordId(0, 0): Decision.MERGE})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await shows(pilot, "Restore staged decisions?")
        await pilot.press("d")
        await shows(pilot, "discarded the journaled decisions", "#staged")
        assert counts(engine) == (0, 0, 0)
        assert mark(app, "ORD001") == " "


async def test_an_open_error_shows_the_error_screen_and_exits_1() -> None:
    app, _ = make_app(open_error="cannot reach the broker at 127.0.0.1:1 (connection refused)")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        text = await shows(pilot, "Cannot open orders-dlq (group orders-consumer)")
        assert "cannot reach the broker at 127.0.0.1:1 (connection refused)" in text
        assert "press any key to quit" in text
        await pilot.press("x")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 1


async def test_loading_is_shown_until_the_records_arrive() -> None:
    gate = asyncio.Event()
    app, _ = make_app(gate=gate, batch_size=4)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await shows(pilot, "Loading snapshot", "#progress")
        assert table_lines(app) == []
        gate.set()
        await loaded(pilot)
        assert len(table_lines(app)) == 16
        assert "17 records · 17 unresolved" in part(app, "#progress")


async def test_committed_offsets_hide_resolved_records() -> None:
    app, _ = make_app(committed={0: 2}, resolved=[RecordId(2, 1)])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        keys = " ".join(table_lines(app))
        assert len(table_lines(app)) == 13  # 17, less 3 resolved and the hidden tombstone
        for gone in ("ORD001", "ORD004", "ORD006"):
            assert f" {gone} " not in keys
        await cursor_on(pilot, 0, 2)


async def test_reload_keeps_the_staged_decisions() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "p")
        await pilot.press("r")
        await shows(pilot, "reloading", "#staged")
        await loaded(pilot)
        await wait_for(pilot, lambda: len(table_lines(app)) == 16, "16 rows after the reload")
        assert (mark(app, "ORD001"), mark(app, "ORD004")) == ("M", "P")
        await shows(pilot, "1 merge · 1 purge · 0 skip", "#staged")


async def test_remapped_keys_take_over_and_the_help_shows_them() -> None:
    engine = MemoryEngine(sample_records(), schemas=SCHEMAS)
    app = DlqApp(engine, {"merge": "M", "purge": "ctrl+d"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("M")
        await cursor_on(pilot, 0, 1)
        await pilot.press("ctrl+d")
        assert counts(engine) == (1, 1, 0)
        assert (mark(app, "ORD001"), mark(app, "ORD004")) == ("M", "P")
        await pilot.press("m", "p")  # the default keys no longer decide
        assert counts(engine) == (1, 1, 0)
        await pilot.press("question_mark")
        text = await shows(pilot, "stage merge (copy byte for byte")
        merge_line = next(line for line in text.splitlines() if "stage merge (copy" in line)
        assert merge_line.split()[0] == "M"


# -- help, detail pane ------------------------------------------------------------------------------


async def test_help_lists_the_keys_and_escape_closes_it() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        text = await shows(pilot, "stage merge (copy byte for byte to DESTINATION)")
        assert "review the staged decisions and commit them in one transaction" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: "stage merge (copy" not in screen_text(app), "help closed")


async def test_x_toggles_a_hex_dump_of_the_record() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await shows(pilot, '"reason": "Found a cheaper offer"', "#detail")
        assert "00000000  00 00 00 00 2a" not in part(app, "#detail")
        await pilot.press("x")
        # The Avro value's wire header: magic byte 0, schema id 42 (0x2a).
        await shows(pilot, "00000000  00 00 00 00 2a", "#detail")
        await pilot.press("x")
        await wait_for(pilot, lambda: "00000000  00 00 00 00 2a" not in part(app, "#detail"), "hex off")
        assert '"reason": "Found a cheaper offer"' in part(app, "#detail")


async def test_d_cycles_the_detail_pane_large_hidden_normal() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await shows(pilot, "key ORD001", "#detail")
        detail = app.screen.query_one("#detail")
        normal_rows = len(table_lines(app))
        normal = detail.size.height
        await pilot.press("d")
        await wait_for(pilot, lambda: detail.size.height > normal, "a larger detail pane")
        large = detail.size.height
        assert len(table_lines(app)) < normal_rows
        await pilot.press("d")
        await wait_for(pilot, lambda: "partition 0 · offset 0" not in screen_text(app), "the pane hidden")
        assert part(app, "#detail") == ""
        await pilot.press("d")
        await shows(pilot, "partition 0 · offset 0", "#detail")
        await wait_for(pilot, lambda: 0 < detail.size.height < large, "the normal size again")
        assert len(table_lines(app)) == normal_rows


# -- records that break naive tools ---------------------------------------------------------------


CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x9b\u202a-\u202e\u2066-\u2069]")
"""What must never reach the terminal from a record: C0 controls (ESC, BEL...), CSI, bidi overrides."""


async def test_hostile_json_is_shown_as_text_not_as_escapes_or_markup() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await apply_filter(pilot, "key:ORD-HOST*", 1)
        await cursor_on(pilot, 1, 5)
        detail = await shows(pilot, "x-note", "#detail")
        assert not CONTROL.search(screen_text(app))
        # Markup is shown as the characters it is made of, not styled away or acted on.
        assert "[bold]loud[/bold] [@click=app.quit]click me[/] [link=http://evil.example]x[/link]" in detail
        assert "\\u001b[31mSYSTEM COMPROMISED" in detail  # JSON's own escape, shown as such
        assert "invoice\\u202etxt.exe" in detail  # the bidi override named, not obeyed
        assert "key ORD-HOSTILE\\x1b[7m" in detail  # the key's raw ESC, escaped
        # The header's raw OSC 0 (window title) and markup are shown as hex.
        assert re.search(r"x-note\s+1b5d303b70776e656407", detail)
        svg = app.export_screenshot()
        assert not CONTROL.search(svg)


async def test_a_group_name_with_escapes_is_escaped_in_the_title() -> None:
    app, _ = make_app(group="orders\x1b[31m-consumer")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        assert "group orders\\x1b[31m-consu" in part(app, "#title")  # escaped (and cut to fit)
        assert not CONTROL.search(screen_text(app))


async def test_a_group_name_with_escapes_is_escaped_on_the_review_screen() -> None:
    app, _ = make_app(group="orders\x1b[31m-consumer")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("m", "c")
        text = await shows(pilot, "committed offsets p0 → 1")
        assert not CONTROL.search(text)


async def test_raw_escape_sequences_in_a_value_are_shown_as_hex() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await apply_filter(pilot, "key:ORD-ANSI", 1)
        await cursor_on(pilot, 1, 6)
        detail = await shows(pilot, "Value (hex", "#detail")
        # ESC [2J ESC [H (the screen clear) as bytes, and as dots in the text column.
        assert "00000010  5b 32 4a 1b 5b 48" in detail
        assert "|[2J.[H" in detail
        assert "0x6f7264657220" in table_lines(app)[0]  # the table cell: hex, not the text
        assert not CONTROL.search(screen_text(app))
        assert not CONTROL.search(app.export_screenshot())
        assert set(HOSTILE_TEXTS) >= {"clear", "osc52", "markup", "bidi"}


async def test_the_screen_says_a_tombstone_is_hidden() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        assert engine.hidden_tombstones() == 1
        assert len(table_lines(app)) == 16
        await cursor_on(pilot, 0, 0)  # ORD001: its detail says nothing of tombstones
        assert "tombstone" in screen_text(app)  # a status, a note or a toast: anywhere


async def test_a_poison_record_is_shown_as_hex_and_can_be_purged() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("down", "down", "down")
        await cursor_on(pilot, 0, 3)
        await shows(pilot, "cannot decode; shown as hex: not valid Avro for schema 42", "#detail")
        assert "undecodable" in line_of(app, "ORD-POISON")
        await pilot.press("p")
        assert engine.decision(row_of(engine, 0, 3)) is Decision.PURGE


async def test_tombstones_are_hidden_keyless_and_invalid_utf8_rows_say_what_they_are() -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        # A tombstone in a DLQ is a deletion, not a failed record: not shown for triage.
        assert not any(" ORD-TOMB " in line for line in table_lines(app))
        keyless = [line for line in table_lines(app) if "(no key)" in line]
        assert len(keyless) == 1 and "ORD-KEYLESS" in keyless[0]
        assert "0x6f7264657220fffefd" in line_of(app, "ORD-BADUTF8")
        await pilot.press("G")
        await cursor_on(pilot, 2, 4)
        detail = await shows(pilot, "Value (hex, 24 B)", "#detail")
        assert "6f 72 64 65 72 20 ff fe  fd 20 63 61 6e 63 65 6c" in detail  # the bytes, not U+FFFD
        assert "\ufffd" not in detail


async def test_a_one_megabyte_value_is_shown_and_decided() -> None:
    app, engine = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("down", "down", "down", "down")
        await cursor_on(pilot, 0, 4)
        await shows(pilot, '"orderNumber": "ORD-BIG"', "#detail")
        detail = part(app, "#detail", whole=True)
        assert "Value (json, 1024.0 KiB)" in detail
        assert "1008.0 KiB more not shown; x: hex shows the raw bytes" in detail
        await pilot.press("p")
        assert engine.decision(row_of(engine, 0, 4)) is Decision.PURGE
