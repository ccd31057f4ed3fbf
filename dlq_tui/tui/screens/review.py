"""The commit review: what the staged buffer would write, then the commit itself, in a worker.

The engine's commit plan (`plan.plan_lines`, the same words as `--dry-run`) is computed off the
loop (a big buffer takes a moment); the commit runs in an async
worker with a progress bar. The screen dismisses with a `CommitOutcome`; on failure the buffer is
kept (the engine guarantees it) and the message says so."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, ProgressBar, Static
from textual.worker import Worker

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import CanaryOutcome, Engine
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
    """Review, confirm (enter / y), commit with progress, show the result. With an audit topic it
    asks for the reason first; `k` commits a canary first (the first merges alone, then watches the
    DLQ for them coming back); a rate-capped commit stops between transactions on esc."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back", show=False),
    ]

    DEFAULT_CSS = """
    ReviewScreen { align: center middle; }
    ReviewScreen > Vertical {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ReviewScreen #review-body { height: auto; max-height: 20; }
    ReviewScreen #review-reason { margin-top: 1; }
    ReviewScreen #review-progress-row { display: none; height: 1; }
    ReviewScreen.-committing #review-progress-row { display: block; }
    ReviewScreen #review-stage { width: 1fr; }
    ReviewScreen #review-progress { width: auto; }
    ReviewScreen #review-result { height: auto; }
    ReviewScreen #review-result.-error { color: $text-error; }
    ReviewScreen #review-keys { padding-top: 1; }
    """

    @dataclass
    class Summarized(Message):
        plan: CommitPlan

    @dataclass
    class Progressed(Message):
        stage: str
        done: int
        total: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ReviewScreen.Progressed) and message.stage == self.stage

    @dataclass
    class Finished(Message):
        outcome: CommitOutcome
        canary: CanaryOutcome | None = None

    def __init__(self, engine: Engine, *, canary: tuple[int, float] = (10, 60.0)) -> None:
        """`canary`: how many merges a canary (`k`) commits, and how long it watches the DLQ."""
        super().__init__()
        self.engine = engine
        self.canary_size, self.canary_wait = canary
        self.plan: CommitPlan | None = None
        self.outcome: CommitOutcome | None = None
        # summarizing | ready | committing | stopping | cancelling | canary | done | failed
        self.state = "summarizing"
        self._worker: Worker[None] | None = None
        self._started = 0.0

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll(id="review-body"):
                yield Static(Content.assemble(("Preparing the review…", "italic")), id="review-summary")
            if self.engine.info.audit_topic:
                yield Input(placeholder="reason, for the audit records (required)", id="review-reason")
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
            keys = [(" enter ", "reverse bold"), " commit   "]
            if self.plan is not None and self.plan.merges:
                keys += [(" k ", "reverse"), f" canary: {min(self.canary_size, self.plan.merges)} first   "]
            keys += [(" esc ", "reverse"), " back"]
        elif self.state == "committing":
            what = "stop after this transaction" if self._paced() else "cancel"
            keys = [
                (" esc ", "reverse"),
                f" {what}   ",
                ("committing… (aborted if anything fails)", "italic"),
            ]
        elif self.state == "stopping":
            keys = [(" esc ", "reverse"), " abort the running transaction too   ", ("stopping…", "italic")]
        elif self.state == "canary":
            keys = [(" esc ", "reverse"), " stop watching (the rest stays staged)"]
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

    def _paced(self) -> bool:
        return self.engine.info.max_rate is not None or (self.plan is not None and self.plan.transactions > 1)

    @work(exclusive=True, group="review")
    async def _summarize(self) -> None:
        self.post_message(self.Summarized(await self.engine.plan()))

    @on(Summarized)
    def _summarized(self, message: Summarized) -> None:
        plan = self.plan = message.plan
        self.query_one("#review-summary", Static).update(lines_content(plan_lines(plan)))
        self.state = "ready" if plan.decisions and plan.error is None else "done"
        if not plan.decisions:
            self.query_one("#review-result", Static).update(Content("nothing to commit"))
        reason = self._reason_input()
        if reason is not None and self.state == "ready":
            reason.focus()
        self._keys()

    def _reason_input(self) -> Input | None:
        found = self.query("#review-reason")
        return found.first(Input) if found else None

    def _reason(self) -> str | bool | None:
        """The audit reason; False (and the prompt says so) when one is needed and not given."""
        field = self._reason_input()
        if field is None:
            return None
        if not field.value.strip():
            self._result(
                "a reason is needed: the audit records carry it (who re-sent what, and why)", error=True
            )
            field.focus()
            return False
        return field.value.strip()

    @on(Input.Submitted, "#review-reason")
    def _reason_given(self, event: Input.Submitted) -> None:
        event.stop()
        if self.state == "ready":
            self._start()

    def on_key(self, event: events.Key) -> None:
        typing = isinstance(self.focused, Input)
        if event.key == "enter" and self.state == "ready" and not typing:
            event.stop()
            self._start()
        elif event.key in ("y", "k", "r") and not typing:
            event.stop()
            if event.key == "y" and self.state == "ready":
                self._start()
            elif event.key == "k" and self.state == "ready" and self.plan is not None and self.plan.merges:
                self._start(canary=True)
            elif event.key == "r" and self.state == "failed":
                self._start()
        elif event.key == "enter" and self.state in ("done", "failed"):
            event.stop()
            self.dismiss(self.outcome)

    def action_cancel(self) -> None:
        if self.state == "committing" and self._paced():
            self.state = "stopping"
            self.engine.request_stop()
            self._result("stopping after the running transaction…")
            self._keys()
        elif self.state in ("committing", "stopping", "canary"):
            self.cancel_commit()
        elif self.state != "cancelling":
            self.dismiss(self.outcome)

    def cancel_commit(self) -> Worker[None] | None:
        """Cancel the running commit (the engine aborts the open transaction); returns its worker."""
        worker = self._worker
        if self.state not in ("committing", "stopping", "canary") or worker is None:
            return worker if self.state == "cancelling" else None
        self.state = "cancelling"
        self._result("cancelling…")
        self._keys()
        worker.cancel()
        return worker

    def _result(self, text: str | Content, *, error: bool = False) -> None:
        result = self.query_one("#review-result", Static)
        result.set_class(error, "-error")
        result.update(text if isinstance(text, Content) else Content.assemble((text, "bold")))

    def _start(self, *, canary: bool = False) -> None:
        reason = self._reason()
        if reason is False:
            return
        self.state = "canary" if canary else "committing"
        self.add_class("-committing")
        self._result("")
        self.query_one("#review-progress", ProgressBar).update(total=None, progress=0)
        self._stage("preparing…")
        self._started = time.monotonic()
        self._keys()
        self._worker = self._commit(reason if isinstance(reason, str) else None, canary)

    def _stage(self, text: str) -> None:
        self.query_one("#review-stage", Static).update(text)

    @work(exclusive=True, group="commit", exit_on_error=False)
    async def _commit(self, reason: str | None, canary: bool) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(self.Progressed(stage, done, total))

        def fenced(message: str) -> None:
            self.app.notify(
                f"fenced by another session ({one_line(message, 200)}); re-reading and retrying",
                severity="warning",
                timeout=10,
            )

        watched: CanaryOutcome | None = None
        try:
            if canary:
                watched = await self.engine.canary(
                    self.canary_size,
                    self.canary_wait,
                    on_committed=lambda _r: progress(f"watching the DLQ for {self.canary_wait:.0f}s", 0, 0),
                )
                report = watched.report
            else:
                report = await self.engine.commit(
                    progress=progress,
                    on_fenced=fenced,
                    waiting=lambda text: progress(text, 0, 0),
                    reason=reason,
                )
        except asyncio.CancelledError:
            self.post_message(self.Finished(CommitOutcome(None, cancelled=True)))
            raise
        except DlqError as exc:  # CommitError and FencedCommitError are DlqErrors
            outcome = CommitOutcome(None, str(exc))
        except Exception as exc:
            outcome = CommitOutcome(None, f"{type(exc).__name__}: {exc}")
        else:
            outcome = CommitOutcome(report)
        self.post_message(self.Finished(outcome, watched))

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        if self.state not in ("committing", "stopping", "canary"):
            return
        if not message.total:
            self._stage(message.stage)
            return
        total = max(1, message.total)
        self.query_one("#review-progress", ProgressBar).update(total=total, progress=message.done)
        text = (
            f"{message.stage} {message.done:,}/{message.total:,} ({min(100, message.done * 100 // total)}%)"
        )
        elapsed = time.monotonic() - self._started
        if message.done and elapsed > 1:
            rate = message.done / elapsed
            text += f" · {rate:,.0f}/s · ETA {max(0.0, (message.total - message.done) / rate):.0f}s"
        self._stage(text)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        outcome, watched = message.outcome, message.canary
        self.outcome = outcome if outcome.report is not None or self.outcome is None else self.outcome
        self.remove_class("-committing")
        skipped = self.plan.skipped if self.plan else 0
        if outcome.cancelled:
            self.state = "failed"
            self._result(
                Content.assemble(
                    (
                        "cancelled: nothing of the running transaction written, decisions kept",
                        "bold $text-warning",
                    )
                )
            )
        elif outcome.report is None:
            self.state = "failed"
            self._result(
                Content.assemble(
                    ("✗ Commit failed; nothing of it is visible, the decisions stay staged:\n", "bold"),
                    one_line(outcome.error or "", 1000),
                ),
                error=True,
            )
            self.app.bell()
        elif watched is not None and watched.returned:
            self.state = "done"
            came = "; ".join(r.describe() for r in watched.returned[:5])
            self._result(
                Content.assemble(
                    ("✗ The canary came back: ", "bold $text-error"),
                    one_line(came, 600),
                    f"\nThe consumer still fails: the other {watched.left:,} decisions stay staged, nothing more is merged.",
                ),
                error=True,
            )
            self.app.bell()
        elif watched is not None:
            self.state = "ready"
            self._result(
                Content.assemble(
                    ("✓ Canary: ", "bold $text-success"),
                    f"{outcome.report.merged:,} merged, none came back in {self.canary_wait:.0f}s. ",
                    "enter commits the rest.",
                )
            )
            self._summarize()
        else:
            self.state = "done"
            self._result(report_content(outcome.report, skipped))
        self._keys()
