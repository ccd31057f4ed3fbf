"""The review screen's safe redrive (issue 10) in the app: the canary (`k`) on the in-memory engine,
the audit reason and a rate-capped commit against the real stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord
from dlq_tui.tui.app import DlqApp
from tests.stack import Rec, Stack, create_topic, kcat_read, produce, unique_name
from tests.tuikit import screen_text, wait_loaded, wait_until


def _records(n: int = 20) -> list[RawRecord]:
    return [RawRecord(0, o, 1_793_610_000_000, 0, f"K{o}".encode(), b'{"n": 1}') for o in range(n)]


async def _merge_all(pilot: Any, app: DlqApp) -> None:
    await wait_loaded(pilot)
    await pilot.press("a", "m")
    await wait_until(pilot, lambda: app.engine.staged_counts()[Decision.MERGE] == 20)
    await pilot.press("c")
    await wait_until(pilot, lambda: "canary: 3 first" in screen_text(app))


async def test_a_canary_that_does_not_come_back_lets_the_rest_be_committed() -> None:
    engine = MemoryEngine(_records())
    app = DlqApp(engine, canary=(3, 0.3))
    async with app.run_test(size=(120, 40)) as pilot:
        await _merge_all(pilot, app)
        await pilot.press("k")
        await wait_until(pilot, lambda: "none came back" in screen_text(app), 10)
        assert len(engine.memory_committer.written) == 3
        await wait_until(pilot, lambda: "Commit 17 staged decisions" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Committed" in screen_text(app))
    assert len(engine.memory_committer.written) == 20


async def test_a_canary_that_comes_back_stops_the_redrive() -> None:
    engine = MemoryEngine(_records())
    app = DlqApp(engine, canary=(3, 5.0))
    async with app.run_test(size=(120, 40)) as pilot:
        await _merge_all(pilot, app)
        await pilot.press("k")
        await wait_until(pilot, lambda: len(engine.memory_committer.written) == 3, 10)
        engine.records.append(RawRecord(0, 20, 1_793_610_000_000, 0, b"K1", b'{"n": 1}'))  # K1 fails again
        await wait_until(pilot, lambda: "The canary came back" in screen_text(app), 10)
        assert "the other 17 decisions stay staged" in screen_text(app)
        await pilot.press("enter")
    assert len(engine.memory_committer.written) == 3
    assert engine.staged_counts()[Decision.MERGE] == 17


@pytest.fixture
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.mark.usefixtures("_state")
async def test_the_review_asks_for_the_audit_reason_and_the_audit_records_carry_it(stack: Stack) -> None:
    source, dest, audit = unique_name("rv-dlq"), unique_name("rv-retry"), unique_name("rv-audit")
    for topic in (source, dest, audit):
        await create_topic(stack.bootstrap, topic)
    await produce(stack.bootstrap, source, [Rec(f"K{i}".encode(), b"v") for i in range(4)])
    config = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=dest,
        group=unique_name("rv-g"),
        audit_topic=audit,
        max_rate=2.0,
    )
    app = DlqApp(TriageSession(config))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("a", "m", "c")
        await wait_until(pilot, lambda: "Commit 4 staged decisions" in screen_text(app))
        await pilot.press("enter")  # no reason yet
        await wait_until(pilot, lambda: "a reason is needed" in screen_text(app))
        await pilot.press(*"consumer fixed in 1.4.2", "enter")
        await wait_until(pilot, lambda: "/s · ETA" in screen_text(app) or "Committed" in screen_text(app), 20)
        await wait_until(pilot, lambda: "Committed" in screen_text(app), 30)
    records = kcat_read(stack.bootstrap, audit)
    assert len(records) == 4
    assert {json.loads(r.value or b"")["reason"] for r in records} == {"consumer fixed in 1.4.2"}
    assert len(kcat_read(stack.bootstrap, dest)) == 4


@pytest.mark.usefixtures("_state")
async def test_esc_stops_a_rate_capped_commit_between_transactions(stack: Stack) -> None:
    source, dest = unique_name("rs-dlq"), unique_name("rs-retry")
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(f"K{i}".encode(), b"v") for i in range(40)])
    config = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=dest,
        group=unique_name("rs-g"),
        max_rate=10.0,
    )
    engine = TriageSession(config)
    app = DlqApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("a", "m", "c")
        await wait_until(pilot, lambda: "Commit 40 staged decisions" in screen_text(app))
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: "producing" in screen_text(app) or "committing" in screen_text(app), 20
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: getattr(app.screen, "state", "") in ("done", "failed"), 30)
        await pilot.press("enter")
        await pilot.pause(0.2)
        left = engine.staged_counts()[Decision.MERGE]
    written = len(kcat_read(stack.bootstrap, dest))
    assert 0 < written < 40, "stopped between transactions: some merged, the rest not"
    assert written + left == 40, "every decision is either committed or still staged"
