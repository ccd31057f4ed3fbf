"""The decider: stages decisions through the engine — a few rows at once on the loop, a bulk
decision over many rows as a worker (the engine checks them in a thread and applies them on the loop
in slices, so the screen keeps drawing). It owns "a bulk decision is running"."""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from textual import work
from textual.message import Message
from textual.widget import Widget

from dlq_tui.engine_api import Engine
from dlq_tui.kafka.connection import DlqError
from dlq_tui.triage.decisions import Decision

__all__ = ["BULK_ROWS", "Decider"]

BULK_ROWS = 100_000
"""Bulk decisions (and undo) over more rows than this run as a worker."""


class Decider(Widget):
    DEFAULT_CSS = "Decider { display: none; }"

    @dataclass
    class Done(Message):
        """A decision (`decision` None: undo) on `total` rows changed `changed` of them."""

        engine: Engine
        decision: Decision | None
        rows: array[int]
        bulk: bool
        changed: int = 0
        error: str | None = None
        label: str = "selected records"
        """What `rows` are, for the status line."""

    def __init__(self) -> None:
        super().__init__()
        self.running = False

    def decide(
        self,
        engine: Engine,
        rows: array[int],
        decision: Decision | None,
        *,
        bulk: bool,
        label: str = "selected records",
        allow_tombstones: bool = False,
    ) -> Done | None:
        """The outcome now, or None if it runs as a worker (then `Done` is posted).
        `allow_tombstones`: the engineer confirmed merging tombstones (separately)."""
        if bulk and len(rows) > BULK_ROWS:
            self.running = True
            self._run(engine, rows, decision, label)
            return None
        try:
            if decision is None:
                changed = engine.undo(rows)
            else:
                changed = engine.decide(rows, decision, allow_tombstones=allow_tombstones)
        except DlqError as exc:
            return self.Done(engine, decision, rows, bulk, error=str(exc), label=label)
        return self.Done(engine, decision, rows, bulk, changed, label=label)

    @work(exclusive=True, group="decide", exit_on_error=False)
    async def _run(self, engine: Engine, rows: array[int], decision: Decision | None, label: str) -> None:
        try:
            result = await engine.decide_many(rows, decision)
        except DlqError as exc:
            done = self.Done(engine, decision, rows, True, error=str(exc), label=label)
        else:
            done = self.Done(engine, decision, rows, True, result.changed, label=label)
        finally:
            self.running = False
        self.post_message(done)
