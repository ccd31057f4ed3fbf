"""`dlq-tui demo-offline`: the demo DLQ on the in-memory engine — every format and DLQ header
convention, with no Kafka and no registry (pilot test, and the installed command under tmux)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from dlq_tui.demo.offline import offline_engine
from dlq_tui.tui.app import DlqApp
from tests.tuikit import wait_loaded, wait_until


async def test_every_format_decodes_and_every_convention_is_a_group() -> None:
    engine = offline_engine(30, now_ms=1_793_610_000_000)
    app = DlqApp(engine, first_view="groups")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_loaded(pilot)
        table: Any = app.screen_stack[0].query_one("#groups-table")
        await wait_until(pilot, lambda: table.row_count >= 10)
        conventions = {c for g in table.groups for c in g.conventions}
        assert {"spring", "connect", "karafka", "smallrye"} <= conventions
        kinds = {engine.decoded(r).value.kind for r in range(engine.row_count())}
        assert {"avro", "protobuf", "json", "hex"} <= kinds


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_installed_command_runs_with_no_kafka(tmp_path: Path) -> None:
    socket = f"dlq-tui-offline-{uuid.uuid4().hex[:8]}"
    exe = Path(sys.executable).with_name("dlq-tui")
    script = tmp_path / "run.sh"
    script.write_text(
        f"#!/bin/sh\nexport TERM=screen-256color LANG=C.UTF-8\n'{exe}' demo-offline\necho EXIT=$?\nsleep 30\n"
    )
    script.chmod(0o755)

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], check=True, capture_output=True, text=True
        ).stdout

    tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "140", "-y", "30", str(script))
    try:
        deadline = time.monotonic() + 30
        while "Failure groups" not in (screen := tmux("capture-pane", "-p", "-t", "t")):
            assert time.monotonic() < deadline, screen
            time.sleep(0.2)
        tmux("send-keys", "-t", "t", "q")
        while "EXIT=0" not in (screen := tmux("capture-pane", "-p", "-t", "t")):
            assert time.monotonic() < deadline, screen
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
