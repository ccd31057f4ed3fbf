"""SIGHUP and SIGTERM handled like Ctrl-C (issue 13.2): a dropped SSH session (SIGHUP) or a
`kill` during a commit cancels the running work, so the commit aborts its transaction (bounded)
before the process exits, instead of leaving it open to stall every read_committed reader until
the transaction times out. The journal keeps the staged decisions."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

TERMINATING = (signal.SIGHUP, signal.SIGTERM)

PAUSE_ENV = "DLQ_TUI_PAUSE_AT"
"""Testing aid: a commit stage ('produced', 'offsets-sent') at which line mode stops and waits (it
says so on stderr), so a test can interrupt or kill it exactly there."""


class Interrupted(Exception):
    """The work was cancelled by a terminating signal (after its commit, if any, was aborted)."""

    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


async def run_until_signal(work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; SIGHUP or SIGTERM cancels it as Ctrl-C does (a commit in it aborts its
    transaction, bounded), and then `Interrupted` is raised."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    received: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        task.cancel()

    installed = []
    for sig in TERMINATING:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signal
            pass
    try:
        return await task
    except asyncio.CancelledError:
        if received and task.cancelled():
            raise Interrupted(received[0].name) from None
        raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def interrupt_on_terminating_signals() -> None:
    """For code whose event loop we do not own (the full-screen app): SIGHUP and SIGTERM raise
    KeyboardInterrupt in the main thread, which ends the loop the way a second Ctrl-C does:
    asyncio cancels every task (a running commit aborts its transaction, bounded) before it closes."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in TERMINATING:
        signal.signal(sig, handler)


def pause_hook() -> Callable[[str], Awaitable[None]] | None:
    """The commit fault hook for `DLQ_TUI_PAUSE_AT` (testing aid), or None when it is not set."""
    stage = os.environ.get(PAUSE_ENV)
    if not stage:
        return None

    async def pause(at: str) -> None:
        if at == stage:
            print(f"dlq-tui: paused at {at} ({PAUSE_ENV})", file=sys.stderr, flush=True)
            await asyncio.Event().wait()

    return pause
