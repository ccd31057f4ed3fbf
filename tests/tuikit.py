"""Helpers for the TUI tests: seed a demo DLQ, build the session config, wait for the app, read the
screen as text."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastavro import parse_schema
from textual.pilot import Pilot

from dlq_tui.decode.registry import RegisteredSchema, RegistryError
from dlq_tui.decode.view import RecordDecoder
from dlq_tui.demo.__main__ import seed
from dlq_tui.demo.data import order_canceled_schema
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.tui.app import DlqApp
from dlq_tui.tui.screens.main import MainScreen
from tests.stack import Stack, unique_name

# 2026-11-02 09:00:00 UTC: the demo timestamps end here in the snapshot tests.
FIXED_NOW_MS = 1_793_610_000_000
FIXED_SCHEMA_ID = 7


@dataclass(frozen=True)
class Demo:
    dlq: str
    retry: str
    group: str


async def seed_demo(
    stack: Stack, count: int, hint: str, *, fixed: bool = False, names: Demo | None = None
) -> Demo:
    demo = names or Demo(unique_name(f"{hint}-dlq"), unique_name(f"{hint}-retry"), unique_name(f"{hint}-g"))
    await seed(
        stack.bootstrap,
        stack.registry_url,
        count,
        dlq_topic=demo.dlq,
        retry_topic=demo.retry,
        quiet=True,
        now_ms=FIXED_NOW_MS if fixed else None,
        schema_id=FIXED_SCHEMA_ID if fixed else None,
    )
    return demo


def config(stack: Stack, demo: Demo, *, destination: bool = True, **kw: Any) -> SessionConfig:
    values: dict[str, Any] = {"registry_url": stack.registry_url, **kw}
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=demo.dlq,
        destination=demo.retry if destination else None,
        group=demo.group,
        **values,
    )


class StaticRegistry:
    """A `SchemaSource` that knows one schema under a fixed id (snapshot tests: the real registry
    numbers schemas in the order they were registered, which varies between runs)."""

    def __init__(self, schema_id: int, subject: str) -> None:
        schema = order_canceled_schema()
        self.schema = RegisteredSchema(schema_id, "AVRO", json.dumps(schema), parse_schema(schema), subject)

    def get_schema(self, schema_id: int) -> RegisteredSchema:
        if schema_id != self.schema.schema_id:
            raise RegistryError(f"schema id {schema_id} not found", status=404)
        return self.schema


def fixed_session(cfg: SessionConfig) -> TriageSession:
    """A session whose decoder uses `StaticRegistry` (records seeded with `fixed=True`)."""
    cfg = SessionConfig(**{**cfg.__dict__, "registry_url": None})
    session = TriageSession(cfg)
    session.decoder = RecordDecoder(
        cfg.key_format, cfg.value_format, StaticRegistry(FIXED_SCHEMA_ID, f"{cfg.source}-value")
    )
    return session


def main_screen(app: DlqApp) -> MainScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting ({timeout}s)\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


async def wait_loaded(pilot: Pilot[Any], timeout: float = 30.0) -> MainScreen:
    app = pilot.app
    assert isinstance(app, DlqApp)
    screen = main_screen(app)
    await wait_until(pilot, lambda: screen.state in ("loaded", "failed"), timeout)
    await pilot.pause(0.1)
    return screen


def screen_text(app: Any) -> str:
    """What the terminal shows, as text (one line per row)."""
    return "\n".join(strip.text.rstrip() for strip in app.screen._compositor.render_strips())


def run(coro: Any) -> Any:
    """Run a coroutine from a synchronous (snapshot) test."""
    return asyncio.run(coro)


async def shows(pilot: Pilot[Any], text: str, timeout: float = 15.0) -> None:
    """Wait until `text` is on the screen (repaints follow state changes by a frame or two)."""
    await wait_until(pilot, lambda: text in screen_text(pilot.app), timeout)


async def filter_to_one(pilot: Pilot[Any], screen: MainScreen, flt: str) -> str:
    """Apply `flt` (which matches one record), wait until the table shows it, and return the screen text."""
    await pilot.press("slash", *flt, "enter")
    await wait_until(pilot, lambda: len(screen.table.source) == 1)
    await pilot.pause(0.1)
    await pilot.pause()
    return screen_text(pilot.app)
