"""Snapshot tests (pytest-textual-snapshot) of the app on the demo DLQ in the real broker.

What varies between runs is pinned: the topic and group names are fixed (the topics are recreated),
the demo timestamps end at a fixed time and are shown in UTC, and the records carry a fixed schema
id that a static schema source resolves (the real registry numbers schemas in registration order).
Update with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from dlq_tui.tui.app import DlqApp
from tests.stack import Stack
from tests.tuikit import Demo, config, fixed_session, run, seed_demo, wait_loaded, wait_until

pytestmark = pytest.mark.stack

NAMES = Demo("snap-orders-dlq", "snap-orders-retry", "snap-orders-consumer")

SnapCompare = Callable[..., bool]


@pytest.fixture(scope="module")
def demo(stack: Stack) -> Demo:
    return run(seed_demo(stack, 20, "snap", fixed=True, names=NAMES))  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(stack: Stack, demo: Demo, **kw: Any) -> DlqApp:
    return DlqApp(fixed_session(config(stack, demo, **kw)))


def steps(
    *keys: str, filter_text: str | None = None, rows: int | None = None
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the load, optionally apply a filter (and wait for `rows` rows), press `keys`."""

    async def before(pilot: Pilot[Any]) -> None:
        screen = await wait_loaded(pilot)
        if filter_text is not None:
            await pilot.press("slash", *filter_text, "enter")
            if rows is not None:
                await wait_until(pilot, lambda: len(screen.table.source) == rows)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.06)  # past the detail pane's throttle
        await pilot.pause(0.2)
        pilot.app.clear_notifications()  # toasts come and go with timing
        await pilot.pause()

    return before


def test_main_screen_80x24(snap_compare: SnapCompare, stack: Stack, demo: Demo) -> None:
    app = make_app(stack, demo)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps("m", "p", "s", "down"))


def test_main_screen_160x48(snap_compare: SnapCompare, stack: Stack, demo: Demo) -> None:
    app = make_app(stack, demo)
    assert snap_compare(app, terminal_size=(160, 48), run_before=steps("m", "space", "space", "p"))


def test_detail_avro_record(snap_compare: SnapCompare, stack: Stack, demo: Demo) -> None:
    app = make_app(stack, demo)
    assert snap_compare(app, terminal_size=(100, 40), run_before=steps("down", "d"))


def test_detail_poison_record(snap_compare: SnapCompare, stack: Stack, demo: Demo) -> None:
    app = make_app(stack, demo)
    before = steps("d", filter_text="key:ORD-POISON", rows=1)
    assert snap_compare(app, terminal_size=(100, 40), run_before=before)


def test_detail_ansi_and_markup_record(snap_compare: SnapCompare, stack: Stack, demo: Demo) -> None:
    app = make_app(stack, demo)
    before = steps("d", filter_text="key:ORD-*ANSI", rows=1)
    assert snap_compare(app, terminal_size=(120, 40), run_before=before)


def test_filter_with_an_error(snap_compare: SnapCompare, stack: Stack, demo: Demo) -> None:
    app = make_app(stack, demo)

    async def before(pilot: Pilot[Any]) -> None:
        await wait_loaded(pilot)
        await pilot.press("slash", *"key:ORD0* AND (error:Timeout OR", "enter")
        await pilot.pause(0.2)
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_review_screen(snap_compare: SnapCompare, stack: Stack, demo: Demo) -> None:
    app = make_app(stack, demo)

    async def before(pilot: Pilot[Any]) -> None:
        await wait_loaded(pilot)
        await pilot.press("m", "m", "p", "s", "m", "c")
        await wait_until(pilot, lambda: getattr(app.screen, "state", "") == "ready")
        await pilot.pause(0.2)
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)
