"""Test-only pause point while loading, for the fault suite (tests/test_faults_*.py); the commit's
pause points are `dlq_tui.signals.pause_hook`. Off unless DLQ_TUI_PAUSE_AT names the point; not a
user feature.

With DLQ_TUI_PAUSE_AT=loading, the engine stops after it stored the first batch of the snapshot,
says `dlq-tui: paused at loading` on stderr and waits there until it is killed, signalled or
cancelled, so a test can deliver `kill -9`, SIGHUP, SIGTERM or SIGINT mid-load."""

from __future__ import annotations

import asyncio
import os
import sys

from dlq_tui.signals import PAUSE_ENV


async def pause(point: str) -> None:
    """Wait forever at `point` if DLQ_TUI_PAUSE_AT asks for it; return at once otherwise."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    print(f"dlq-tui: paused at {point} ({PAUSE_ENV})", file=sys.stderr, flush=True)
    await asyncio.Event().wait()
