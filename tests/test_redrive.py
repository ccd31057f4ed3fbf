"""Safe redrive against the real stack (docs/redrive.md): @origin, the rate cap, the canary, the
audit trail in the transaction. kcat is the witness of what landed."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka.partitioner import murmur2

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import DlqError, KafkaSettings
from dlq_tui.redrive import ORIGIN
from dlq_tui.triage.decisions import Decision
from tests.stack import Rec, Stack, create_topic, group_offsets, kcat_read, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
NOW = int(time.time() * 1000)  # recent: records with old timestamps fall to retention at once


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def run(
    args: list[str], stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DLQ_TUI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def spring(
    origin: str,
    partition: int,
    offset: int,
    exception: str = "java.net.SocketTimeoutException",
    message: str = "Read timed out after 3000 ms",
) -> list[tuple[str, bytes]]:
    return [
        ("kafka_dlt-original-topic", origin.encode()),
        ("kafka_dlt-original-partition", struct.pack(">i", partition)),
        ("kafka_dlt-original-offset", struct.pack(">q", offset)),
        ("kafka_dlt-exception-fqcn", exception.encode()),
        ("kafka_dlt-exception-message", message.encode()),
    ]


def connect(origin: str, partition: int, offset: int) -> list[tuple[str, bytes]]:
    return [
        ("__connect.errors.topic", origin.encode()),
        ("__connect.errors.partition", str(partition).encode()),
        ("__connect.errors.offset", str(offset).encode()),
        ("__connect.errors.exception.class.name", b"org.apache.kafka.connect.errors.DataException"),
        ("__connect.errors.exception.message", b"Converting byte[] to Kafka Connect data failed"),
    ]


def uncommitted_count(bootstrap: str, topic: str) -> int:
    """Records a read_uncommitted reader sees (kcat; librdkafka defaults to read_committed)."""
    cmd = ["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q"]
    cmd += ["-X", "isolation.level=read_uncommitted", "-f", "%o\\n"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout
    return len(out.split())


def base(stack: Stack, group: str) -> list[str]:
    return ["-b", stack.bootstrap, "-g", group]


def default_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def test_origin_across_topics_and_conventions_byte_exact_in_one_transaction(
    stack: Stack, topic_name: str
) -> None:
    dlq, orders, payments = f"{topic_name}-dlq", f"{topic_name}-orders", f"{topic_name}-payments"
    await create_topic(stack.bootstrap, dlq, 2)
    await create_topic(stack.bootstrap, orders, 3)
    await create_topic(stack.bootstrap, payments, 1)
    records = [
        Rec(
            b"ord-1",
            b"\x00\x01binary\xff",
            0,
            [*spring(orders, 2, 41), ("x-trace", b"\x00\x7f")],
            NOW - 1,
        ),
        Rec(b"pay-1", b'{"amount": 12}', 1, connect(payments, 0, 7), NOW - 2),
        Rec(b"ord-2", b"second", 1, spring(orders, 0, 42), NOW - 3),
        Rec(b"pay-2", b"", 0, spring(payments, 0, 8), NOW - 4),
    ]
    await produce(stack.bootstrap, dlq, records)
    group = unique_name("g")

    dry = run(["merge-all", *base(stack, group), "--dry-run", dlq, ORIGIN])
    assert dry.returncode == 0, dry.stderr
    assert f"    to {orders}: 2" in dry.stdout
    assert f"    to {payments}: 2" in dry.stdout
    assert "EVERY consumer group" in dry.stdout
    assert kcat_read(stack.bootstrap, orders) == [] and kcat_read(stack.bootstrap, payments) == []

    result = run(["merge-all", *base(stack, group), dlq, ORIGIN])
    assert result.returncode == 0, result.stderr
    assert "4 merged, 0 purged" in result.stdout
    assert "in 1 transaction" in result.stdout
    assert f"merged to {orders}: 2" in result.stdout and f"merged to {payments}: 2" in result.stdout
    assert "EVERY consumer group" in result.stderr, "the warning on a real run too"

    landed = {r.key: r for r in kcat_read(stack.bootstrap, orders) + kcat_read(stack.bootstrap, payments)}
    for rec in records:
        copy = landed[rec.key]
        assert (copy.value, copy.headers, copy.timestamp) == (rec.value or b"", rec.headers, rec.timestamp)
    for copy in kcat_read(stack.bootstrap, orders):
        assert copy.key is not None
        assert copy.partition == default_partition(copy.key, 3), "the default partitioner on the key"
    offsets = await group_offsets(stack.bootstrap, group, dlq)
    assert {p: o for p, (o, _) in offsets.items()} == {0: 2, 1: 2}


async def test_origin_partition_option_uses_the_header_partition(stack: Stack, topic_name: str) -> None:
    dlq, orders = f"{topic_name}-dlq", f"{topic_name}-orders"
    await create_topic(stack.bootstrap, dlq)
    await create_topic(stack.bootstrap, orders, 3)
    await produce(stack.bootstrap, dlq, [Rec(b"k", b"v", headers=spring(orders, 2, 5))])
    result = run(["merge-all", *base(stack, unique_name("g")), "--origin-partition", dlq, ORIGIN])
    assert result.returncode == 0, result.stderr
    [copy] = kcat_read(stack.bootstrap, orders)
    assert copy.partition == 2


async def test_record_without_origin_refuses_the_whole_run_unless_filtered_out(
    stack: Stack, topic_name: str
) -> None:
    dlq, orders = f"{topic_name}-dlq", f"{topic_name}-orders"
    await create_topic(stack.bootstrap, dlq)
    await create_topic(stack.bootstrap, orders)
    await produce(
        stack.bootstrap,
        dlq,
        [
            Rec(b"with", b"v1", headers=spring(orders, 0, 1)),
            Rec(b"without", b"v2", headers=[("unrelated", b"x")]),
            Rec(b"with-too", b"v3", headers=spring(orders, 0, 2)),
        ],
    )
    group = unique_name("g")
    refused = run(["merge-all", *base(stack, group), dlq, ORIGIN])
    assert refused.returncode == 1
    assert "1 record(s)" in refused.stderr and "0:1" in refused.stderr, refused.stderr
    assert kcat_read(stack.bootstrap, orders) == [], "nothing is written"
    assert await group_offsets(stack.bootstrap, group, dlq) == {}

    filtered = run(["merge-all", *base(stack, group), "--where", "NOT key:without", dlq, ORIGIN])
    assert filtered.returncode == 0, filtered.stderr
    assert sorted(r.key for r in kcat_read(stack.bootstrap, orders)) == [b"with", b"with-too"]

    # In the engine (the app's path), staging the merge is refused with the reason.
    session = TriageSession(
        SessionConfig(
            kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
            source=dlq,
            group=group,
            destination=ORIGIN,
        )
    )
    await session.open()
    try:
        await session.load_all()
        [row] = list(session.visible_rows())
        with pytest.raises(DlqError, match="name no origin topic"):
            session.decide([row], Decision.MERGE)
        assert not session.buffer
    finally:
        await session.close()


async def test_max_rate_writes_several_complete_transactions(stack: Stack, topic_name: str) -> None:
    dlq, retry = f"{topic_name}-dlq", f"{topic_name}-retry"
    await create_topic(stack.bootstrap, dlq)
    await create_topic(stack.bootstrap, retry)
    n, rate = 40, 20
    await produce(stack.bootstrap, dlq, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(n)])
    group = unique_name("g")
    started = time.monotonic()
    result = run(["merge-all", *base(stack, group), "--max-rate", str(rate), dlq, retry])
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert f"{n} merged" in result.stdout
    assert f"in {n // 2} transactions" in result.stdout, "a tenth of a second's worth per transaction"
    assert "/s, ETA" in result.stderr, "progress with rate and ETA on stderr"
    assert elapsed >= 0.5 * n / rate, "generous lower bound: the cap is honoured"
    assert [r.value for r in kcat_read(stack.bootstrap, retry)] == [f"v{i}".encode() for i in range(n)]
    assert (await group_offsets(stack.bootstrap, group, dlq))[0][0] == n


async def test_stop_between_transactions_leaves_a_consistent_state(stack: Stack, topic_name: str) -> None:
    dlq, retry = f"{topic_name}-dlq", f"{topic_name}-retry"
    await create_topic(stack.bootstrap, dlq)
    await create_topic(stack.bootstrap, retry)
    await produce(stack.bootstrap, dlq, [Rec(f"k{i}".encode(), b"v") for i in range(30)])
    group = unique_name("g")
    session = TriageSession(
        SessionConfig(
            kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
            source=dlq,
            group=group,
            destination=retry,
            max_rate=100,  # 10 per transaction
            use_journal=False,
        )
    )
    await session.open()
    try:
        await session.load_all()
        session.decide(session.visible_rows(), Decision.MERGE)

        def progress(stage: str, done: int, total: int) -> None:
            if stage == "committing":
                session.request_stop()  # as the app's cancel does, during the first transaction

        report = await session.commit(progress=progress)
        assert report.stopped and report.transactions == 1 and report.remaining == 20
        assert session.buffer.count(Decision.MERGE) == 20, "the rest is still staged"
    finally:
        await session.close()
    assert len(kcat_read(stack.bootstrap, retry)) == 10
    assert (await group_offsets(stack.bootstrap, group, dlq))[0][0] == 10


async def _canary_dlq(stack: Stack, topic_name: str) -> tuple[str, str, list[Rec]]:
    dlq, orders = f"{topic_name}-dlq", f"{topic_name}-orders"
    await create_topic(stack.bootstrap, dlq)
    await create_topic(stack.bootstrap, orders)
    records = [Rec(f"ord-{i}".encode(), f"v{i}".encode(), headers=spring(orders, 0, i)) for i in range(6)]
    await produce(stack.bootstrap, dlq, records)
    return dlq, orders, records


async def _wait_for(predicate: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_canary_that_comes_back_stops_the_redrive(stack: Stack, topic_name: str) -> None:
    dlq, orders, _ = await _canary_dlq(stack, topic_name)
    group = unique_name("g")
    proc = subprocess.Popen(
        [DLQ_TUI, "merge-all", *base(stack, group), "--canary", "2", "--canary-wait", "120", dlq, ORIGIN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await _wait_for(
            lambda: len(kcat_read(stack.bootstrap, orders)) == 2 or proc.poll() is not None, "the canary"
        )
        assert proc.poll() is None, proc.communicate()
        # The consumer fails on the canary again: its record comes back to the DLQ.
        await produce(stack.bootstrap, dlq, [Rec(b"ord-1", b"v1", headers=spring(orders, 0, 99))])
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out + err
    assert "canary came back" in out and "'ord-1'" in out and "same key" in out
    assert "4 staged decision(s) left unmerged" in out
    assert sorted(r.key for r in kcat_read(stack.bootstrap, orders)) == [b"ord-0", b"ord-1"]
    assert (await group_offsets(stack.bootstrap, group, dlq))[0][0] == 2, "the rest stays unresolved"


async def test_canary_that_does_not_come_back_lets_the_rest_go(stack: Stack, topic_name: str) -> None:
    dlq, orders, _ = await _canary_dlq(stack, topic_name)
    group = unique_name("g")
    # An unrelated failure (other key, fingerprint and origin) is in the DLQ too, left out by --where.
    await produce(
        stack.bootstrap,
        dlq,
        [
            Rec(
                b"other",
                b"x",
                headers=spring(f"{topic_name}-elsewhere", 0, 1, "java.lang.IllegalStateException", "boom"),
            )
        ],
    )
    result = run(
        [
            "merge-all",
            *base(stack, group),
            "--where",
            "key:ord-*",
            "--canary",
            "3",
            "--canary-wait",
            "2",
            "--max-rate",
            "10",
            dlq,
            ORIGIN,
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "canary: 3 merged in its own transaction" in result.stdout, "the rate cap does not split it"
    assert "none came back" in result.stdout
    assert "6 merged" in result.stdout and "in 4 transactions" in result.stdout, (
        "1 canary + 3 at one per 0.1 s"
    )
    assert len(kcat_read(stack.bootstrap, orders)) == 6


def test_canary_matches_same_fingerprint_from_same_origin() -> None:
    from dlq_tui.redrive import CanaryWatch
    from dlq_tui.triage.records import RawRecord

    canary = RawRecord(
        0, 1, 0, 0, b"a", b"v", tuple(spring("orders", 0, 1, message="Read timed out after 3000 ms"))
    )
    watch = CanaryWatch.of([canary])
    same_print = RawRecord(
        0, 9, 0, 0, b"b", b"v", tuple(spring("orders", 0, 7, message="Read timed out after 5000 ms"))
    )
    other_origin = RawRecord(0, 10, 0, 0, b"c", b"v", tuple(spring("payments", 0, 7)))
    tombstone = RawRecord(0, 11, 0, 0, b"a", None, ())
    assert watch.match(same_print) == "same fingerprint from the same origin"
    assert watch.match(other_origin) is None
    assert watch.match(tombstone) is None, "our own tombstone on a compacted DLQ is not a failure"


# -- audit -------------------------------------------------------------------------------------


def _audit_config(stack: Stack, dlq: str, retry: str, audit: str, group: str, **kw: object) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=dlq,
        group=group,
        destination=retry,
        audit_topic=audit,
        operator="oncall@bastion",
        use_journal=False,
        **kw,  # type: ignore[arg-type]
    )


async def test_audit_records_are_visible_exactly_when_the_merges_are(stack: Stack, topic_name: str) -> None:
    import hashlib

    dlq, retry, audit = f"{topic_name}-dlq", f"{topic_name}-retry", f"{topic_name}-audit"
    for t in (dlq, retry, audit):
        await create_topic(stack.bootstrap, t)
    await produce(stack.bootstrap, dlq, [Rec(b"k1", b"v1"), Rec(b"k2", b"v2"), Rec(b"k3", b"v3")])
    group = unique_name("g")
    session = TriageSession(_audit_config(stack, dlq, retry, audit, group))
    await session.open()
    try:
        await session.load_all()
        rows = list(session.visible_rows())
        session.decide(rows[:2], Decision.MERGE)
        session.decide(rows[2:], Decision.PURGE)

        async def abort_after_offsets(stage: str) -> None:
            if stage == "offsets-sent":
                raise RuntimeError("injected failure")

        with pytest.raises(DlqError, match="commit aborted"):
            await session.commit(fault=abort_after_offsets, reason="first try")
        assert kcat_read(stack.bootstrap, audit) == [], "absent after an abort"
        assert uncommitted_count(stack.bootstrap, audit) == 3, "they were in the transaction"

        seen: dict[str, int] = {}

        async def look_before_commit(stage: str) -> None:
            if stage == "offsets-sent":
                seen["audit"] = len(kcat_read(stack.bootstrap, audit))
                seen["merges"] = len(kcat_read(stack.bootstrap, retry))

        report = await session.commit(fault=look_before_commit, reason="INC-42 consumer fixed")
    finally:
        await session.close()
    assert seen == {"audit": 0, "merges": 0}, "neither is visible before the commit"
    assert report.audited == 3
    entries = [json.loads(r.value or b"") for r in kcat_read(stack.bootstrap, audit)]
    assert len(entries) == 3 and len(kcat_read(stack.bootstrap, retry)) == 2
    assert [e["decision"] for e in entries] == ["merge", "merge", "purge"]
    assert len({e["commit_id"] for e in entries}) == 1
    first = entries[0]
    assert first["source_topic"] == dlq and (first["source_partition"], first["source_offset"]) == (0, 0)
    assert first["destination_topic"] == retry and entries[2]["destination_topic"] is None
    assert first["key_sha256"] == hashlib.sha256(b"k1").hexdigest()
    assert first["value_sha256"] == hashlib.sha256(b"v1").hexdigest()
    assert (first["operator"], first["reason"]) == ("oncall@bastion", "INC-42 consumer fixed")
    assert "v1" not in json.dumps(first).replace(first["value_sha256"], ""), "never the payload"

    base_args = ["-b", stack.bootstrap, "--audit-topic", audit]
    table = run(["history", *base_args])
    assert table.returncode == 0, table.stderr
    assert "3 audit record(s)" in table.stdout and "INC-42 consumer fixed" in table.stdout
    purges = run(["history", *base_args, "--format", "jsonl", "--where", "value.decision:purge"])
    assert [json.loads(line)["source_offset"] for line in purges.stdout.splitlines()] == [2]


async def test_unwritable_audit_topic_commits_nothing(stack: Stack, topic_name: str) -> None:
    from dlq_tui.settings import Settings, resolve_connection
    from tests.acl import allow_all

    dlq, retry, audit = f"{topic_name}-dlq", f"{topic_name}-retry", f"{topic_name}-audit"
    for t in (dlq, retry, audit):
        await create_topic(stack.bootstrap, t)
    await produce(stack.bootstrap, dlq, [Rec(b"k1", b"v1")])
    group = unique_name("g")
    txn_id = unique_name("txn")
    # alice may use the DLQ, the retry topic, the group and the transactional id, not the audit topic.
    await allow_all(stack.bootstrap, "alice", topics=[dlq, retry], groups=[group], transactional_ids=[txn_id])
    settings = Settings(
        bootstrap_servers=stack.sasl_bootstrap,
        group=group,
        properties={
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
            'username="alice" password="alice-secret";',
        },
    )
    kafka = resolve_connection(settings).kafka
    config = SessionConfig(
        kafka=kafka,
        source=dlq,
        group=group,
        destination=retry,
        transactional_id=txn_id,
        audit_topic=audit,
        use_journal=False,
    )
    session = TriageSession(config)
    await session.open()
    try:
        await session.load_all()
        session.decide(session.visible_rows(), Decision.MERGE)
        with pytest.raises(DlqError, match=f"not authorized.*{audit}"):
            await session.commit()
        assert session.buffer.count(Decision.MERGE) == 1, "still staged"
    finally:
        await session.close()
    assert kcat_read(stack.bootstrap, retry) == []
    assert kcat_read(stack.bootstrap, audit) == []
    assert await group_offsets(stack.bootstrap, group, dlq) == {}
