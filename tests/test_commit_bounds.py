"""Every wait of a commit on Kafka has a bound (issue 13.1): with the broker unreachable midway
(a TCP proxy between dlq-tui and the real broker stalls), the commit says that it waits, gives up
within its bounds, aborts — through a fresh producer when the old one cannot — and keeps the
staged decisions; nothing of the batch reaches read_committed readers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.committer import CommitError, Committer, WaitBounds
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from tests.kafka_proxy import KafkaProxy
from tests.stack import Rec, Stack, create_topic, kcat_read, produce, unique_name

BOUNDS = WaitBounds(init=10, request=3, abort=3, notice=0.5)


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
async def proxy(stack: Stack) -> AsyncIterator[KafkaProxy]:
    p = KafkaProxy(stack.bootstrap)
    await p.start()
    try:
        yield p
    finally:
        await p.close()


async def stable_equals_high(bootstrap: str, topics: list[str], within: float) -> bool:
    """Whether, within `within` seconds, every partition's last stable offset reaches its high
    watermark (no transaction open on them)."""
    committed = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    uncommitted = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_uncommitted")
    await committed.start()
    await uncommitted.start()
    try:
        tps = [TopicPartition(t, 0) for t in topics]
        deadline = time.monotonic() + within
        while True:
            if await committed.end_offsets(tps) == await uncommitted.end_offsets(tps):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)
    finally:
        await committed.stop()
        await uncommitted.stop()


async def setup(stack: Stack, proxy: KafkaProxy) -> tuple[TriageSession, str, str]:
    name = unique_name("bounds")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source, config={"cleanup.policy": "compact"})
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(5)])
    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=proxy.bootstrap),
        source=source,
        destination=dest,
        group=unique_name("g"),
    )
    session = TriageSession(cfg, committer=Committer(cfg.kafka, BOUNDS))
    await session.open()
    await session.load_all()
    session.decide(session.visible_rows(), Decision.MERGE)
    return session, source, dest


async def test_commit_gives_up_when_the_broker_stays_unreachable(stack: Stack, proxy: KafkaProxy) -> None:
    session, source, dest = await setup(stack, proxy)
    messages: list[str] = []

    async def partition(stage: str) -> None:
        if stage == "produced":
            proxy.stall_all()

    started = time.monotonic()
    try:
        with pytest.raises(CommitError, match="commit aborted, nothing of this transaction written"):
            await session.commit(fault=partition, waiting=messages.append)
        elapsed = time.monotonic() - started
        # send_offsets (3 s), abort (3 s), fresh producer (3 s), stops: far below aiokafka's
        # unbounded waits; the exact figure is not the point, that it ends is.
        assert elapsed < 60
        assert any("broker unreachable, retrying" in m and "Ctrl-C to give up" in m for m in messages)
        assert sum(session.buffer.counts().values()) == 5  # the decisions are still staged
        assert kcat_read(stack.bootstrap, dest) == []
        # The broker is back: the next commit fences the open transaction and writes each record once.
        proxy.restore()
        report = await session.commit()
    finally:
        await session.close()
    assert report.merged == 5
    assert sorted(r.value or b"" for r in kcat_read(stack.bootstrap, dest)) == [
        f"v{i}".encode() for i in range(5)
    ]
    assert await stable_equals_high(stack.bootstrap, [source, dest], within=10)


async def test_a_fresh_producer_aborts_when_the_old_one_cannot(
    stack: Stack, proxy: KafkaProxy, caplog: pytest.LogCaptureFixture
) -> None:
    session, source, dest = await setup(stack, proxy)

    async def partition(stage: str) -> None:
        if stage == "produced":
            proxy.stall_existing()  # the old producer's connections hang; a new one gets through

    caplog.set_level("INFO", logger="dlq_tui.kafka.committer")
    try:
        with pytest.raises(CommitError, match="commit aborted"):
            await session.commit(fault=partition)
        assert "aborted by re-initialising the transactional id" in caplog.text
        # No transaction stays open: the last stable offset reaches the high watermark at once,
        # not after the 60 s transaction timeout.
        assert await stable_equals_high(stack.bootstrap, [source, dest], within=5)
        assert kcat_read(stack.bootstrap, dest) == []
        assert sum(session.buffer.counts().values()) == 5
    finally:
        await session.close()
