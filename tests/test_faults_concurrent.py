"""Three engineers on the same (group, DLQ): three engine sessions with the same transactional id
(so they fence each other), overlapping random decisions, commits interleaved at random for many
rounds (DLQ_TUI_FAULT_ROUNDS, default 6; `make soak` runs 50). Nothing is merged twice, every
decided record ends resolved, the group's committed offset never moves backwards, and a fenced
committer says so and keeps every decision nobody else resolved."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.committer import CommitError, FencedCommitError
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RecordId
from dlq_tui.triage.resolution import PartitionResolution
from tests.faultkit import produce_many, record_figure
from tests.stack import Stack, create_topic, group_offsets, kcat_read, unique_name

ROUNDS = int(os.environ.get("DLQ_TUI_FAULT_ROUNDS", "6"))
RECORDS = 300


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


async def test_three_engineers_many_rounds(stack: Stack, topic_name: str) -> None:
    rng = random.Random(os.environ.get("DLQ_TUI_FAULT_SEED", "13"))
    source, dest, group = f"{topic_name}-dlq", f"{topic_name}-retry", unique_name("g")
    await create_topic(stack.bootstrap, source, 3, {"cleanup.policy": "compact"})
    await create_topic(stack.bootstrap, dest, 3)
    await produce_many(
        stack.bootstrap, source, [(i % 3, f"k{i:05d}".encode(), f"v{i}".encode()) for i in range(RECORDS)]
    )
    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=dest,
        group=group,
        use_journal=False,
    )
    sessions = [TriageSession(cfg) for _ in range(3)]
    for s in sessions:
        await s.open()
        await s.load_all()
    decided: dict[RecordId, set[Decision]] = {}
    fenced_reports = 0
    last_committed: dict[int, int] = {}
    try:
        for _ in range(ROUNDS):
            for s in sessions:
                pool = [r for r in s.visible_rows() if s.decision(r) is None]
                # The lowest unresolved records are what everyone looks at first: much overlap.
                for row in rng.sample(pool[: min(len(pool), 60)], k=min(len(pool), rng.randint(5, 20))):
                    decision = rng.choice([Decision.MERGE, Decision.MERGE, Decision.PURGE, Decision.SKIP])
                    s.decide([row], decision)
                    if decision.resolves:
                        decided.setdefault(s.rid(row), set()).add(decision)
            results = await asyncio.gather(*(_commit_at_random(s, rng) for s in sessions))
            fenced_reports += sum(results)
            offsets = await group_offsets(stack.bootstrap, group, source)
            for p, (committed, _meta) in offsets.items():
                assert committed >= last_committed.get(p, 0), f"partition {p}: committed offset moved back"
                last_committed[p] = committed
        for s in sessions:  # each engineer commits what is left until nothing is staged
            for _ in range(5):
                if not s.has_writes():
                    break
                await _commit_at_random(s, rng)
            assert not s.has_writes(), "every decision committed or dropped as resolved by another"
    finally:
        for s in sessions:
            await s.close()

    merged = kcat_read(stack.bootstrap, dest)
    counts = Counter((m.partition, m.key) for m in merged)
    assert counts and max(counts.values()) == 1, "nothing merged twice"
    offsets = await group_offsets(stack.bootstrap, group, source)
    state = {p: PartitionResolution.from_commit(c, m) for p, (c, m) in offsets.items()}
    for rid in decided:
        assert state[rid.partition].is_resolved(rid.offset), f"{rid} was decided but is not resolved"
    by_key = {r.key: RecordId(r.partition, r.offset) for r in kcat_read(stack.bootstrap, source) if r.value}
    for m in merged:
        assert Decision.MERGE in decided[by_key[m.key]], f"{m.key!r} merged though nobody merged it"
    record_figure("concurrent_rounds", ROUNDS)
    record_figure("concurrent_fenced_retries", fenced_reports)
    record_figure("concurrent_merged", len(merged))


async def _commit_at_random(session: TriageSession, rng: random.Random) -> int:
    """Commit after a random pause at a random commit stage (interleaving); returns the number of
    times the commit was fenced. A fenced commit keeps every decision nobody else resolved."""
    before = dict(session.buffer.items())
    stage = rng.choice(["produced", "offsets-sent"])
    delay = rng.random() * 0.05

    async def interleave(at: str) -> None:
        if at == stage:
            await asyncio.sleep(delay)  # lets the other committers run here (not synchronisation)

    told: list[str] = []
    if not session.has_writes():
        return 0
    try:
        await session.commit(fault=interleave, on_fenced=told.append)
    except (FencedCommitError, CommitError) as exc:
        assert "fenced" in str(exc) or "coordinator" in str(exc), str(exc)
        for rid, decision in before.items():
            if decision.resolves and not session.is_resolved_rid(rid):
                assert session.buffer.get(rid) is decision, f"{rid}: decision lost after {exc}"
        return len(told) + 1
    for message in told:
        assert "fenced" in message
    return len(told)
