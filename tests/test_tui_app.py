"""Pilot tests of the full-screen app against the real stack (demo DLQ), kcat as the witness."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dlq_tui.engine import TriageSession
from dlq_tui.kafka.committer import CommitError, CommitReport, FencedCommitError
from dlq_tui.kafka.connection import DlqError
from dlq_tui.triage.decisions import Decision
from dlq_tui.tui.app import DlqApp
from dlq_tui.tui.screens.dialogs import ChoiceScreen, ErrorScreen, HelpScreen
from dlq_tui.tui.screens.review import ReviewScreen
from dlq_tui.tui.widgets.filter_bar import FilterBar
from tests.stack import Rec, Stack, group_offsets, kcat_read, produce
from tests.tuikit import config, filter_to_one, screen_text, seed_demo, shows, wait_loaded, wait_until

pytestmark = pytest.mark.stack


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def keys_at_cursor(screen: object) -> str:
    from tests.tuikit import MainScreen

    assert isinstance(screen, MainScreen)
    row = screen.table.cursor_row()
    assert row is not None
    key = screen.engine.record(row).key
    return "" if key is None else key.decode("utf-8", "replace")


async def test_load_navigate_mark_undo(stack: Stack) -> None:
    demo = await seed_demo(stack, 20, "nav")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_loaded(pilot)
        table = screen.table
        assert len(table.source) == 24  # 20 orders + keyless, poison, bad UTF-8, ANSI
        # Partition by partition, offset order: ORD001..ORD003 are partition 0, offsets 0-2.
        assert keys_at_cursor(screen) == "ORD001"
        await shows(pilot, "ORD001")
        await pilot.press("down")
        assert keys_at_cursor(screen) == "ORD002"
        await pilot.press("m")  # merge ORD002, cursor to the next undecided row
        assert keys_at_cursor(screen) == "ORD003"
        await pilot.press("p")
        await pilot.press("s")
        session = screen.engine
        counts = session.buffer.counts()
        assert (counts[Decision.MERGE], counts[Decision.PURGE], counts[Decision.SKIP]) == (1, 1, 1)
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "1 merge · 1 purge · 1 skip · uncommitted" in text
        # The cursor skips decided rows: up twice goes to ORD003 (purged), undo it.
        await pilot.press("up", "up")
        assert keys_at_cursor(screen) == "ORD003"
        await pilot.press("u")
        assert session.buffer.counts()[Decision.PURGE] == 0
        # n / N: next / previous undecided row.
        await pilot.press("g")
        assert keys_at_cursor(screen) == "ORD001"
        await pilot.press("n")
        assert keys_at_cursor(screen) == "ORD003"
        await pilot.press("N")
        assert keys_at_cursor(screen) == "ORD001"
        await pilot.press("G")
        assert table.cursor == 23
        # The detail pane follows the cursor.
        await pilot.press("g")
        await pilot.pause(0.1)
        await shows(pilot, '"orderNumber": "ORD001"')
        await pilot.press("q", "q")  # staged merge: asks first
    assert app.return_code == 0


async def test_filter_select_all_bulk_purge_and_commit(stack: Stack) -> None:
    demo = await seed_demo(stack, 20, "bulk")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("slash")
        bar = screen.query_one(FilterBar)
        assert bar.is_open
        await pilot.press(*"key:ORD00*")
        await wait_until(pilot, lambda: "9 of 24 records match" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.table.source) == 9)
        assert not bar.is_open
        await shows(pilot, "filter key:ORD00* (9)")
        await pilot.press("a")
        assert len(screen.table.selection) == 9
        await pilot.press("p")
        assert screen.engine.buffer.counts()[Decision.PURGE] == 9
        assert len(screen.table.selection) == 0
        # Undo on a selection: select two, undo them.
        await pilot.press("space", "space")
        assert len(screen.table.selection) == 2
        await pilot.press("u")
        assert screen.engine.buffer.counts()[Decision.PURGE] == 7
        await pilot.press("c")
        assert isinstance(app.screen, ReviewScreen)
        await wait_until(pilot, lambda: app.screen.state == "ready")  # type: ignore[attr-defined]
        await pilot.pause()
        text = screen_text(app)
        assert "Commit 7 staged decisions in 1 transaction" in text
        assert "purge 7" in text
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.state in ("done", "failed"), 60)  # type: ignore[attr-defined]
        await shows(pilot, "✓ Committed: 0 merged, 7 purged, 0 skipped; 7 tombstones")
        await pilot.press("enter")
        assert app.screen is screen
        await pilot.pause()
        assert len(screen.table.source) == 2  # the filter's two undone rows stay
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")  # an empty filter clears it
        await wait_until(pilot, lambda: len(screen.table.source) == 24 - 7)
        await pilot.press("q")
    tombstones = [r for r in kcat_read(stack.bootstrap, demo.dlq) if r.value is None]
    assert len(tombstones) == 7
    assert {r.key for r in tombstones} <= {f"ORD00{i}".encode() for i in range(1, 10)}
    assert kcat_read(stack.bootstrap, demo.retry) == []


async def test_merge_purge_merge_commit_read_back(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "commit")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await wait_loaded(pilot)
        originals = {screen.engine.record(r).key: screen.engine.record(r) for r in screen.table.view}
        await pilot.press("m", "p", "m")
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.state == "ready")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.state == "done", 60)  # type: ignore[attr-defined]
        await shows(pilot, "2 merged, 1 purged, 0 skipped; 3 tombstones")
        await pilot.press("enter")
        await pilot.pause()
        assert len(screen.table.source) == 7 - 3
        await shows(pilot, "nothing staged")
        await pilot.press("q")
    assert app.return_code == 0
    merged = kcat_read(stack.bootstrap, demo.retry)
    assert sorted(r.key for r in merged) == [b"ORD001", b"ORD003"]
    for r in merged:
        src = originals[r.key]
        assert (r.value, r.timestamp, r.headers) == (src.value, src.timestamp, list(src.headers))
    dlq = kcat_read(stack.bootstrap, demo.dlq)
    assert sorted(r.key for r in dlq if r.value is None) == [b"ORD001", b"ORD002", b"ORD003"]
    offsets = await group_offsets(stack.bootstrap, demo.group, demo.dlq)
    assert offsets[0][0] == 3


async def test_filter_error_is_inline_with_position(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "ferr")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("slash", *"key:ORD AND (", "enter")
        await pilot.pause()
        bar = screen.query_one(FilterBar)
        assert bar.is_open  # an error keeps the bar open
        await pilot.pause()
        text = screen_text(app)
        assert "at column 14" in text
        assert "             ^" in text
        await pilot.press("escape")
        assert not bar.is_open
        assert len(screen.table.source) == 7


async def test_read_only_hides_merge_purge_commit(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "ro")
    app = DlqApp(TriageSession(config(stack, demo, read_only=True)))
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("m", "p", "c")
        assert len(screen.engine.buffer) == 0
        assert app.screen is screen
        await pilot.pause()
        text = screen_text(app)
        assert "Merge" not in text.splitlines()[-1] and "Commit" not in text.splitlines()[-1]
        assert "READ-ONLY" in text
        await pilot.press("s")  # skip is a session marker: allowed
        assert screen.engine.buffer.counts()[Decision.SKIP] == 1
        titles = [c.title for c in app.get_system_commands(screen)]
        assert not any(t.startswith(("Merge", "Purge", "Commit")) for t in titles)
        assert any(t.startswith("Skip") for t in titles)
        await pilot.press("q")


async def test_without_destination_merge_says_why(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "nodest")
    app = DlqApp(TriageSession(config(stack, demo, destination=False)))
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("m")
        await pilot.pause()
        assert len(screen.engine.buffer) == 0
        assert any("no DESTINATION" in str(n.message) for n in app._notifications)
        await pilot.press("p")
        assert screen.engine.buffer.counts()[Decision.PURGE] == 1
        titles = [c.title for c in app.get_system_commands(screen)]
        assert any(t.startswith("Merge") and "unavailable" in t for t in titles)
        await pilot.press("q", "q")


async def test_open_error_is_a_message_and_exit_1(stack: Stack) -> None:
    demo = await seed_demo(stack, 1, "openerr")
    cfg = config(stack, demo)
    cfg = type(cfg)(**{**cfg.__dict__, "source": demo.dlq + "-missing"})
    app = DlqApp(TriageSession(cfg))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        await wait_until(pilot, lambda: "Cannot open" in screen_text(app))
        await pilot.pause()
        text = screen_text(app)
        assert "Cannot open" in text and "missing" in text
        assert "Traceback" not in text
        await pilot.press("enter")
        await pilot.pause(0.2)
    assert app.return_code == 1


async def test_quit_asks_and_journal_is_offered_next_time(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "journal")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("m", "p", "s")
        await pilot.press("q")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "Quit without committing?" in text and "local journal" in text
        await pilot.press("escape")  # stay
        assert not isinstance(app.screen, ChoiceScreen)
        await pilot.press("q", "q")
    assert app.return_code == 0

    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await wait_loaded(pilot)
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.pause()
        await shows(pilot, "1 merge, 1 purge, 1 skip")
        await pilot.press("r")
        await pilot.pause()
        counts = screen.engine.buffer.counts()
        assert (counts[Decision.MERGE], counts[Decision.PURGE], counts[Decision.SKIP]) == (1, 1, 1)
        await pilot.press("q", "q")


async def test_payload_escapes_are_shown_not_interpreted(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "ansi")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await wait_loaded(pilot)
        text = await filter_to_one(pilot, screen, "key:ORD-*ANSI")
        assert "\x1b" not in text
        assert "ORD-\\x1b[7mANSI" in text  # the key, escaped, in the table and the detail
        assert "[bold red]not markup[/bold red]" in text  # the Avro reason, as JSON text
        assert "\\u001b[2J" in text
        await pilot.press("enter", "end")  # focus the detail pane, scroll to its end
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        # The x-note header holds ESC and BEL: not text, so it is shown as hex.
        assert "x-note 1b5d303b70776e6564075b626f6c645d" in text
        svg = app.export_screenshot()
        assert "\x1b" not in svg


async def test_poison_record_shows_hex_and_reason(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "poison")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await wait_loaded(pilot)
        text = await filter_to_one(pilot, screen, "key:ORD-POISON")
        assert "cannot decode; shown as hex" in text
        assert "not valid Avro" in text
        assert "|....." in text or "00000000" in text  # the hex dump
        await pilot.press("x")
        await pilot.pause()
        await shows(pilot, "raw hex")
        await pilot.press("p")  # the poison record can still be purged
        assert screen.engine.buffer.counts()[Decision.PURGE] == 1
        await pilot.press("q", "q")


async def test_keys_remapped_from_settings(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "remap")
    app = DlqApp(TriageSession(config(stack, demo)), {"merge": "y", "purge": "ctrl+d", "nonsense": "z"})
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("m")
        assert len(screen.engine.buffer) == 0
        await pilot.press("y", "ctrl+d")
        counts = screen.engine.buffer.counts()
        assert (counts[Decision.MERGE], counts[Decision.PURGE]) == (1, 1)
        assert any("nonsense" in str(n.message) for n in app._notifications)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        text = screen_text(app)
        assert "y " in text and "^d" in text
        await pilot.press("escape")
        await pilot.press("q", "q")


async def test_follow_shows_new_records(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "follow")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await wait_loaded(pilot)
        assert len(screen.table.source) == 7
        await pilot.press("f")
        await wait_until(pilot, lambda: "► following" in screen_text(app))
        await produce(stack.bootstrap, demo.dlq, [Rec(b"ORD-LATE", b'{"late": true}', partition=1)])
        await wait_until(pilot, lambda: len(screen.table.source) == 8)
        await pilot.press("f")
        await wait_until(pilot, lambda: screen.state == "loaded")
        await pilot.press("q")


async def test_reload_keeps_staged_decisions(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "reload")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("m", "p")
        first = screen.engine
        await produce(stack.bootstrap, demo.dlq, [Rec(b"ORD-NEW", b'{"new": true}', partition=2)])
        await pilot.press("r")
        await wait_until(pilot, lambda: screen.engine is not first and screen.state == "loaded")
        assert len(screen.table.source) == 8
        counts = screen.engine.buffer.counts()
        assert (counts[Decision.MERGE], counts[Decision.PURGE]) == (1, 1)
        assert app.engine is screen.engine
        await pilot.press("q", "q")


async def test_commit_failure_keeps_the_buffer(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "cfail")
    session = TriageSession(config(stack, demo))

    async def failing(*_a: object, **_k: object) -> CommitReport:
        raise CommitError("transaction aborted: broker said no", CommitReport())

    session.committer.commit = failing  # type: ignore[method-assign]
    app = DlqApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("m", "c")
        await wait_until(pilot, lambda: app.screen.state == "ready")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.state == "failed")  # type: ignore[attr-defined]
        await pilot.pause()
        text = screen_text(app)
        assert "Commit failed" in text and "broker said no" in text
        await pilot.press("escape")
        assert app.screen is screen
        assert screen.engine.buffer.counts()[Decision.MERGE] == 1
        assert len(screen.table.source) == 7
        await pilot.press("q", "q")


async def test_fenced_commit_is_retried_and_said(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "fenced")
    session = TriageSession(config(stack, demo))
    real = session.committer.commit
    calls = 0

    async def fenced_once(request: object, **kw: object) -> CommitReport:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise FencedCommitError("fenced: another dlq-tui session took over", CommitReport())
        return await real(request, **kw)  # type: ignore[arg-type]

    session.committer.commit = fenced_once  # type: ignore[method-assign]
    app = DlqApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("p", "c")
        await wait_until(pilot, lambda: app.screen.state == "ready")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.state == "done", 60)  # type: ignore[attr-defined]
        assert any("fenced by another session" in str(n.message) for n in app._notifications)
        await shows(pilot, "0 merged, 1 purged")
        await pilot.press("enter")
        assert len(screen.table.source) == 6
        await pilot.press("q")
    assert calls == 2


async def test_from_beginning_shows_committed_rows_as_resolved(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "history")
    app = DlqApp(TriageSession(config(stack, demo, from_beginning=True)))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("m", "c")
        await wait_until(pilot, lambda: app.screen.state == "ready")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.state == "done", 60)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert len(screen.table.source) == 7  # still shown ...
        assert screen.table.source.cells(0).mark == "✓"  # ... as resolved
        await pilot.press("g", "p")  # a resolved record cannot be decided again
        assert len(screen.engine.buffer) == 0
        await pilot.press("q")


async def test_command_palette_runs_actions(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "palette")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("ctrl+p", *"Skip")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.engine.buffer.counts()[Decision.SKIP] == 1)
        await pilot.press("q")


async def test_failed_reload_keeps_the_session(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = await seed_demo(stack, 3, "reloadfail")
    app = DlqApp(TriageSession(config(stack, demo)))

    class Unreachable(TriageSession):
        async def open(self) -> None:
            raise DlqError("broker unreachable (test)")

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("m")
        first = screen.engine
        monkeypatch.setattr("dlq_tui.engine.TriageSession", Unreachable)  # what reopen() builds
        await pilot.press("r")
        await wait_until(pilot, lambda: any("reload failed" in str(n.message) for n in app._notifications))
        await wait_until(pilot, lambda: screen.state == "loaded")
        assert screen.engine is first
        assert first.journal is not None  # re-attached
        await pilot.press("p", "c")  # the old session still commits
        await wait_until(pilot, lambda: app.screen.state == "ready")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.state == "done", 60)  # type: ignore[attr-defined]
        await shows(pilot, "1 merged, 1 purged")
        await pilot.press("enter", "q")


def _stalling_commit(session: TriageSession) -> tuple[list[str], object]:
    """Make the real commit stop after producing (inside the open transaction) until cancelled."""
    real = session.committer.commit
    reached: list[str] = []

    async def stall(stage: str) -> None:
        reached.append(stage)
        if stage == "produced":
            await asyncio.Event().wait()

    async def stalling(request: object, **kw: object) -> CommitReport:
        kw["fault"] = stall
        return await real(request, **kw)  # type: ignore[arg-type]

    session.committer.commit = stalling  # type: ignore[method-assign]
    return reached, real


async def test_escape_cancels_a_running_commit(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "ccancel")
    session = TriageSession(config(stack, demo))
    reached, _ = _stalling_commit(session)
    app = DlqApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("m", "p")
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.state == "ready")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: "produced" in reached, 60)
        review = app.screen
        assert isinstance(review, ReviewScreen)
        await shows(pilot, "producing")  # the stage, not "--%"
        await pilot.press("escape")
        assert review.state in ("cancelling", "failed")
        await wait_until(pilot, lambda: review.state == "failed", 30)
        await shows(pilot, "cancelled: nothing of the running transaction written, decisions kept")
        await pilot.press("escape")
        assert app.screen is screen
        counts = screen.engine.buffer.counts()
        assert (counts[Decision.MERGE], counts[Decision.PURGE]) == (1, 1)
        assert len(screen.table.source) == 7
        await pilot.press("q", "q")
    assert kcat_read(stack.bootstrap, demo.retry) == []
    assert [r for r in kcat_read(stack.bootstrap, demo.dlq) if r.value is None] == []


async def test_ctrl_q_while_committing_asks_then_cancels_and_quits(stack: Stack) -> None:
    demo = await seed_demo(stack, 3, "cquit")
    session = TriageSession(config(stack, demo))
    reached, _ = _stalling_commit(session)
    app = DlqApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("m", "c")
        await wait_until(pilot, lambda: app.screen.state == "ready")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: "produced" in reached, 60)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await shows(pilot, "Cancel the commit and quit?")
        await pilot.press("q")
        await wait_until(pilot, lambda: app.return_code is not None, 30)
    assert app.return_code == 0
    assert kcat_read(stack.bootstrap, demo.retry) == []


async def test_filter_change_clears_selection_and_bulk_refusals_are_shown(stack: Stack) -> None:
    demo = await seed_demo(stack, 5, "selnotice")
    app = DlqApp(TriageSession(config(stack, demo)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await wait_loaded(pilot)
        await pilot.press("a")
        assert len(screen.table.selection) == len(screen.table.source)
        await shows(pilot, "selected")  # in the staged bar's status, not a toast
        assert not app._notifications
        # A new filter: the selection goes (a bulk action must not hit hidden rows), and says so.
        await pilot.press("slash", *"key:ORD00*", "enter")
        await wait_until(pilot, lambda: screen.table.filter_text == "key:ORD00*")
        assert len(screen.table.selection) == 0
        await shows(pilot, "selection of")
        # A compacted destination refuses keyless records: bulk merge says why it left some out.
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")
        await wait_until(pilot, lambda: screen.table.filter_text == "")
        screen.engine.destination_policy = "compact"
        await pilot.press("a", "m")
        await wait_until(pilot, lambda: any("keyless" in str(n.message) for n in app._notifications))
        assert screen.engine.take_notices() == []  # taken, shown once
        merged = screen.engine.buffer.counts()[Decision.MERGE]
        assert 0 < merged < len(screen.table.source)
        await pilot.press("q", "q")
