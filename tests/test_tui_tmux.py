"""End to end in a real terminal: tmux runs the installed `dlq-tui` against the stack; keys go in
with send-keys, the screen comes out with capture-pane, and kcat checks what was written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlq_tui.decode.registry import SchemaRegistry
from dlq_tui.demo.__main__ import make_compacted, recreate_topics, wait_for_leaders
from dlq_tui.demo.data import PARTITIONS, demo_records, order_canceled_schema
from tests.stack import Rec, Stack, kcat_read, produce, unique_name

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

DLQ_TUI = Path(sys.executable).parent / "dlq-tui"


class Tmux:
    """One tmux server of our own (its own socket), one window running a command."""

    def __init__(self, tmp: Path) -> None:
        self.socket = f"dlq-tui-test-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True, timeout=30
        ).stdout

    def start(self, command: list[str], env: dict[str, str], size: tuple[int, int] = (100, 30)) -> None:
        script = self.tmp / "run.sh"
        exports = "".join(f"export {k}='{v}'\n" for k, v in env.items())
        quoted = " ".join(f"'{c}'" for c in command)
        script.write_text(f'#!/bin/sh\n{exports}{quoted}\necho "EXIT=$?"\nsleep 60\n')
        script.chmod(0o755)
        cols, rows = size
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(cols), "-y", str(rows), str(script)
        )

    def keys(self, *keys: str) -> None:
        """Send keys in order (the app reads them in order; tests wait for the screen they expect).
        A key that must not run into the next one (Escape then q would read as Alt+q) is sent on
        its own, followed by a wait for its effect."""
        for key in keys:
            self._tmux("send-keys", "-t", "t", key)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 40.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen after {timeout}s:\n{screen}")
            time.sleep(0.2)

    def wait_gone(self, text: str, timeout: float = 40.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text not in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} still on screen after {timeout}s:\n{screen}")
            time.sleep(0.2)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(tmp_path)
    try:
        yield session
    finally:
        session.kill()


async def seed_article(stack: Stack, dlq: str, retry: str) -> None:
    """The seed article's three orders, ORD001..ORD003, alone on partition 0 of a compacted DLQ."""
    with SchemaRegistry(stack.registry_url) as registry:
        schema_id = registry.register(f"{dlq}-value", order_canceled_schema())
    await recreate_topics(
        stack.bootstrap, {dlq: {"cleanup.policy": "delete"}, retry: {"cleanup.policy": "compact"}}, PARTITIONS
    )
    await wait_for_leaders(stack.bootstrap, [dlq, retry])
    records = demo_records(schema_id, count=3, now_ms=int(time.time() * 1000))[:3]
    await produce(
        stack.bootstrap,
        dlq,
        [
            Rec(r.key, r.value, partition=r.partition, headers=r.headers, timestamp=r.timestamp)
            for r in records
        ],
    )
    await make_compacted(stack.bootstrap, [dlq])


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "HOME": os.environ.get("HOME", str(tmp)),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "screen-256color",
    }
    env.update(extra)
    return env


def command(stack: Stack, dlq: str, retry: str | None, group: str) -> list[str]:
    cmd = [
        str(DLQ_TUI),
        "-b",
        stack.bootstrap,
        "-g",
        group,
        "-c",
        f"schema.registry.url={stack.registry_root}",
        "--view",
        "records",
        dlq,
    ]
    return [*cmd, retry] if retry else cmd


async def test_triage_article_orders_in_tmux(stack: Stack, tmux: Tmux, tmp_path: Path) -> None:
    dlq, retry, group = unique_name("tmux-dlq"), unique_name("tmux-retry"), unique_name("tmux-g")
    await seed_article(stack, dlq, retry)
    tmux.start(command(stack, dlq, retry, group), env_for(tmp_path))
    tmux.wait_for("Snapshot loaded 3 records")
    screen = tmux.wait_for("ORD003")
    assert "ORD001" in screen and "ORD002" in screen
    tmux.keys("m", "p", "m")
    tmux.wait_for("2 merge · 1 purge · 0 skip · uncommitted")
    tmux.keys("c")
    tmux.wait_for("Commit 3 staged decisions in 1 transaction")
    tmux.keys("Enter")
    screen = tmux.wait_for("Committed: 2 merged, 1 purged, 0 skipped; 3 tombstones")
    tmux.keys("Enter")
    screen = tmux.wait_for("nothing staged")
    tmux.keys("q")
    tmux.wait_for("EXIT=0")

    merged = kcat_read(stack.bootstrap, retry)
    assert sorted(r.key for r in merged) == [b"ORD001", b"ORD003"]
    tombstones = [r for r in kcat_read(stack.bootstrap, dlq) if r.value is None]
    assert sorted(r.key for r in tombstones) == [b"ORD001", b"ORD002", b"ORD003"]


@pytest.mark.parametrize(
    ("term", "no_color"),
    [("xterm-256color", False), ("screen-256color", True), ("linux", True)],
)
async def test_terminals_and_no_color(
    stack: Stack, tmux: Tmux, tmp_path: Path, term: str, no_color: bool
) -> None:
    dlq, retry, group = unique_name("term-dlq"), unique_name("term-retry"), unique_name("term-g")
    await seed_article(stack, dlq, retry)
    extra = {"TERM": term, **({"NO_COLOR": "1"} if no_color else {})}
    tmux.start(command(stack, dlq, retry, group), env_for(tmp_path, **extra), size=(80, 24))
    tmux.wait_for("Snapshot loaded 3 records")
    tmux.keys("s")
    tmux.wait_for("0 merge · 0 purge · 1 skip")
    tmux.keys("?")
    tmux.wait_for("Keys")
    tmux.keys("Escape")
    tmux.wait_gone("Keys")
    tmux.keys("q")
    tmux.wait_for("EXIT=0")


async def test_open_error_exit_status_in_tmux(stack: Stack, tmux: Tmux, tmp_path: Path) -> None:
    tmux.start(command(stack, unique_name("no-such-dlq"), None, "g"), env_for(tmp_path), size=(80, 24))
    tmux.wait_for("does not exist")
    tmux.keys("Enter")
    screen = tmux.wait_for("EXIT=1")
    assert "Traceback" not in screen
