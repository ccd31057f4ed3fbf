"""The engine against the real stack, kcat as the witness: merge byte-identical, tombstones,
committed offsets and metadata, reopen, abort on failure, fencing, poison records."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.committer import CommitError
from dlq_tui.kafka.connection import DlqError, KafkaSettings
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RecordId
from tests.stack import Rec, Stack, create_topic, group_offsets, kcat_read, produce, unique_name

BINARY_HEADERS = [
    ("kafka_dlt-original-partition", struct.pack(">i", 3)),
    ("kafka_dlt-original-offset", struct.pack(">q", 77)),
    ("kafka_dlt-exception-fqcn", b"java.net.SocketTimeoutException"),
    ("raw", bytes(range(256))),
    ("empty", b""),
]


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def config(stack: Stack, source: str, dest: str | None, group: str, **kw: Any) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=dest,
        group=group,
        registry_url=stack.registry_url,
        **kw,
    )


async def opened(cfg: SessionConfig) -> TriageSession:
    session = TriageSession(cfg)
    await session.open()
    await session.load_all()
    await asyncio.to_thread(session.prefetch_schemas, range(len(session.store)))
    return session


def rows_by_key(session: TriageSession) -> dict[bytes | None, int]:
    return {session.store.key_at(r): r for r in session.visible_rows()}


async def dlq(
    stack: Stack, name: str, records: list[Rec], *, partitions: int = 1, compact: bool = True
) -> str:
    source = f"{name}-dlq"
    await create_topic(
        stack.bootstrap, source, partitions, {"cleanup.policy": "compact" if compact else "delete"}
    )
    await create_topic(stack.bootstrap, f"{name}-retry", partitions)
    await produce(stack.bootstrap, source, records)
    return source


async def test_merge_is_byte_identical_and_tombstones_only_keyed(stack: Stack, topic_name: str) -> None:
    records = [
        Rec(b"k-merge", bytes(range(256)), headers=BINARY_HEADERS, timestamp=1_600_000_000_123),
        Rec(b"k-purge", b"purge me", headers=[("h", b"\x00")], timestamp=1_600_000_000_456),
        Rec(b"k-skip", b"skip me", timestamp=1_600_000_000_789),
        Rec(
            b"k-merge-2",
            b'{"json": true}',
            headers=[("dup", b"1"), ("dup", b"2")],
            timestamp=1_600_000_001_000,
        ),
    ]
    source = await dlq(stack, topic_name, records, compact=False)
    # The compacted-topic case needs a keyless record written before compaction was switched on;
    # here tombstones are forced instead, on a delete-policy topic that accepts the keyless one.
    await produce(
        stack.bootstrap, source, [Rec(None, b"keyless", headers=[("x", b"y")], timestamp=1_600_000_002_000)]
    )
    dest = f"{topic_name}-retry"
    group = unique_name("g")
    session = await opened(config(stack, source, dest, group, tombstones="always"))
    try:
        rows = rows_by_key(session)
        session.decide([rows[b"k-merge"], rows[b"k-merge-2"], rows[None]], Decision.MERGE)
        session.decide([rows[b"k-purge"]], Decision.PURGE)
        session.decide([rows[b"k-skip"]], Decision.SKIP)
        report = await session.commit()
    finally:
        await session.close()
    assert (report.merged, report.purged, report.tombstones, report.transactions) == (3, 1, 3, 1)

    merged = kcat_read(stack.bootstrap, dest)
    originals = {r.key: r for r in records} | {
        None: Rec(None, b"keyless", headers=[("x", b"y")], timestamp=1_600_000_002_000)
    }
    assert sorted((m.key or b"") for m in merged) == [b"", b"k-merge", b"k-merge-2"]
    for m in merged:
        original = originals[m.key]
        assert m.value == original.value
        assert m.headers == original.headers
        assert m.timestamp == original.timestamp

    source_records = kcat_read(stack.bootstrap, source)
    tombstones = [r for r in source_records if r.value is None]
    assert sorted(t.key for t in tombstones if t.key) == [b"k-merge", b"k-merge-2", b"k-purge"]
    assert all(t.key is not None for t in tombstones), "never a keyless tombstone"


async def test_new_timestamp_option(stack: Stack, topic_name: str) -> None:
    source = await dlq(stack, topic_name, [Rec(b"a", b"1", timestamp=1_500_000_000_000)])
    session = await opened(
        config(stack, source, f"{topic_name}-retry", unique_name("g"), keep_timestamp=False)
    )
    try:
        session.decide(session.visible_rows(), Decision.MERGE)
        await session.commit()
    finally:
        await session.close()
    [merged] = kcat_read(stack.bootstrap, f"{topic_name}-retry")
    assert merged.value == b"1"
    assert merged.timestamp > 1_700_000_000_000


async def test_committed_offset_metadata_and_reopen(stack: Stack, topic_name: str) -> None:
    records = [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(10)]
    source = await dlq(stack, topic_name, records)
    dest, group = f"{topic_name}-retry", unique_name("g")
    session = await opened(config(stack, source, dest, group))
    try:
        rows = rows_by_key(session)
        session.decide([rows[b"k0"], rows[b"k1"], rows[b"k4"], rows[b"k5"]], Decision.MERGE)
        session.decide([rows[b"k7"]], Decision.PURGE)
        session.decide([rows[b"k2"]], Decision.SKIP)
        report = await session.commit()
        assert [str(r) for r in report.dropped] == []
    finally:
        await session.close()

    # First unresolved is offset 2 (k2, skipped); resolved above it: 4, 5, 7 and our own
    # tombstones (offsets 10..14 after the 10 records), which must never be offered for triage.
    offset, metadata = (await group_offsets(stack.bootstrap, group, source))[0]
    assert offset == 2
    assert metadata == "dlqtui1:4-5,7,10-14"

    await produce(stack.bootstrap, source, [Rec(b"late", b"arrived meanwhile")])
    reopened = await opened(config(stack, source, dest, group))
    try:
        keys = [reopened.store.key_at(r) for r in reopened.visible_rows()]
    finally:
        await reopened.close()
    assert keys == [b"k2", b"k3", b"k6", b"k8", b"k9", b"late"], "skipped comes back; own tombstones never"


async def test_from_beginning_shows_resolved_history(stack: Stack, topic_name: str) -> None:
    source = await dlq(stack, topic_name, [Rec(f"k{i}".encode(), b"v") for i in range(3)])
    dest, group = f"{topic_name}-retry", unique_name("g")
    session = await opened(config(stack, source, dest, group))
    try:
        session.decide([rows_by_key(session)[b"k0"]], Decision.PURGE)
        await session.commit()
    finally:
        await session.close()
    history = await opened(config(stack, source, dest, group, from_beginning=True))
    try:
        shown = {history.store.key_at(r): history.is_resolved(r) for r in history.visible_rows()}
    finally:
        await history.close()
    assert shown[b"k0"] is True
    assert shown[b"k1"] is False and shown[b"k2"] is False


async def test_failure_between_produce_and_commit_leaves_nothing(stack: Stack, topic_name: str) -> None:
    source = await dlq(stack, topic_name, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(5)])
    dest, group = f"{topic_name}-retry", unique_name("g")
    session = await opened(config(stack, source, dest, group))
    try:
        session.decide(session.visible_rows(), Decision.MERGE)

        async def boom(stage: str) -> None:
            if stage == "produced":
                raise RuntimeError("injected fault after produce")

        with pytest.raises(CommitError, match="injected fault"):
            await session.commit(fault=boom)
        assert kcat_read(stack.bootstrap, dest) == []
        assert [r.value for r in kcat_read(stack.bootstrap, source)] == [b"v0", b"v1", b"v2", b"v3", b"v4"]
        assert await group_offsets(stack.bootstrap, group, source) == {}
        assert session.buffer.count(Decision.MERGE) == 5, "the staged buffer is intact"

        report = await session.commit()
        assert report.merged == 5
    finally:
        await session.close()
    assert sorted(r.value for r in kcat_read(stack.bootstrap, dest)) == [b"v0", b"v1", b"v2", b"v3", b"v4"]


async def test_second_committer_fences_the_first_no_double_merge(stack: Stack, topic_name: str) -> None:
    source = await dlq(stack, topic_name, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(6)])
    dest, group = f"{topic_name}-retry", unique_name("g")
    alice = await opened(config(stack, source, dest, group))
    bob = await opened(config(stack, source, dest, group, use_journal=False))
    fenced: list[str] = []
    try:
        alice.decide(alice.visible_rows()[:5], Decision.MERGE)  # k0..k4
        bob_rows = rows_by_key(bob)
        bob.decide([bob_rows[b"k0"], bob_rows[b"k1"], bob_rows[b"k2"]], Decision.MERGE)
        bob.decide([bob_rows[b"k5"]], Decision.PURGE)
        calls = 0

        async def bob_commits_meanwhile(stage: str) -> None:
            nonlocal calls
            calls += 1
            if stage == "produced" and calls == 1:
                bob_report = await bob.commit()  # InitProducerId fences alice's producer
                assert (bob_report.merged, bob_report.purged) == (3, 1)

        report = await alice.commit(fault=bob_commits_meanwhile, on_fenced=fenced.append)
    finally:
        await alice.close()
        await bob.close()
    assert fenced and "fenced" in fenced[0]
    assert sorted(str(r) for r in report.dropped) == sorted(str(RecordId(0, o)) for o in (0, 1, 2))
    assert report.merged == 2
    merged = sorted(r.value for r in kcat_read(stack.bootstrap, dest))
    assert merged == [b"v0", b"v1", b"v2", b"v3", b"v4"], "every record merged exactly once"
    assert alice.buffer.count(Decision.MERGE) == 0


async def test_metadata_too_large_commits_what_fits_and_keeps_the_rest(stack: Stack, topic_name: str) -> None:
    source = await dlq(stack, topic_name, [Rec(f"k{i:02d}".encode(), b"v") for i in range(20)], compact=False)
    dest, group = f"{topic_name}-retry", unique_name("g")
    session = await opened(config(stack, source, dest, group, max_metadata_bytes=24))
    try:
        rows = list(session.visible_rows())
        session.decide(rows[1::2], Decision.MERGE)  # holes between every decision
        with pytest.raises(CommitError, match="too many undecided records"):
            await session.commit()
        committed = len(kcat_read(stack.bootstrap, dest))
        assert 0 < committed < 10
        assert session.buffer.count(Decision.MERGE) == 10 - committed, "the rest is still staged"
        offset, metadata = (await group_offsets(stack.bootstrap, group, source))[0]
        assert offset == 0 and len(metadata) <= 24
    finally:
        await session.close()


async def test_awkward_records_are_shown_and_can_be_merged(stack: Stack, topic_name: str) -> None:
    from dlq_tui.demo.__main__ import seed

    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    await produce(
        stack.bootstrap, source, [Rec(b"ORD-UNKNOWN-SCHEMA", b"\x00" + struct.pack(">i", 987654) + b"\x02x")]
    )
    session = await opened(config(stack, source, dest, unique_name("g"), value_format="avro"))
    try:
        rows = rows_by_key(session)
        poison = session.decoded(rows[b"ORD-POISON"])
        assert poison.value.kind == "hex" and "not valid Avro" in (poison.value.error or "")
        unknown = session.decoded(rows[b"ORD-UNKNOWN-SCHEMA"])
        assert "987654" in (unknown.value.error or "")
        bad = session.decoded(rows[b"ORD-BAD-UTF8"])
        assert bad.value.error
        keyless = session.decoded(rows[None])
        assert keyless.value.data == {"orderNumber": "ORD-KEYLESS", "reason": "Produced without a key"}
        awkward = [rows[b"ORD-POISON"], rows[b"ORD-UNKNOWN-SCHEMA"], rows[b"ORD-BAD-UTF8"]]
        originals = {session.store.key_at(r): session.store.value_at(r) for r in awkward}
        # The destination is compacted: Kafka refuses keyless records there, so merging one is
        # refused up front with the reason; purging it works (and writes no keyless tombstone).
        with pytest.raises(DlqError, match="keyless"):
            session.decide([rows[None]], Decision.MERGE)
        assert session.decide([*awkward, rows[None]], Decision.MERGE) == 3
        assert "keyless" in session.notices[-1]
        session.decide([rows[None]], Decision.PURGE)
        report = await session.commit()
        assert (report.merged, report.purged, report.tombstones) == (3, 1, 3)
    finally:
        await session.close()
    assert {r.key: r.value for r in kcat_read(stack.bootstrap, dest)} == originals


async def test_registry_down_still_loads_and_merges(stack: Stack, topic_name: str) -> None:
    from dlq_tui.demo.__main__ import seed

    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    cfg = config(stack, source, dest, unique_name("g"))
    cfg = SessionConfig(**{**cfg.__dict__, "registry_url": "http://127.0.0.1:1"})
    session = await opened(cfg)
    try:
        row = rows_by_key(session)[b"ORD001"]
        decoded = session.decoded(row)
        assert decoded.value.kind == "hex"
        assert "unreachable" in (decoded.value.error or "")
        session.decide([row], Decision.MERGE)
        assert (await session.commit()).merged == 1
    finally:
        await session.close()


async def test_unknown_topic_and_unreachable_broker_are_clear(stack: Stack) -> None:
    missing = TriageSession(config(stack, unique_name("missing"), None, "g"))
    with pytest.raises(DlqError, match="does not exist"):
        await missing.open()
    await missing.close()
    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1", request_timeout_ms=3000), source="x", group="g"
    )
    unreachable = TriageSession(cfg)
    with pytest.raises(DlqError, match="cannot reach"):
        await unreachable.open()
    await unreachable.close()


async def test_journal_restores_decisions_minus_resolved(stack: Stack, topic_name: str) -> None:
    source = await dlq(stack, topic_name, [Rec(f"k{i}".encode(), b"v") for i in range(4)])
    dest, group = f"{topic_name}-retry", unique_name("g")
    lost = await opened(config(stack, source, dest, group))
    rows = rows_by_key(lost)
    lost.decide([rows[b"k0"], rows[b"k1"]], Decision.MERGE)
    lost.decide([rows[b"k3"]], Decision.SKIP)
    await lost.close()  # the SSH session drops: nothing committed

    other = await opened(config(stack, source, dest, group, use_journal=False))
    other.decide([rows_by_key(other)[b"k1"]], Decision.PURGE)
    await other.commit()  # someone else resolved k1 meanwhile
    await other.close()

    back = await opened(config(stack, source, dest, group))
    try:
        assert set(back.journal_offered) == {RecordId(0, 0), RecordId(0, 1), RecordId(0, 3)} - {
            RecordId(0, 1)
        }
        result = back.restore_journal()
        assert (result.restored, result.dropped_as_resolved) == (2, 1)
        assert back.buffer.get(RecordId(0, 0)) is Decision.MERGE
        assert back.buffer.get(RecordId(0, 3)) is Decision.SKIP
    finally:
        await back.close()


async def test_snapshot_ends_and_follow_reads_past_it(stack: Stack, topic_name: str) -> None:
    source = await dlq(stack, topic_name, [Rec(b"before", b"1")], compact=False)
    session = TriageSession(config(stack, source, None, unique_name("g")))
    await session.open()
    try:
        await produce(stack.bootstrap, source, [Rec(b"after-open", b"2")])
        await session.load_all()  # ends at the snapshot taken at open, although more arrived
        assert [session.store.key_at(r) for r in session.visible_rows()] == [b"before"]
        assert session.loading_done

        async def follow() -> None:
            async for _rows in session.load(follow=True):
                if len(session.store) == 2:
                    return

        await asyncio.wait_for(follow(), timeout=30)
        assert [session.store.key_at(r) for r in session.visible_rows()] == [b"before", b"after-open"]
    finally:
        await session.close()


async def test_no_tombstone_while_a_newer_record_with_the_same_key_is_undecided(
    stack: Stack, topic_name: str
) -> None:
    """Compaction keeps only the newest record of a key: a tombstone for the older ORD-1 would
    delete the newer ORD-1 that nobody decided on."""
    records = [Rec(b"ORD-1", b"first failure"), Rec(b"ORD-1", b"second failure, newer"), Rec(b"ORD-2", b"x")]
    source = await dlq(stack, topic_name, records)
    dest = f"{topic_name}-retry"
    session = await opened(config(stack, source, dest, unique_name("g")))
    try:
        await produce(stack.bootstrap, source, [Rec(b"ORD-2", b"arrived after the snapshot")])
        rows = list(session.visible_rows())
        session.decide([rows[0]], Decision.PURGE)  # the older ORD-1 (a newer one is loaded)
        session.decide([rows[2]], Decision.MERGE)  # ORD-2 (a newer one arrived after the snapshot)
        report = await session.commit()
    finally:
        await session.close()
    assert (report.purged, report.merged, report.tombstones, report.tombstones_withheld) == (1, 1, 0, 2)
    assert [r.value for r in kcat_read(stack.bootstrap, source) if r.value is None] == []


async def test_progress_moves_only_after_the_batch_is_stored(stack: Stack, topic_name: str) -> None:
    from dlq_tui.kafka.reader import SnapshotReader

    source = await dlq(stack, topic_name, [Rec(f"k{i}".encode(), b"v") for i in range(50)], compact=False)
    reader = SnapshotReader(KafkaSettings(bootstrap_servers=stack.bootstrap), source, [0])
    await reader.open()
    try:
        batches = reader.batches()
        first = await batches.__anext__()
        assert first, "a batch arrived"
        # The caller holds the batch but has not come back for the next one: a commit now must
        # not count these records as read (it would take them for gaps and skip them).
        assert reader.progress[0].position == 0 and reader.progress[0].records == 0
        async for _ in batches:
            pass
        assert reader.progress[0].position == 50 and reader.progress[0].records == 50
    finally:
        await reader.close()


async def test_split_commit_with_tombstones_never_leaves_a_transaction_open(
    stack: Stack, topic_name: str
) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    source = await dlq(stack, topic_name, [Rec(f"k{i:03d}".encode(), b"v") for i in range(60)])
    dest, group = f"{topic_name}-retry", unique_name("g")
    session = await opened(config(stack, source, dest, group, max_metadata_bytes=100))
    try:
        session.decide(list(session.visible_rows())[1::2], Decision.PURGE)
        with pytest.raises(CommitError, match="undecided records"):
            await session.commit()
        assert 0 < session.buffer.count(Decision.PURGE) < 30, "some committed, the rest still staged"
    finally:
        await session.close()
    offset, metadata = (await group_offsets(stack.bootstrap, group, source))[0]
    assert offset == 0 and 0 < len(metadata) <= 100
    consumers = [
        AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, isolation_level=level)
        for level in ("read_committed", "read_uncommitted")
    ]
    tp = TopicPartition(source, 0)
    ends = []
    for consumer in consumers:
        await consumer.start()
        ends.append((await consumer.end_offsets([tp]))[tp])
        await consumer.stop()
    assert ends[0] == ends[1], "no open transaction holds back read_committed readers"


async def test_others_commit_is_seen_even_when_all_our_decisions_are_dropped(
    stack: Stack, topic_name: str
) -> None:
    source = await dlq(stack, topic_name, [Rec(f"k{i}".encode(), b"v") for i in range(4)])
    dest, group = f"{topic_name}-retry", unique_name("g")
    alice = await opened(config(stack, source, dest, group))
    bob = await opened(config(stack, source, dest, group, use_journal=False))
    try:
        bob.decide(bob.visible_rows(), Decision.PURGE)
        await bob.commit()
        alice.decide(alice.visible_rows()[:1], Decision.MERGE)
        report = await alice.commit()
        assert (report.merged, len(report.dropped)) == (0, 1)
        assert list(alice.visible_rows()) == [] and alice.unresolved_count() == 0
    finally:
        await alice.close()
        await bob.close()


async def test_on_screen_decoding_never_waits_on_the_registry(stack: Stack, topic_name: str) -> None:
    from dlq_tui.demo.__main__ import seed

    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    session = TriageSession(config(stack, source, dest, unique_name("g")))
    await session.open()
    try:
        async for rows in session.load():
            assert len(session.resolved) == len(session.store), "every stored row has its flag"
            assert rows.stop == len(session.store)
        assert session.registry is not None
        before = session.registry.request_count
        row = rows_by_key(session)[b"ORD001"]
        shown = session.decoded(row)
        assert session.registry.request_count == before, "decoding for the screen made no request"
        assert shown.value.pending and shown.value.error is None  # neutral: not undecodable
        assert await asyncio.to_thread(session.prefetch_schemas, range(len(session.store))) == 1
        assert session.decoded(row).value.data == {
            "orderNumber": "ORD001",
            "reason": "Ordered too large a quantity",
        }
        assert await asyncio.to_thread(session.prefetch_schemas, range(len(session.store))) == 0
    finally:
        await session.close()


async def test_commit_plan_counts_what_will_be_withheld(stack: Stack, topic_name: str) -> None:
    records = [Rec(b"A", b"1"), Rec(b"A", b"2"), Rec(b"B", b"3"), Rec(None, b"4")]
    source = await dlq(stack, topic_name, records, compact=False)
    session = await opened(
        config(stack, source, f"{topic_name}-retry", unique_name("g"), tombstones="always")
    )
    try:
        rows = list(session.visible_rows())
        session.decide([rows[0], rows[2], rows[3]], Decision.PURGE)
        plan = session.commit_plan()
        assert (plan.tombstones, plan.withheld) == (1, 1)  # B written; A withheld (newer A undecided)
        assert (plan.purges, plan.merges, plan.transactions) == (3, 0, 1)
        fates = {(w.key, w.offset): w.tombstone for w in plan.writes}
        assert fates == {(b"A", 0): "withheld", (b"B", 2): "write", (None, 3): "none"}
    finally:
        await session.close()
