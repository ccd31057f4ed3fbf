"""SIGHUP and SIGTERM handled like Ctrl-C (issue 13.2): a dropped SSH session (SIGHUP) or a
`kill` during a commit cancels the running work, so the commit aborts its transaction (bounded)
before the process exits, instead of leaving it open to stall every read_committed reader until
the transaction times out. The journal keeps the staged decisions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

TERMINATING = (signal.SIGHUP, signal.SIGTERM)

PAUSE_ENV = "DLQ_TUI_PAUSE_AT"
"""Testing aid: a commit stage ('produced', 'offsets-sent') at which a commit stops and waits,
inside its open transaction (it logs a warning: on stderr in line mode, in the log file in the
app), so a test can interrupt or kill dlq-tui exactly there."""

log = logging.getLogger(__name__)


class Interrupted(KeyboardInterrupt):
    """The work was ended by a terminating signal (after its commit, if any, was aborted). A
    KeyboardInterrupt, so that, raised from a signal handler in the middle of any work, it goes
    through the event loop as Ctrl-C does."""

    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


async def run_until_signal(work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; SIGHUP or SIGTERM during a commit cancels it as Ctrl-C does (the commit aborts
    its transaction, bounded), then `Interrupted` is raised. Outside a commit the signal raises
    `Interrupted` at once, wherever the work is — also in the middle of a long filter scan on the
    event loop's thread."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    received: list[signal.Signals] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        received.append(sig)
        if any(not t.done() for t in _commits):
            loop.call_soon_threadsafe(task.cancel)
        else:
            raise Interrupted(sig.name)

    previous: dict[signal.Signals, Any] = {}
    for sig in TERMINATING:
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, on_signal)
    try:
        return await task
    except asyncio.CancelledError:
        if received and task.cancelled():
            raise Interrupted(received[0].name) from None
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_commits: set[asyncio.Task[Any]] = set()
ABORT_WAIT_SECONDS = 45.0
"""How long a terminating signal waits for running commits to abort (each abort is bounded)."""


@contextlib.contextmanager
def commit_running() -> Iterator[None]:
    """Marks the current task as running a commit, for `exit_on_terminating_signals`."""
    task = asyncio.current_task()
    if task is not None:
        _commits.add(task)
    try:
        yield
    finally:
        if task is not None:
            _commits.discard(task)


def exit_on_terminating_signals(before_exit: Callable[[], None] | None = None) -> None:
    """For code whose event loop we do not own (the full-screen app): on SIGHUP or SIGTERM, cancel
    the running commits (each aborts its transaction, bounded, with its producer still alive),
    wait for them, then end the process at once — whatever a worker thread is doing, and whether
    or not a terminal is still there. The journal already holds the staged decisions."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            _exit(name, before_exit)
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(_abort_then_exit(name, before_exit)))

    for sig in TERMINATING:
        signal.signal(sig, handler)


async def _abort_then_exit(name: str, before_exit: Callable[[], None] | None) -> None:
    running = [t for t in _commits if not t.done()]
    for task in running:
        task.cancel()
    if running:
        log.warning("%s during a commit: aborting it", name)
        await asyncio.wait(running, timeout=ABORT_WAIT_SECONDS)
    _exit(name, before_exit)


def _exit(name: str, before_exit: Callable[[], None] | None) -> None:
    log.warning("interrupted by %s; exiting", name)
    if before_exit is not None:
        with contextlib.suppress(Exception):
            before_exit()
    logging.shutdown()
    os._exit(1)


def pause_hook() -> Callable[[str], Awaitable[None]] | None:
    """The commit fault hook for `DLQ_TUI_PAUSE_AT` (testing aid), or None when it is not set."""
    stage = os.environ.get(PAUSE_ENV)
    if not stage:
        return None

    async def pause(at: str) -> None:
        if at == stage:
            log.warning("paused at %s (%s)", at, PAUSE_ENV)
            for handler in logging.getLogger().handlers:
                handler.flush()
            await asyncio.Event().wait()

    return pause
