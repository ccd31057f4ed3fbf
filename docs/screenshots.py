"""Regenerate the SVG screenshots of docs/tour.md (docs/img/*.svg) with Textual's `save_screenshot`.

Needs the local stack (`make stack-up`). Recreates the demo topics as `make seed` does, under
their own names (tour-*), with a fixed end time, and commits nothing.

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

from dlq_tui.demo.__main__ import seed
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.tui.app import DlqApp
from dlq_tui.tui.screens.main import MainScreen

IMG = Path(__file__).resolve().parent / "img"
DLQ, RETRY, GROUP = "tour-order-canceled-dead-letter-queue", "tour-order-canceled-retry-1", "tour-consumer"
NOW_MS = 1_793_610_000_000  # 2026-11-02 09:00 UTC

Steps = Callable[[Pilot[Any], MainScreen], Awaitable[None]]


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there")
        await pilot.pause(0.05)


async def shoot(config: SessionConfig, name: str, size: tuple[int, int], steps: Steps) -> None:
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="dlq-tui-tour-")  # no journal offers
    app = DlqApp(TriageSession(config))
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
    port = os.environ.get("DLQ_TUI_KAFKA_PORT", "9092")
    reg_port = os.environ.get("DLQ_TUI_REGISTRY_PORT", "8081")
    bootstrap, registry = f"127.0.0.1:{port}", f"http://127.0.0.1:{reg_port}/apis/ccompat/v7"
    await seed(bootstrap, registry, 300, dlq_topic=DLQ, retry_topic=RETRY, quiet=True, now_ms=NOW_MS)
    os.environ["TZ"] = "UTC"
    time.tzset()
    config = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        source=DLQ,
        destination=RETRY,
        group=GROUP,
        registry_url=registry,
    )
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

    await shoot(config, "main-80x24", (80, 24), triage)
    await shoot(config, "main-160x48", (160, 48), triage)
    await shoot(config, "filter-typing", (100, 30), typing_filter)
    await shoot(config, "filter-bulk-select", (100, 30), bulk)
    await shoot(config, "filter-error", (80, 24), filter_error)
    await shoot(config, "detail-avro", (100, 40), detail_of("ORD042"))
    await shoot(config, "detail-poison", (100, 40), detail_of("ORD-POISON"))
    await shoot(config, "detail-ansi", (120, 40), detail_of("ORD-*ANSI"))
    await shoot(config, "review", (100, 30), review)
    await shoot(config, "help", (100, 40), help_screen)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
