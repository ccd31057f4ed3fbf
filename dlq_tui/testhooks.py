"""Test-only pause points for the fault suite (tests/test_faults_*.py). Off unless the environment
sets DLQ_TUI_TEST_PAUSE_AT; not a user feature and not documented for users.

With DLQ_TUI_TEST_PAUSE_AT=<point> and DLQ_TUI_TEST_PAUSE_FILE=<path>, a process that reaches the
point writes the point's name to the file and waits there until it is killed, signalled or cancelled,
so a test can deliver `kill -9`, SIGHUP, SIGTERM or SIGINT at exactly that point. Points: `loading`
(after the first batch is stored) and the committer's fault points (`produced`, `offsets-sent`)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from dlq_tui.kafka.committer import FaultHook

PAUSE_AT = "DLQ_TUI_TEST_PAUSE_AT"
PAUSE_FILE = "DLQ_TUI_TEST_PAUSE_FILE"


def _paused_point() -> str | None:
    return os.environ.get(PAUSE_AT) or None


async def pause(point: str) -> None:
    """Wait forever at `point` if the environment asks for it; return at once otherwise."""
    if _paused_point() != point:
        return
    marker = os.environ.get(PAUSE_FILE)
    if marker:
        Path(marker).write_text(point, encoding="utf-8")
    await asyncio.Event().wait()


def pause_hook() -> FaultHook | None:
    """A committer fault hook that pauses at the requested point, or None when none is requested."""
    if _paused_point() is None:
        return None
    return pause
