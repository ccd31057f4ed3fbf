"""The loader: a widget with no looks that owns reading. It opens (or reopens) the engine and reads
its records in one exclusive worker, posting what happens as messages; the screen only reacts.

Each message names the engine it is about: after a reload, messages of the old engine still in the
queue are told apart and ignored.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, get_current_worker

from dlq_tui.engine_api import Engine
from dlq_tui.kafka.connection import DlqError

__all__ = ["Loader", "describe_error"]

ROWS_EVERY = 0.1
"""While records stream in by the thousand, the table hears of new rows at most this often (s):
one message per slice of the engine's load meant a layout pass per 1,000 rows, and the app took
twice the engine's time to load 10M."""

BULK = 1_000
"""A load step of this many rows or more means more are coming at once (the engine stores fetches
in slices of 1,000); a smaller one means reading caught up, and the table hears of it at once."""


def describe_error(exc: BaseException) -> str:
    """An error as the screen says it: ours as they are, others with their type."""
    if isinstance(exc, DlqError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Loader(Widget):
    DEFAULT_CSS = "Loader { display: none; }"

    @dataclass
    class Opened(Message):
        engine: Engine

    @dataclass
    class OpenFailed(Message):
        message: str

    @dataclass
    class ReopenFailed(Message):
        message: str

    @dataclass
    class RowsLoaded(Message):
        engine: Engine
        rows: range

    @dataclass
    class SchemasFetched(Message):
        """Rows already shown decode differently now: repaint."""

        engine: Engine

    @dataclass
    class Finished(Message):
        engine: Engine
        error: str | None = None

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.opened = False
        self.following = False
        self._worker: Worker[None] | None = None

    def start(self) -> None:
        """Open (the first time) and read the rest of the snapshot; then follow if following."""
        self._worker = self._run()

    def reload(self) -> None:
        """A new snapshot with fresh group offsets (the engine keeps the staged decisions)."""
        self.opened = False
        self._worker = self._run(reopen=True)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def _run(self, reopen: bool = False) -> None:
        engine = self.engine
        if reopen:
            previous = self._worker
            if previous is not None and previous is not get_current_worker():
                with contextlib.suppress(Exception):
                    await previous.wait()
            try:
                engine = self.engine = await engine.reopen()  # the old one stays usable on failure
            except Exception as exc:
                self.opened = True
                self.post_message(self.ReopenFailed(describe_error(exc)))
                return
            self.opened = True
            self.post_message(self.Opened(engine))
        elif not self.opened:
            try:
                await engine.open()
            except Exception as exc:
                self.post_message(self.OpenFailed(describe_error(exc)))
                return
            self.opened = True
            self.post_message(self.Opened(engine))
        try:
            while True:
                follow = self.following
                pending: range | None = None
                posted = 0.0
                async for rows in engine.load(follow=follow):
                    pending = rows if pending is None else range(pending.start, rows.stop)
                    now = time.monotonic()
                    # Told at once: the first rows, a slice that drained the fetch (caught up,
                    # following) and anything after ROWS_EVERY; the rest waits for the next one.
                    if not posted or now - posted >= ROWS_EVERY or len(rows) < BULK or engine.loading_done:
                        self.post_message(self.RowsLoaded(engine, pending))
                        pending, posted = None, now
                    # The rows show at once; values whose schemas are being fetched repaint then.
                    if len(rows) and await engine.prefetch(rows):
                        self.post_message(self.SchemasFetched(engine))
                    if follow and not self.following:
                        break
                if pending is not None:
                    self.post_message(self.RowsLoaded(engine, pending))
                if not follow and self.following:
                    continue  # the snapshot is read; now follow
                break
        except Exception as exc:
            self.post_message(self.Finished(engine, describe_error(exc)))
            return
        self.post_message(self.Finished(engine))
        await engine.warm()  # the first filter and the groups view are quick after this
