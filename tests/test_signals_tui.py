"""SIGHUP during a commit in the full-screen app (issue 13.2), as a dropped SSH session sends it:
the app, paused inside its open transaction (DLQ_TUI_PAUSE_AT), aborts the transaction and exits;
no transaction stays open, read_committed readers see nothing of the batch, and the journal still
holds the staged decisions."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import Rec, Stack, create_topic, kcat_read, produce, unique_name
from tests.test_signals import open_transaction
from tests.test_tui_tmux import Tmux, command, env_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(tmp_path)
    try:
        yield session
    finally:
        session.kill()


def app_pid(term: Tmux) -> int:
    """The dlq-tui process: the child of the pane's shell."""
    shell = int(term._tmux("list-panes", "-t", "t", "-F", "#{pane_pid}").strip())
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def wait_for_line(path: Path, text: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text()):
        assert time.monotonic() < deadline, f"{text!r} not in {path}"
        time.sleep(0.2)


async def test_sighup_mid_commit_in_the_app(stack: Stack, term: Tmux, tmp_path: Path) -> None:
    name = unique_name("hup-app")
    dlq, retry, group = f"{name}-dlq", f"{name}-retry", unique_name("g")
    await create_topic(stack.bootstrap, dlq, config={"cleanup.policy": "compact"})
    await create_topic(stack.bootstrap, retry)
    await produce(stack.bootstrap, dlq, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(3)])
    term.start(command(stack, dlq, retry, group), env_for(tmp_path, DLQ_TUI_PAUSE_AT="produced"))
    term.wait_for("Snapshot loaded 3 records")
    term.keys("m", "m", "m")
    term.wait_for("3 merge · 0 purge · 0 skip")
    term.keys("c")
    term.wait_for("Commit 3 staged decisions in 1 transaction")
    term.keys("Enter")
    state = tmp_path / "state" / "dlq-tui"
    wait_for_line(state / "dlq-tui.log", "paused at produced")
    assert await open_transaction(stack.bootstrap, retry)

    sent = time.monotonic()
    os.kill(app_pid(term), signal.SIGHUP)
    term.wait_for("EXIT=1")
    while await open_transaction(stack.bootstrap, retry) or await open_transaction(stack.bootstrap, dlq):
        assert time.monotonic() < sent + 15, "a transaction stayed open after SIGHUP"
        await asyncio.sleep(0.2)
    assert kcat_read(stack.bootstrap, retry) == []
    assert "interrupted by SIGHUP" in (state / "dlq-tui.log").read_text()
    # The journal keeps the three decisions for the next session.
    [journal] = (state / "journal").glob("*.jsonl")
    ops = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    staged = {(p, r) for op in ops if op.get("op") == "set" for p, r in op["r"].items()}
    assert staged, journal.read_text()
