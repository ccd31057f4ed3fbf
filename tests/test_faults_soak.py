"""Soak: a DLQ triaged in many commits on the private broker with faults injected at random —
`kill -9` of a `merge-all`/`purge-all` at a random point (then run again), the broker killed
mid-commit and restarted, another session fencing the commit. At the end: every decided record is
in the destination exactly once if merged (by key and payload digest), tombstoned exactly once,
resolved in the group's offsets, and no transaction is open. `make soak` runs it at full size
(200,000 records, 40 commits); `make test` at a reduced size (DLQ_TUI_SOAK_RECORDS/COMMITS)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.committer import CommitError, Committer, WaitBounds
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.resolution import PartitionResolution
from tests.faultkit import (
    PrivateStack,
    Proc,
    by_key_and_digest,
    dlq_tui_env,
    produce_many,
    record_figure,
    run_dlq_tui,
    wait_no_open_transaction,
)
from tests.stack import create_topic, group_offsets, kcat_read, unique_name

RECORDS = int(os.environ.get("DLQ_TUI_SOAK_RECORDS", "2000"))
COMMITS = int(os.environ.get("DLQ_TUI_SOAK_COMMITS", "6"))
PARTITIONS = 4
FAULTS = ["none", "kill", "broker", "fence"]


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


async def test_soak(private_stack: PrivateStack, tmp_path: Path, topic_name: str) -> None:
    rng = random.Random(os.environ.get("DLQ_TUI_FAULT_SEED", "2026"))
    bootstrap = private_stack.bootstrap
    source, dest, group = f"{topic_name}-dlq", f"{topic_name}-retry", unique_name("g")
    await create_topic(bootstrap, source, PARTITIONS, {"cleanup.policy": "compact"})
    await create_topic(bootstrap, dest, PARTITIONS)
    records = [
        (i % PARTITIONS, f"key-{i:07d}".encode(), f"payload {i} ".encode() * (i % 4 + 1))
        for i in range(RECORDS)
    ]
    await produce_many(bootstrap, source, records)
    per_partition = RECORDS // PARTITIONS
    chunk = -(-per_partition // COMMITS)
    decision_of: dict[int, str] = {}  # chunk -> "merge" / "purge"
    faults: Counter[str] = Counter()
    started = time.monotonic()
    for i in range(COMMITS):
        lo, hi = i * chunk, min(per_partition, (i + 1) * chunk) - 1
        if lo > hi:
            break
        decision = rng.choice(["merge", "merge", "purge"])
        decision_of[i] = decision
        fault = rng.choice(FAULTS)
        faults[fault] += 1
        if fault in ("none", "kill"):
            await asyncio.to_thread(
                _line_mode_round, private_stack, tmp_path, rng, group, source, dest, decision, lo, hi, fault
            )
        else:
            await _engine_round(private_stack, rng, group, source, dest, decision, lo, hi, fault)
    elapsed = time.monotonic() - started

    took = await asyncio.to_thread(wait_no_open_transaction, bootstrap, [source, dest], 60)
    merged_keys = {k for p, k, _ in records if decision_of.get(_chunk_of(records, k, chunk)) == "merge"}
    expected = Counter((k, hashlib.sha256(v).hexdigest()) for _, k, v in records if k in merged_keys)
    landed = by_key_and_digest(kcat_read(bootstrap, dest))
    lost = sum((expected - landed).values())
    doubled = sum((landed - expected).values())
    tombstones = Counter(r.key for r in kcat_read(bootstrap, source) if r.value is None)
    record_figure("soak_records", RECORDS)
    record_figure("soak_commits", len(decision_of))
    record_figure("soak_seconds", round(elapsed, 1))
    record_figure("soak_lost", lost)
    record_figure("soak_doubled", doubled)
    for name, n in faults.items():
        record_figure(f"soak_fault_{name}", n)
    record_figure("soak_final_open_transaction_seconds", round(took, 2))
    assert (lost, doubled) == (0, 0)
    assert tombstones == Counter(k for _, k, _ in records), "every decided record tombstoned once"
    offsets = await group_offsets(bootstrap, group, source)
    for p in range(PARTITIONS):
        committed, metadata = offsets[p]
        state = PartitionResolution.from_commit(committed, metadata)
        assert all(state.is_resolved(o) for o in range(per_partition)), f"partition {p}: all resolved"


def _chunk_of(records: list[tuple[int, bytes, bytes]], key: bytes, chunk: int) -> int:
    index = int(key[4:])
    return (index // PARTITIONS) // chunk  # the record's offset in its partition, by chunk


def _line_mode_round(
    private_stack: PrivateStack,
    tmp_path: Path,
    rng: random.Random,
    group: str,
    source: str,
    dest: str,
    decision: str,
    lo: int,
    hi: int,
    fault: str,
) -> None:
    command = "merge-all" if decision == "merge" else "purge-all"
    args = [command, "-b", private_stack.bootstrap, "-g", group, "--where", f"offset:{lo}..{hi}", source]
    args += [dest] if command == "merge-all" else []
    env = dlq_tui_env(tmp_path / "state")
    if fault == "kill":
        point = rng.choice(["loading", "produced", "offsets-sent"])
        proc = Proc(args, {**env, "DLQ_TUI_PAUSE_AT": point})
        proc.wait_stderr(f"paused at {point}")
        proc.kill(signal.SIGKILL)
        proc.wait(60)
    done = run_dlq_tui(args, env, timeout=600)
    assert done.popen.returncode == 0, done.output()


async def _engine_round(
    private_stack: PrivateStack,
    rng: random.Random,
    group: str,
    source: str,
    dest: str,
    decision: str,
    lo: int,
    hi: int,
    fault: str,
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=private_stack.bootstrap, producer={"transaction_timeout_ms": 15_000}
    )
    cfg = SessionConfig(kafka=kafka, source=source, destination=dest, group=group, use_journal=False)
    session = TriageSession(cfg, committer=Committer(kafka, WaitBounds(init=30, request=10, abort=5)))
    await session.open()
    try:
        await session.load_all()
        rows = [
            r
            for r in session.visible_rows()
            if lo <= session.store.offset_at(r) <= hi and session.store.value_len_at(r) >= 0
        ]
        session.decide(rows, Decision.MERGE if decision == "merge" else Decision.PURGE)
        point = rng.choice(["produced", "offsets-sent"])
        injected = False

        async def hook(stage: str) -> None:
            nonlocal injected
            if stage != point or injected:
                return
            injected = True
            if fault == "broker":
                await asyncio.to_thread(private_stack.kill_kafka)
            else:  # another session takes the transactional id
                other = AIOKafkaProducer(
                    bootstrap_servers=private_stack.bootstrap, transactional_id=session.transactional_id
                )
                await other.start()
                await other.stop()

        for attempt in range(6):
            try:
                await session.commit(fault=hook)
                break
            except CommitError:
                if fault == "broker" and attempt == 0:
                    await asyncio.to_thread(private_stack.start_kafka)
        assert not session.has_writes(), "the round's decisions were committed"
    finally:
        await session.close()
