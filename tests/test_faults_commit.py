"""Commit fault injection in process (issue 7's test hygiene): a failure at every point the committer
has — after produce, after the offsets are sent, during the commit (cancelled there), the abort
failing, InitProducerId timing out, fence retries exhausted. After each: read_committed readers see
nothing of the batch (kcat), no transaction stays open, the staged buffer is intact, and a second
commit writes every decided record exactly once. Also: a 3-partition commit read back partition by
partition, and no tombstone with `--tombstones never` or `auto` on a delete-policy source."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from dlq_tui.engine import TriageSession
from dlq_tui.kafka.committer import (
    CommitError,
    Committer,
    FencedCommitError,
    WaitBounds,
    transactional_id_for,
)
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RecordId
from dlq_tui.triage.resolution import PartitionResolution
from tests.faultkit import PrivateStack, TcpProxy, by_key_and_digest, wait_no_open_transaction
from tests.stack import Rec, Stack, create_topic, group_offsets, kcat_read, produce, unique_name
from tests.test_engine import config, opened


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


class Injected(RuntimeError):
    pass


async def _setup(
    bootstrap: str, name: str, n: int = 6, *, partitions: int = 1, compact: bool = True
) -> tuple[str, str, list[Rec]]:
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(bootstrap, source, partitions, {"cleanup.policy": "compact" if compact else "delete"})
    await create_topic(bootstrap, dest, partitions)
    records = [Rec(f"k{i}".encode(), f"value {i}".encode(), partition=i % partitions) for i in range(n)]
    await produce(bootstrap, source, records)
    return source, dest, records


def _staged(session: TriageSession) -> dict[RecordId, Decision]:
    return dict(session.buffer.items())


def _decide_all(session: TriageSession) -> dict[RecordId, Decision]:
    rows = list(session.visible_rows())
    session.decide(rows[::2], Decision.MERGE)
    session.decide(rows[1::2], Decision.PURGE)
    return _staged(session)


def _assert_nothing_visible(bootstrap: str, source: str, dest: str, before: int) -> None:
    wait_no_open_transaction(bootstrap, [source, dest])
    assert kcat_read(bootstrap, dest) == []
    assert len(kcat_read(bootstrap, source)) == before, "no tombstone of the aborted batch is visible"


def _assert_exactly_once(bootstrap: str, source: str, dest: str, records: list[Rec]) -> None:
    """Records k0, k2, ... merged once each (by key and payload digest); one tombstone per record."""
    merged = kcat_read(bootstrap, dest)
    expected = Counter(
        (r.key, hashlib.sha256(r.value or b"").hexdigest()) for i, r in enumerate(records) if i % 2 == 0
    )
    assert by_key_and_digest(merged) == expected
    tombstones = Counter(r.key for r in kcat_read(bootstrap, source) if r.value is None)
    assert tombstones == Counter(r.key for r in records), "one tombstone per decided keyed record"


@pytest.mark.parametrize("point", ["produced", "offsets-sent"])
async def test_failure_at_a_fault_point_leaves_nothing_and_keeps_the_buffer(
    stack: Stack, topic_name: str, point: str
) -> None:
    source, dest, records = await _setup(stack.bootstrap, topic_name)
    session = await opened(config(stack, source, dest, unique_name("g")))
    try:
        staged = _decide_all(session)

        async def fault(stage: str) -> None:
            if stage == point:
                raise Injected(f"injected at {stage}")

        with pytest.raises(CommitError, match=f"injected at {point}"):
            await session.commit(fault=fault)
        _assert_nothing_visible(stack.bootstrap, source, dest, len(records))
        assert _staged(session) == staged
        assert await group_offsets(stack.bootstrap, session.config.group, source) == {}
        report = await session.commit()
        assert (report.merged, report.purged) == (3, 3)
    finally:
        await session.close()
    _assert_exactly_once(stack.bootstrap, source, dest, records)


async def test_cancelled_during_commit_aborts_at_once(stack: Stack, topic_name: str) -> None:
    """Esc in the app (or Ctrl-C in line mode) while the commit waits at its last step."""
    source, dest, records = await _setup(stack.bootstrap, topic_name)
    session = await opened(config(stack, source, dest, unique_name("g")))
    try:
        staged = _decide_all(session)
        reached = asyncio.Event()

        async def wait_there(stage: str) -> None:
            if stage == "offsets-sent":
                reached.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(session.commit(fault=wait_there))
        await asyncio.wait_for(reached.wait(), 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        _assert_nothing_visible(stack.bootstrap, source, dest, len(records))
        assert _staged(session) == staged
        await session.commit()
    finally:
        await session.close()
    _assert_exactly_once(stack.bootstrap, source, dest, records)


async def test_abort_failing_falls_back_to_a_fresh_producer(stack: Stack, topic_name: str) -> None:
    """The producer cannot abort: a new producer with the same transactional id makes the
    coordinator abort the open transaction, so readers do not wait for the transaction timeout."""
    source, dest, records = await _setup(stack.bootstrap, topic_name)
    session = await opened(config(stack, source, dest, unique_name("g")))
    try:
        staged = _decide_all(session)

        async def fault(stage: str) -> None:
            if stage in ("offsets-sent", "aborting"):
                raise Injected(f"injected at {stage}")

        with pytest.raises(CommitError, match="injected at offsets-sent"):
            await session.commit(fault=fault)
        took = wait_no_open_transaction(stack.bootstrap, [source, dest], bound=15)
        assert took < 15  # well below the 60 s transaction timeout
        _assert_nothing_visible(stack.bootstrap, source, dest, len(records))
        assert _staged(session) == staged
        await session.commit()
    finally:
        await session.close()
    _assert_exactly_once(stack.bootstrap, source, dest, records)


async def test_fence_retries_exhausted_reports_fenced_and_keeps_the_buffer(
    stack: Stack, topic_name: str
) -> None:
    source, dest, records = await _setup(stack.bootstrap, topic_name)
    group = unique_name("g")
    session = await opened(config(stack, source, dest, group))
    fences = 0
    try:
        staged = _decide_all(session)

        async def another_session_takes_the_id(stage: str) -> None:
            nonlocal fences
            if stage == "produced":
                fences += 1
                other = AIOKafkaProducer(
                    bootstrap_servers=stack.bootstrap, transactional_id=transactional_id_for(group, source)
                )
                await other.start()  # InitProducerId: fences this commit and aborts its transaction
                await other.stop()

        told: list[str] = []
        with pytest.raises(FencedCommitError, match="fenced"):
            await session.commit(fault=another_session_takes_the_id, on_fenced=told.append)
        assert fences == len(told) + 1 >= 2
        _assert_nothing_visible(stack.bootstrap, source, dest, len(records))
        assert _staged(session) == staged
        await session.commit()
    finally:
        await session.close()
    _assert_exactly_once(stack.bootstrap, source, dest, records)


async def test_init_producer_id_timing_out_is_bounded_and_keeps_the_buffer(
    private_stack: PrivateStack, kafka_proxy: TcpProxy, topic_name: str
) -> None:
    """The transaction coordinator does not answer (the path to the broker went silent after the
    load): the commit gives up within its bound, nothing is written, the buffer is intact."""
    bootstrap = private_stack.bootstrap
    source, dest, records = await _setup(bootstrap, topic_name)
    cfg = config_for(private_stack.proxied_bootstrap, source, dest, unique_name("g"))
    session = TriageSession(cfg, committer=Committer(cfg.kafka, WaitBounds(init=5.0, abort=5.0)))
    await session.open()
    await session.load_all()
    try:
        staged = _decide_all(session)
        kafka_proxy.set("blackhole")
        with pytest.raises(CommitError, match="did not let this commit start within 5s"):
            await asyncio.wait_for(session.commit(), 60)
        kafka_proxy.set("pass")
        _assert_nothing_visible(bootstrap, source, dest, len(records))
        assert _staged(session) == staged
        await session.commit()
    finally:
        kafka_proxy.set("pass")
        await session.close()
    _assert_exactly_once(bootstrap, source, dest, records)


def config_for(bootstrap: str, source: str, dest: str | None, group: str, **kw: Any) -> Any:
    from dlq_tui.engine import SessionConfig

    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=bootstrap), source=source, destination=dest, group=group, **kw
    )


async def test_commit_on_three_partitions_reads_back_every_offset_and_metadata(
    stack: Stack, topic_name: str
) -> None:
    source, dest, records = await _setup(stack.bootstrap, topic_name, n=30, partitions=3)
    group = unique_name("g")
    session = await opened(config(stack, source, dest, group))
    try:
        decided: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
        for row in session.visible_rows():
            rid = session.rid(row)
            # Partition p: the first p+1 records, then every third one (holes -> metadata ranges).
            if rid.offset <= rid.partition or rid.offset % 3 == 0:
                decided[rid.partition].add(rid.offset)
                session.decide([row], Decision.MERGE if rid.offset % 2 else Decision.PURGE)
        report = await session.commit()
    finally:
        await session.close()
    assert report.transactions == 1
    offsets = await group_offsets(stack.bootstrap, group, source)
    assert sorted(offsets) == [0, 1, 2]
    all_offsets = {p: {o for o in range(10)} for p in range(3)}
    for p, (committed, metadata) in offsets.items():
        undecided = sorted(all_offsets[p] - decided[p])
        assert committed == undecided[0], f"partition {p}: committed offset is the first undecided one"
        resolution = PartitionResolution.from_commit(committed, metadata)
        # Tombstones (compacted source) land in the same partitions and are listed as resolved.
        for o in range(10):
            assert resolution.is_resolved(o) == (o in decided[p]), f"partition {p} offset {o} ({metadata})"
    tombstones = [r for r in kcat_read(stack.bootstrap, source) if r.value is None]
    assert sorted((t.partition, t.key) for t in tombstones) == sorted(
        (r.partition, r.key) for i, r in enumerate(records) if (i // 3) in decided[r.partition]
    )
    for t in tombstones:
        committed, metadata = offsets[t.partition]
        assert PartitionResolution.from_commit(committed, metadata).is_resolved(t.offset)


@pytest.mark.parametrize(("tombstones", "compact"), [("never", True), ("auto", False)])
async def test_no_tombstone_written(stack: Stack, topic_name: str, tombstones: str, compact: bool) -> None:
    source, dest, records = await _setup(stack.bootstrap, topic_name, compact=compact)
    session = await opened(config(stack, source, dest, unique_name("g"), tombstones=tombstones))
    try:
        _decide_all(session)
        report = await session.commit()
    finally:
        await session.close()
    assert (report.merged, report.purged, report.tombstones) == (3, 3, 0)
    source_records = kcat_read(stack.bootstrap, source)
    assert [r.value for r in source_records] == [r.value for r in records], "no tombstone in the source"
    assert len(kcat_read(stack.bootstrap, dest)) == 3
