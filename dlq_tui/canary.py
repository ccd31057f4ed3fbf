"""The canary of a safe redrive (docs/redrive.md), on the engine: commit the first N staged merges
in their own transaction, then watch the DLQ for them coming back. For line mode and the app."""

from __future__ import annotations

from collections.abc import Callable

from dlq_tui.engine import TriageSession
from dlq_tui.kafka.committer import CommitReport
from dlq_tui.redrive import CanaryOutcome, CanaryWatch, dlq_end_offsets, watch_dlq
from dlq_tui.triage.decisions import Decision


async def commit_canary(
    session: TriageSession,
    n: int,
    wait_seconds: float,
    *,
    on_fenced: Callable[[str], None] | None = None,
    on_committed: Callable[[CommitReport], None] | None = None,
) -> CanaryOutcome:
    """Commit the first `n` staged merges (partition, offset order) in their own transaction, then
    read the DLQ from the offsets it had before that transaction for up to `wait_seconds`. Returns
    as soon as a canary comes back (same key, or same fingerprint from the same origin); the rest
    stays staged either way: the caller commits it (`session.commit()`) only if none came back."""
    writes, _ = session.staged_writes()
    first = [w for w in writes if w[1] is Decision.MERGE][:n]
    if not first:
        return CanaryOutcome(CommitReport(), left=sum(1 for _ in session.buffer.writes()))
    config = session.config
    starts = await dlq_end_offsets(config.kafka, config.source, session.partitions)
    watch = CanaryWatch.of(r for r, _ in first)
    report = await session.commit(only={r.rid for r, _ in first}, on_fenced=on_fenced)
    if on_committed is not None:
        on_committed(report)
    returned = await watch_dlq(config.kafka, config.source, starts, watch, wait_seconds)
    return CanaryOutcome(report, returned, left=sum(1 for _ in session.buffer.writes()))
