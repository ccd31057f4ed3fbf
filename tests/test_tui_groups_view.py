"""The groups view of the app (issue 8): what broke, how much, from where — then a group's records
as the filter `group:ID`, and m/p/s on a whole group. On the in-memory engine (no broker)."""

from __future__ import annotations

import asyncio
from typing import Any

from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord
from dlq_tui.tui.app import DlqApp
from tests.tuikit import screen_text, wait_loaded, wait_until

KINDS = [
    ("java.net.SocketTimeoutException", "Read timed out after {o} ms", "orders"),
    ("com.acme.orders.ValidationException", "order ORD-{o} has no customer", "orders"),
    ("org.apache.kafka.common.errors.SerializationException", "Unknown magic byte at offset {o}", "payments"),
]


def _record(o: int) -> RawRecord:
    exc, msg, origin = KINDS[0 if o % 5 == 0 else o % 3]
    headers = (
        ("kafka_dlt-exception-fqcn", exc.encode()),
        ("kafka_dlt-exception-message", msg.format(o=o).encode()),
        ("kafka_dlt-original-topic", origin.encode()),
    )
    return RawRecord(o % 2, o // 2, 1_793_610_000_000 + o * 1000, 0, f"K{o}".encode(), b'{"n": 1}', headers)


RECORDS = [_record(o) for o in range(60)]


def _expected() -> dict[str, int]:
    counts = {k[0].rsplit(".", 1)[-1]: 0 for k in KINDS}
    for o in range(60):
        counts[KINDS[0 if o % 5 == 0 else o % 3][0].rsplit(".", 1)[-1]] += 1
    return counts


def _groups(app: DlqApp) -> Any:
    return app.screen_stack[0].query_one("#groups-table")


async def test_opens_on_the_groups_sorted_by_count_with_normalised_messages() -> None:
    app = DlqApp(MemoryEngine(RECORDS), first_view="groups")
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_loaded(pilot)
        await wait_until(pilot, lambda: "3 groups · 60 records" in screen_text(app))
        groups = _groups(app).groups
        counts = {g.exception.rsplit(".", 1)[-1]: g.count for g in groups}
        assert counts == _expected()
        assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)
        text = screen_text(app)
        assert "Read timed out after <n> ms" in text and "payments" in text
        assert "ORD-7" not in text, "variable parts are normalised away"


async def test_enter_shows_the_group_records_as_a_filter() -> None:
    app = DlqApp(MemoryEngine(RECORDS), first_view="groups")
    async with app.run_test(size=(140, 30)) as pilot:
        screen: Any = await wait_loaded(pilot)
        await wait_until(pilot, lambda: _groups(app).row_count == 3)
        await pilot.press("down")
        chosen = _groups(app).current
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.table.filter_text == f"group:{chosen.id}")
        assert screen.view == "records"
        assert len(screen.table.view) == chosen.count
        assert f"filter group:{chosen.id} ({chosen.count})" in screen_text(app)
        assert all(screen.engine.group_rows(chosen.id, [r]) for r in screen.table.view)


async def test_m_on_a_group_stages_merge_on_all_its_records_and_the_counts_follow() -> None:
    engine = MemoryEngine(RECORDS)
    app = DlqApp(engine, first_view="groups")
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_loaded(pilot)
        await wait_until(pilot, lambda: _groups(app).row_count == 3)
        top = _groups(app).current
        await pilot.press("m")
        await wait_until(pilot, lambda: engine.staged_counts()[Decision.MERGE] == top.count)
        await wait_until(pilot, lambda: _groups(app).current.decided == top.count)
        assert _groups(app).current.undecided == 0
        assert f"merge staged on {top.count} of {top.count} records of group {top.id}" in screen_text(app)
        await pilot.press("c")
        await wait_until(pilot, lambda: f"merge {top.count} → orders-retry" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Committed" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: _groups(app).row_count == 2, 10)
        assert len(engine.memory_committer.written) == top.count


async def test_groups_grow_while_records_load() -> None:
    gate = asyncio.Event()
    gate.set()
    engine = MemoryEngine(RECORDS, batch_size=10, gate=gate)
    app = DlqApp(engine, first_view="groups")
    async with app.run_test(size=(140, 30)) as pilot:
        screen: Any = app.screen_stack[0]
        await wait_until(pilot, lambda: screen.engine.row_count() >= 10)
        gate.clear()
        await wait_until(pilot, lambda: sum(g.count for g in _groups(app).groups) >= 10)
        partial = sum(g.count for g in _groups(app).groups)
        assert partial < 60
        gate.set()
        await wait_loaded(pilot)
        await wait_until(pilot, lambda: sum(g.count for g in _groups(app).groups) == 60)


async def test_v_switches_between_groups_and_records() -> None:
    app = DlqApp(MemoryEngine(RECORDS))
    async with app.run_test(size=(140, 30)) as pilot:
        screen: Any = await wait_loaded(pilot)
        assert screen.view == "records"
        await pilot.press("v")
        await wait_until(pilot, lambda: "Failure groups" in screen_text(app))
        await pilot.press("v")
        await wait_until(pilot, lambda: "Failure groups" not in screen_text(app))
        assert screen.table.has_focus


def test_groups_view_snapshot(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await wait_loaded(pilot)
        await wait_until(pilot, lambda: _groups(pilot.app).row_count == 3)

    app = DlqApp(MemoryEngine(RECORDS), first_view="groups")
    assert snap_compare(app, terminal_size=(140, 24), run_before=run_before)
