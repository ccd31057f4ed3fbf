"""Edit then merge in the app (`e`, issue 10) with EDITOR set to a script, on the in-memory engine:
the diff is shown, the merge of the edited record is staged and marked, and the commit writes the
edited value with the original key, headers and timestamp; an invalid edit stages nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord
from dlq_tui.tui.app import DlqApp
from tests.tuikit import screen_text, wait_loaded, wait_until

HEADERS = (("kafka_dlt-exception-message", b"wrong product"),)


def _records() -> list[RawRecord]:
    value = json.dumps({"orderNumber": "ORD-1", "reason": "wrong prodcut"}).encode()
    return [RawRecord(0, 0, 1_793_610_000_000, 0, b"ORD-1", value, HEADERS)]


def _editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\n" + script)
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("VISUAL", str(editor))


async def test_edit_then_merge_writes_the_edited_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _editor(tmp_path, monkeypatch, "sed -i 's/wrong prodcut/wrong product/' \"$1\"\n")
    engine = MemoryEngine(_records())
    app = DlqApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: "Merge the edited record?" in screen_text(app))
        assert "wrong product" in screen_text(app)
        await pilot.press("m")
        await wait_until(pilot, lambda: engine.staged_counts()[Decision.MERGE] == 1)
        assert engine.edited(0)
        screen: Any = app.screen_stack[0]
        assert screen.table.view.mark(0)[0] == "E"
        await pilot.press("c")
        await wait_until(pilot, lambda: "1 edited" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Committed" in screen_text(app))
    [written] = [w for w in engine.memory_committer.written if w.topic == "orders-retry"]
    assert json.loads(written.value or b"") == {"orderNumber": "ORD-1", "reason": "wrong product"}
    assert (written.key, written.headers) == (b"ORD-1", HEADERS)


async def test_an_invalid_edit_stages_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _editor(tmp_path, monkeypatch, 'echo "{ not json" > "$1"\n')
    engine = MemoryEngine(_records())
    app = DlqApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: "The edit is not valid" in screen_text(app))
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert engine.staged_counts()[Decision.MERGE] == 0
        assert not engine.edited(0)
