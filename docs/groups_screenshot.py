"""Regenerate docs/img/groups.svg: the groups table on the demo DLQ's records (no broker needed).

    .venv/bin/python docs/groups_screenshot.py
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.app import App, ComposeResult

from dlq_tui.demo.conventions import demo_convention_records
from dlq_tui.demo.data import PARTITIONS, demo_records
from dlq_tui.groups import GroupIndex
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore
from dlq_tui.tui.widgets.groups_table import GroupsTable

IMG = Path(__file__).resolve().parent / "img" / "groups.svg"
NOW_MS = 1_793_610_000_000  # 2026-11-02 09:00 UTC, as docs/screenshots.py


def demo_groups() -> GroupIndex:
    records = demo_records(1, count=300, now_ms=NOW_MS)
    records += demo_convention_records(6, records[-1].timestamp + 1, PARTITIONS)
    store = RecordStore()
    offsets = dict.fromkeys(range(PARTITIONS), 0)
    for r in records:
        store.append(RawRecord(r.partition, offsets[r.partition], r.timestamp, 0, r.key, r.value, tuple(r.headers)))
        offsets[r.partition] += 1
    return GroupIndex(store)


class Shot(App[None]):
    def compose(self) -> ComposeResult:
        yield GroupsTable(demo_groups().summaries())


async def main() -> None:
    app = Shot()
    async with app.run_test(size=(160, 20)) as pilot:
        await pilot.press("down", "down")
        await pilot.pause()
        app.save_screenshot(str(IMG.name), str(IMG.parent))
    print(f"wrote {IMG}")


if __name__ == "__main__":
    asyncio.run(main())
