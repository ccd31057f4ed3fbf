"""Regenerate the SVG screenshots of docs/tour.md and docs/groups.md (docs/img/*.svg) with
Textual's `save_screenshot`, on the demo DLQ held by the in-memory engine (`dlq-tui demo-offline`):
no broker and no registry needed, a fixed end time, nothing committed anywhere.

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from dlq_tui.demo.offline import offline_engine
from dlq_tui.tui.app import DlqApp
from dlq_tui.tui.screens.main import MainScreen

IMG = Path(__file__).resolve().parent / "img"
NOW_MS = 1_793_610_000_000  # 2026-11-02 09:00 UTC

Steps = Callable[[Pilot[Any], MainScreen], Awaitable[None]]


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there")
        await pilot.pause(0.05)


async def shoot(name: str, size: tuple[int, int], steps: Steps, *, first_view: str = "records") -> None:
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="dlq-tui-tour-")  # no journal offers
    app = DlqApp(offline_engine(300, now_ms=NOW_MS), first_view=first_view)
    async with app.run_test(size=size) as pilot:
        screen = app.screen_stack[0]
        assert isinstance(screen, MainScreen)
        await until(pilot, lambda: screen.state == "loaded")
        await steps(pilot, screen)
        await pilot.pause(0.3)
        app.clear_notifications()
        await pilot.pause(0.1)
        app.save_screenshot(str(IMG / f"{name}.svg"))
        print(f"docs/img/{name}.svg")
        app.exit()


async def main() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    IMG.mkdir(exist_ok=True)

    async def triage(pilot: Pilot[Any], screen: MainScreen) -> None:
        await pilot.press("m", "m", "p", "s", "down", "space", "space")

    async def typing_filter(pilot: Pilot[Any], screen: MainScreen) -> None:
        await pilot.press("slash", *"error:Timeout value.reason:*quantity*")
        await pilot.pause(0.5)

    async def bulk(pilot: Pilot[Any], screen: MainScreen) -> None:
        await pilot.press("slash", *"error:Timeout value.reason:*quantity*", "enter")
        await pilot.pause(0.5)
        await pilot.press("a")

    async def filter_error(pilot: Pilot[Any], screen: MainScreen) -> None:
        await pilot.press("slash", *"key:ORD0* AND (error:Timeout OR", "enter")

    def detail_of(key: str) -> Steps:
        async def steps(pilot: Pilot[Any], screen: MainScreen) -> None:
            await pilot.press("slash", *f"key:{key}", "enter")
            await until(pilot, lambda: len(screen.table.source) == 1)
            await pilot.press("d")

        return steps

    async def review(pilot: Pilot[Any], screen: MainScreen) -> None:
        await pilot.press("m", "m", "p", "s", "m", "c")
        await until(pilot, lambda: getattr(screen.app.screen, "state", "") == "ready")

    async def help_screen(pilot: Pilot[Any], screen: MainScreen) -> None:
        await pilot.press("question_mark")

    async def groups(pilot: Pilot[Any], screen: MainScreen) -> None:
        await until(pilot, lambda: screen.groups.counted)
        await pilot.press("down", "down")

    async def group_records(pilot: Pilot[Any], screen: MainScreen) -> None:
        await until(pilot, lambda: screen.groups.counted)
        await pilot.press("down", "enter")
        await until(pilot, lambda: screen.table.filter_text.startswith("group:"))

    async def export(pilot: Pilot[Any], screen: MainScreen) -> None:
        await pilot.press("slash", *"error:Timeout", "enter")
        await until(pilot, lambda: screen.table.filter_text == "error:Timeout")
        await pilot.press("w")

    await shoot("groups", (160, 30), groups, first_view="groups")
    await shoot("groups-80x24", (80, 24), groups, first_view="groups")
    await shoot("group-records", (120, 30), group_records, first_view="groups")
    await shoot("export", (100, 30), export)
    await shoot("main-80x24", (80, 24), triage)
    await shoot("main-160x48", (160, 48), triage)
    await shoot("filter-typing", (100, 30), typing_filter)
    await shoot("filter-bulk-select", (100, 30), bulk)
    await shoot("filter-error", (80, 24), filter_error)
    await shoot("detail-avro", (100, 40), detail_of("ORD042"))
    await shoot("detail-poison", (100, 40), detail_of("ORD-POISON"))
    await shoot("detail-ansi", (120, 40), detail_of("ORD-*ANSI"))
    await shoot("review", (100, 30), review)
    await shoot("help", (100, 40), help_screen)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
