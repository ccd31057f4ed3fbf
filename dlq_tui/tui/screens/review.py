"""The commit review: what the staged buffer would write, then the commit itself, in a worker.

The engine's commit plan (`plan.plan_lines`, the same words as `--dry-run`) is computed off the
loop (a big buffer takes a moment); the commit runs in an async
worker with a progress bar. The screen dismisses with a `CommitOutcome`; on failure the buffer is
kept (the engine guarantees it) and the message says so."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static
from textual.worker import Worker

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import Engine
from dlq_tui.kafka.committer import CommitReport
from dlq_tui.kafka.connection import DlqError
from dlq_tui.plan import CommitPlan, PlanLine, plan_lines, result_lines

__all__ = ["CommitOutcome", "ReviewScreen", "lines_content", "report_content"]

Part = str | tuple[str, str]


@dataclass(frozen=True)
class CommitOutcome:
    report: CommitReport | None
    error: str | None = None
    cancelled: bool = False


TONES: dict[str, str] = {
    "title": "bold",
    "merge": "bold $text-success",
    "purge": "bold $text-error",
    "warn": "bold $text-warning",
    "dim": "dim",
    "": "",
}


def lines_content(lines: list[PlanLine]) -> Content:
    """A rendered plan or result (`plan.plan_lines` / `plan.result_lines`): the same words as line
    mode, with the tones as styles."""
    parts: list[Part] = []
    for i, (text, tone) in enumerate(lines):
        parts.append((text, TONES[tone]) if TONES[tone] else text)
        parts.append("\n\n" if i == 0 and tone == "title" else "\n")
    return Content.assemble(*parts)


def report_content(report: CommitReport, skipped: int) -> Content:
    return Content.assemble(
        ("✓ Committed: ", "bold $text-success"), lines_content(result_lines(report.result(skipped)))
    )


class ReviewScreen(ModalScreen[CommitOutcome | None]):
    """Review, confirm (enter / y), commit with progress, show the result."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Back", show=False),
    ]

    DEFAULT_CSS = """
    ReviewScreen { align: center middle; }
    ReviewScreen > Vertical {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ReviewScreen #review-body { height: auto; max-height: 20; }
    ReviewScreen #review-progress-row { display: none; height: 1; }
    ReviewScreen.-committing #review-progress-row { display: block; }
    ReviewScreen #review-stage { width: 1fr; }
    ReviewScreen #review-progress { width: auto; }
    ReviewScreen #review-result { height: auto; }
    ReviewScreen #review-result.-error { color: $text-error; }
    ReviewScreen #review-keys { padding-top: 1; }
    """

    class Summarized(Message):
        def __init__(self, plan: CommitPlan) -> None:
            super().__init__()
            self.plan = plan

    class Progressed(Message):
        def __init__(self, stage: str, done: int, total: int) -> None:
            super().__init__()
            self.stage, self.done, self.total = stage, done, total

    class Finished(Message):
        def __init__(self, outcome: CommitOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.plan: CommitPlan | None = None
        self.outcome: CommitOutcome | None = None
        self.state = "summarizing"  # summarizing | ready | committing | cancelling | done | failed
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll(id="review-body"):
                yield Static(Content.assemble(("Preparing the review…", "italic")), id="review-summary")
            with Horizontal(id="review-progress-row"):
                yield Static("", id="review-stage", markup=False)
                yield ProgressBar(id="review-progress", show_eta=False, show_percentage=False)
            yield Static("", id="review-result", markup=False)
            yield Static("", id="review-keys", markup=False)

    def on_mount(self) -> None:
        self._keys()
        self._summarize()

    def _keys(self) -> None:
        keys: list[Part] = []
        if self.state == "ready":
            keys = [(" enter ", "reverse bold"), " commit   ", (" esc ", "reverse"), " back"]
        elif self.state == "committing":
            keys = [
                (" esc ", "reverse"),
                " cancel   ",
                ("committing… (the transaction is aborted if anything fails)", "italic"),
            ]
        elif self.state == "cancelling":
            keys = [("cancelling… (aborting the transaction)", "italic")]
        elif self.state == "done":
            keys = [(" enter ", "reverse bold"), " close"]
        elif self.state == "failed":
            keys = [
                (" r ", "reverse bold"),
                " retry   ",
                (" esc ", "reverse"),
                " close (decisions stay staged)",
            ]
        self.query_one("#review-keys", Static).update(Content.assemble(*keys))

    @work(exclusive=True, group="review")
    async def _summarize(self) -> None:
        self.post_message(self.Summarized(await self.engine.plan()))

    def on_review_screen_summarized(self, message: Summarized) -> None:
        plan = self.plan = message.plan
        self.query_one("#review-summary", Static).update(lines_content(plan_lines(plan)))
        self.state = "ready" if plan.decisions and plan.error is None else "done"
        if not plan.decisions:
            self.query_one("#review-result", Static).update(Content("nothing to commit"))
        self._keys()

    def on_key(self, event: events.Key) -> None:
        ready = event.key in ("enter", "y") and self.state == "ready"
        if ready or (event.key == "r" and self.state == "failed"):
            event.stop()
            self._start()
        elif event.key == "enter" and self.state in ("done", "failed"):
            event.stop()
            self.dismiss(self.outcome)

    def action_cancel(self) -> None:
        if self.state == "committing":
            self.cancel_commit()
            return
        if self.state == "cancelling":
            return
        self.dismiss(self.outcome)

    def cancel_commit(self) -> Worker[None] | None:
        """Cancel the running commit (the engine aborts the open transaction); returns its worker."""
        worker = self._worker
        if self.state != "committing" or worker is None:
            return worker if self.state == "cancelling" else None
        self.state = "cancelling"
        self.query_one("#review-result", Static).update(Content.assemble(("cancelling…", "bold")))
        self._keys()
        worker.cancel()
        return worker

    def _start(self) -> None:
        self.state = "committing"
        self.add_class("-committing")
        result = self.query_one("#review-result", Static)
        result.remove_class("-error")
        result.update("")
        bar = self.query_one("#review-progress", ProgressBar)
        bar.update(total=None, progress=0)
        self._stage("preparing…")
        self._keys()
        self._worker = self._commit()

    def _stage(self, text: str) -> None:
        self.query_one("#review-stage", Static).update(text)

    @work(exclusive=True, group="commit", exit_on_error=False)
    async def _commit(self) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(self.Progressed(stage, done, total))

        def fenced(message: str) -> None:
            self.app.notify(
                f"fenced by another session ({one_line(message, 200)}); re-reading and retrying",
                severity="warning",
                timeout=10,
            )

        try:
            report = await self.engine.commit(progress=progress, on_fenced=fenced)
        except asyncio.CancelledError:
            self.post_message(self.Finished(CommitOutcome(None, cancelled=True)))
            raise
        except DlqError as exc:  # CommitError and FencedCommitError are DlqErrors
            outcome = CommitOutcome(None, str(exc))
        except Exception as exc:
            outcome = CommitOutcome(None, f"{type(exc).__name__}: {exc}")
        else:
            outcome = CommitOutcome(report)
        self.post_message(self.Finished(outcome))

    def on_review_screen_progressed(self, message: Progressed) -> None:
        if self.state != "committing":
            return
        bar = self.query_one("#review-progress", ProgressBar)
        bar.update(total=max(1, message.total), progress=message.done)
        total = max(1, message.total)
        pct = min(100, message.done * 100 // total)
        self._stage(f"{message.stage} {message.done:,}/{message.total:,} ({pct}%)")

    def on_review_screen_finished(self, message: Finished) -> None:
        self.outcome = message.outcome
        self.remove_class("-committing")
        result = self.query_one("#review-result", Static)
        if message.outcome.cancelled:
            self.state = "failed"
            result.update(
                Content.assemble(("cancelled, nothing written, decisions kept", "bold $text-warning"))
            )
        elif message.outcome.report is not None:
            self.state = "done"
            result.update(report_content(message.outcome.report, self.plan.skipped if self.plan else 0))
        else:
            self.state = "failed"
            result.add_class("-error")
            result.update(
                Content.assemble(
                    ("✗ Commit failed; nothing of it is visible, the decisions stay staged:\n", "bold"),
                    one_line(message.outcome.error or "", 1000),
                )
            )
            self.app.bell()
        self._keys()
