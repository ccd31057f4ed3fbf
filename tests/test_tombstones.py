"""Tombstones (null values) in the DLQ are not triage material (issues 12.1 and 13.7): hidden from
triage by default and counted, never merged by accident (merge-all and --dry-run leave them out and
say so; a merge of one takes an explicit allow flag), and resolved silently when a commit's offsets
pass them. Against the real stack, kcat as the witness."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import DlqError, KafkaSettings
from dlq_tui.triage.decisions import Decision
from tests.stack import Rec, Stack, create_topic, group_offsets, kcat_read, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


async def compacted_dlq(stack: Stack) -> tuple[str, str]:
    """a (offset 0), the tombstone of an earlier purge of b (offset 1), c (offset 2)."""
    name = unique_name("tomb")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source, config={"cleanup.policy": "compact"})
    await create_topic(stack.bootstrap, dest, config={"cleanup.policy": "compact"})
    await produce(stack.bootstrap, source, [Rec(b"a", b"va"), Rec(b"b", None), Rec(b"c", b"vc")])
    return source, dest


async def opened(stack: Stack, source: str, dest: str, group: str, **kw: bool) -> TriageSession:
    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=dest,
        group=group,
        **kw,  # type: ignore[arg-type]
    )
    session = TriageSession(cfg)
    await session.open()
    await session.load_all()
    return session


async def test_tombstone_is_not_offered_and_resolves_silently(stack: Stack) -> None:
    source, dest = await compacted_dlq(stack)
    group = unique_name("g")
    session = await opened(stack, source, dest, group)
    try:
        shown = [session.store.key_at(r) for r in session.visible_rows()]
        assert shown == [b"a", b"c"]
        assert session.tombstone_count() == 1 and session.hidden_tombstones() == 1
        # Even asked for every row, a merge leaves the tombstone out and says why.
        assert session.decide(range(session.row_count()), Decision.MERGE) == 2
        assert any("tombstone" in n for n in session.take_notices())
        plan = session.commit_plan()
        assert [(w.offset, w.decision) for w in plan.writes] == [(0, Decision.MERGE), (2, Decision.MERGE)]
        report = await session.commit()
    finally:
        await session.close()
    assert report.merged == 2
    assert [(r.key, r.value) for r in kcat_read(stack.bootstrap, dest)] == [(b"a", b"va"), (b"c", b"vc")]
    # The commit passed the tombstone at offset 1: it is resolved with the decisions, so the
    # committed offset moves past everything (our own tombstones for a and c included).
    [(committed, metadata)] = (await group_offsets(stack.bootstrap, group, source)).values()
    assert committed == 5 and metadata == ""
    reopened = await opened(stack, source, dest, group, show_tombstones=True)
    try:
        assert reopened.row_count() == 0
    finally:
        await reopened.close()


async def test_shown_tombstone_merges_only_with_the_explicit_flag(stack: Stack) -> None:
    source, dest = await compacted_dlq(stack)
    session = await opened(stack, source, dest, unique_name("g"), show_tombstones=True)
    try:
        rows = list(session.visible_rows())
        assert [session.store.key_at(r) for r in rows] == [b"a", b"b", b"c"]
        assert session.hidden_tombstones() == 0 and session.tombstone_count() == 1
        tomb = rows[1]
        with pytest.raises(DlqError, match="tombstone"):
            session.decide([tomb], Decision.MERGE)
        assert session.decision(tomb) is None
        assert session.decide([tomb], Decision.MERGE, allow_tombstones=True) == 1
        plan = session.commit_plan()
        assert [(w.offset, w.decision) for w in plan.writes] == [(1, Decision.MERGE)]
        report = await session.commit()
    finally:
        await session.close()
    assert report.merged == 1
    assert [(r.key, r.value) for r in kcat_read(stack.bootstrap, dest)] == [(b"b", None)]


async def test_merge_all_and_dry_run_leave_tombstones_out(stack: Stack, tmp_path: Path) -> None:
    source, dest = await compacted_dlq(stack)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    base = [DLQ_TUI, "merge-all", "-b", stack.bootstrap, "-g", unique_name("g")]
    for extra in ([], ["--show-tombstones"]):
        dry = subprocess.run(
            [*base, *extra, "--dry-run", source, dest], capture_output=True, text=True, env=env, timeout=120
        )
        assert dry.returncode == 0, dry.stderr
        merges = [line.split()[2] for line in dry.stdout.splitlines() if line.startswith("would merge")]
        assert merges == ["0:0", "0:2"]
        assert "tombstone" in dry.stderr  # said: hidden, or left out of the merge
    done = subprocess.run([*base, source, dest], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 tombstone(s) (null values) hidden" in done.stderr
    assert all(r.value is not None for r in kcat_read(stack.bootstrap, dest))
