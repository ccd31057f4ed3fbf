"""A large commit produces its merges and tombstones in batches (`dlq_tui/kafka/bulk.py`): every
merge lands byte for byte (key, value, headers with duplicates and nulls, timestamp) in the
partition the default partitioner picks, in offset order, on every partition; every tombstone
lands and is listed as resolved; the user's producer settings (batch.size, max.request.size)
still apply. Against the real stack, kcat as the witness."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.committer import CommitError
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from tests.stack import KcatRecord, Rec, Stack, create_topic, group_offsets, kcat_read, produce, unique_name

PARTITIONS = 3


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def records(n: int, seed: int) -> list[Rec]:
    """Keyed records of varied sizes with binary bytes, duplicate and null headers, old timestamps."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        value = bytes(rnd.randrange(256) for _ in range(rnd.choice((0, 1, 40, 700, 3000))))
        headers = [("h", bytes([i % 256, 0, 255])), ("h", b"dup"), ("x-null", None)][: i % 4]
        out.append(
            Rec(
                f"key-{i}-\x00\xff".encode("latin-1"),
                value,
                partition=i % PARTITIONS,
                headers=headers,  # type: ignore[arg-type]  # a null header value, as Kafka allows
                timestamp=1_600_000_000_000 + i,
            )
        )
    return out


async def session_on(stack: Stack, source: str, dest: str, group: str, **producer: object) -> TriageSession:
    session = TriageSession(
        SessionConfig(
            kafka=KafkaSettings(bootstrap_servers=stack.bootstrap, producer=dict(producer)),
            source=source,
            destination=dest,
            group=group,
            use_journal=False,
            tombstones="always",
        )
    )
    await session.open()
    await session.load_all()
    return session


async def wait_for_stable(bootstrap: str, *topics: str) -> None:
    """Wait until read_committed readers can read every partition to its end: a commit returns once
    the coordinator decided it, and the transaction markers reach the partitions a moment later
    (until then kcat, reading committed, ends early)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumers = [
        AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=level)
        for level in ("read_committed", "read_uncommitted")
    ]
    for c in consumers:
        await c.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            stable, end = [await c.end_offsets(tps) for c in consumers]
            if stable == end:
                return
            assert loop.time() < deadline, f"transaction markers not written: {stable} vs {end}"
            await asyncio.sleep(0.05)
    finally:
        for c in consumers:
            await c.stop()


def default_partition(key: bytes) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


@pytest.mark.parametrize("batch_size", [None, 16384], ids=["default-batch", "user-batch-size-16k"])
async def test_large_commit_lands_byte_exact_on_every_partition(stack: Stack, batch_size: int | None) -> None:
    name = unique_name("bulk")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source, PARTITIONS)
    await create_topic(stack.bootstrap, dest, PARTITIONS)
    sent = records(3000, seed=len(name))
    await produce(stack.bootstrap, source, sent)
    originals = kcat_read(stack.bootstrap, source)
    assert len(originals) == len(sent)
    group = unique_name("g")
    producer = {} if batch_size is None else {"max_batch_size": batch_size}
    session = await session_on(stack, source, dest, group, **producer)
    try:
        session.decide(session.visible_rows(), Decision.MERGE)
        report = await session.commit()
    finally:
        await session.close()
    assert (report.merged, report.tombstones, report.transactions) == (3000, 3000, 1)

    await wait_for_stable(stack.bootstrap, source, dest)
    copies = kcat_read(stack.bootstrap, dest)
    assert len(copies) == len(originals), "each merge exactly once"
    by_key = {r.key: r for r in originals}
    for copy in copies:
        original = by_key[copy.key]
        assert (copy.value, copy.headers, copy.timestamp) == (
            original.value,
            original.headers,
            original.timestamp,
        )
        assert copy.key is not None and copy.partition == default_partition(copy.key)
    assert {c.partition for c in copies} == set(range(PARTITIONS))
    # Within each destination partition, the records of one source partition keep their order.
    for p in range(PARTITIONS):
        for q in range(PARTITIONS):
            offsets = [
                by_key[c.key].offset for c in copies if c.partition == p and by_key[c.key].partition == q
            ]
            assert offsets == sorted(offsets)

    # One tombstone per merged record, in its partition, after the originals; all listed as
    # resolved: the group's committed offset is the partition's end, with no metadata left.
    after = kcat_read(stack.bootstrap, source)
    committed = await group_offsets(stack.bootstrap, group, source)
    for p in range(PARTITIONS):
        mine = [r for r in after if r.partition == p]
        olds = [r for r in originals if r.partition == p]
        tombs: list[KcatRecord] = [r for r in mine if r.offset > olds[-1].offset]
        assert [t.key for t in tombs] == [o.key for o in olds], (
            f"partition {p}: a tombstone per record, in order"
        )
        assert all(t.value is None for t in tombs)
        assert committed[p] == (tombs[-1].offset + 1, ""), f"partition {p}: every own tombstone resolved"


async def test_a_record_over_max_request_size_aborts_and_writes_nothing(stack: Stack) -> None:
    name = unique_name("bulk-big")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(b"small", b"v" * 100), Rec(b"big", b"v" * 5000)])
    group = unique_name("g")
    session = await session_on(stack, source, dest, group, max_request_size=2000)
    try:
        session.decide(session.visible_rows(), Decision.MERGE)
        with pytest.raises(CommitError, match=r"MessageSizeTooLarge.*max_request_size"):
            await session.commit()
        assert session.buffer.count(Decision.MERGE) == 2, "the decisions stay staged"
    finally:
        await session.close()
    assert kcat_read(stack.bootstrap, dest) == []
    assert len(kcat_read(stack.bootstrap, source)) == 2, "no tombstone either"
    assert await group_offsets(stack.bootstrap, group, source) == {}


async def test_the_users_batch_size_shapes_the_commits_batches(stack: Stack) -> None:
    """`-c batch.size=...` reaches the producer whose batches the commit fills."""
    producer = AIOKafkaProducer(
        **KafkaSettings(stack.bootstrap, producer={"max_batch_size": 4096}).producer_kwargs()
    )
    await producer.start()
    try:
        batch = producer.create_batch()
        while batch.append(timestamp=None, key=b"k", value=b"v" * 100, headers=[]) is not None:
            pass
        assert 3000 < batch.size() <= 4096
    finally:
        await producer.stop()


async def test_keyless_merges_land_once_each_without_tombstones(stack: Stack) -> None:
    name = unique_name("bulk-keyless")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source, PARTITIONS)
    await create_topic(stack.bootstrap, dest, PARTITIONS)
    sent = [
        Rec(None if i % 2 else f"k{i}".encode(), f"v{i}".encode(), partition=i % PARTITIONS)
        for i in range(60)
    ]
    await produce(stack.bootstrap, source, sent)
    group = unique_name("g")
    session = await session_on(stack, source, dest, group)
    try:
        session.decide(session.visible_rows(), Decision.MERGE)
        report = await session.commit()
    finally:
        await session.close()
    assert (report.merged, report.tombstones) == (60, 30), "a tombstone for each keyed record only"
    await wait_for_stable(stack.bootstrap, source, dest)
    copies = kcat_read(stack.bootstrap, dest)
    assert sorted((c.key, c.value) for c in copies if c.key is None) == sorted(
        (r.key, r.value) for r in sent if r.key is None
    )
    assert sorted(c.value or b"" for c in copies) == sorted(r.value or b"" for r in sent)
    tombstones = [r for r in kcat_read(stack.bootstrap, source) if r.value is None]
    assert sorted(t.key or b"" for t in tombstones) == sorted(r.key for r in sent if r.key is not None)
