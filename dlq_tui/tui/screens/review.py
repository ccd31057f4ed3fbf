"""The commit review: what the staged buffer would write, then the commit itself, in a worker.

The summary (grouped by decision and partition, the destination, tombstones, the group's new
offsets) is computed in a thread worker (a big buffer takes a moment); the commit runs in an async
worker with a progress bar. The screen dismisses with a `CommitOutcome`; on failure the buffer is
kept (the engine guarantees it) and the message says so."""

from __future__ import annotations

import asyncio
from collections import Counter
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
from dlq_tui.engine import TriageSession
from dlq_tui.kafka.committer import CommitReport
from dlq_tui.kafka.connection import DlqError
from dlq_tui.triage.decisions import Decision

__all__ = ["CommitOutcome", "ReviewScreen", "ReviewSummary", "summarize"]

Part = str | tuple[str, str]


@dataclass(frozen=True)
class ReviewSummary:
    by_partition: dict[Decision, dict[int, int]]
    keyed: int
    withheld: int
    skipped: int
    not_loaded: int
    offsets: dict[int, tuple[int, int]]  # partition -> (new committed offset, resolved above it)

    @property
    def writes(self) -> int:
        return sum(sum(p.values()) for p in self.by_partition.values())


@dataclass(frozen=True)
class CommitOutcome:
    report: CommitReport | None
    error: str | None = None
    cancelled: bool = False


def summarize(session: TriageSession) -> ReviewSummary:
    """What a commit would do, from the session's view (for a worker thread)."""
    writes, missing = session.staged_writes()
    by_partition: dict[Decision, Counter[int]] = {Decision.MERGE: Counter(), Decision.PURGE: Counter()}
    for record, decision in writes:
        by_partition[decision][record.partition] += 1
    keyed, withheld = session.tombstone_plan(writes)
    offsets: dict[int, tuple[int, int]] = {}
    for p, state in session.plan().items():
        offsets[p] = (state.committed, state.resolved_above.count())
    return ReviewSummary(
        by_partition={d: dict(sorted(c.items())) for d, c in by_partition.items()},
        keyed=keyed,
        withheld=withheld,
        skipped=session.buffer.count(Decision.SKIP),
        not_loaded=len(missing),
        offsets=offsets,
    )


def summary_content(session: TriageSession, s: ReviewSummary) -> Content:
    cfg = session.config
    parts: list[Part] = []
    parts += [(f"Commit {s.writes:,} staged decisions in one transaction", "bold"), "\n\n"]
    for decision in (Decision.MERGE, Decision.PURGE):
        per = s.by_partition.get(decision, {})
        total = sum(per.values())
        if not total:
            continue
        style = "bold $text-success" if decision is Decision.MERGE else "bold $text-error"
        parts.append((f"{decision.value} {total:,}", style))
        if decision is Decision.MERGE:
            parts += [" → ", (one_line(cfg.destination or "?", 80), "bold")]
            parts.append(
                " (key, value, headers byte for byte; "
                + ("original timestamps)" if cfg.keep_timestamp else "new timestamps)")
            )
        parts.append("\n")
        for p, n in per.items():
            parts.append(f"    partition {p}: {n:,}\n")
    if session.tombstones_on:
        why = "always" if cfg.tombstones == "always" else "the source topic is compacted"
        parts.append(
            f"tombstones: {s.keyed:,} to {one_line(cfg.source, 60)} ({why}; none for keyless records)\n"
        )
        if s.withheld:
            parts.append(
                f"    {s.withheld:,} withheld: a newer record with the same key is undecided "
                "(compaction would delete it)\n"
            )
    else:
        parts.append("tombstones: none (the source topic is not compacted)\n")
    if s.offsets:
        offs = ", ".join(
            f"p{p} → {off:,}" + (f" (+{above} above)" if above else "")
            for p, (off, above) in sorted(s.offsets.items())
        )
        parts.append(f"group {one_line(cfg.group, 60)}: committed offsets {offs}\n")
    notes = []
    if s.skipped:
        notes.append(f"{s.skipped:,} skip (not committed: they stay in the DLQ)")
    if s.not_loaded:
        notes.append(f"{s.not_loaded:,} staged on records not loaded yet (kept for later)")
    if notes:
        parts.append(("not in this commit: " + "; ".join(notes) + "\n", "dim"))
    return Content.assemble(*parts)


def report_content(report: CommitReport) -> Content:
    parts: list[Part] = [
        ("✓ Committed", "bold $text-success"),
        f": {report.merged:,} merged, {report.purged:,} purged, {report.tombstones:,} tombstones "
        f"in {report.transactions} transaction(s)",
    ]
    if report.tombstones_withheld:
        parts += [
            "\n",
            f"{report.tombstones_withheld:,} tombstones withheld: a newer record with the same key is undecided",
        ]
    if report.dropped:
        parts += [
            "\n",
            (
                f"{len(report.dropped):,} decisions dropped: already resolved by someone else",
                "bold $text-warning",
            ),
        ]
    return Content.assemble(*parts)


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
        def __init__(self, summary: ReviewSummary) -> None:
            super().__init__()
            self.summary = summary

    class Progressed(Message):
        def __init__(self, stage: str, done: int, total: int) -> None:
            super().__init__()
            self.stage, self.done, self.total = stage, done, total

    class Finished(Message):
        def __init__(self, outcome: CommitOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(self, session: TriageSession) -> None:
        super().__init__()
        self.session = session
        self.summary: ReviewSummary | None = None
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

    @work(thread=True, exclusive=True, group="review")
    def _summarize(self) -> None:
        self.post_message(self.Summarized(summarize(self.session)))

    def on_review_screen_summarized(self, message: Summarized) -> None:
        self.summary = message.summary
        self.query_one("#review-summary", Static).update(summary_content(self.session, message.summary))
        self.state = "ready" if message.summary.writes else "done"
        if not message.summary.writes:
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
            report = await self.session.commit(progress=progress, on_fenced=fenced)
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
            result.update(report_content(message.outcome.report))
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
