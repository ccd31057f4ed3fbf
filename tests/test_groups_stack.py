"""DLQ header conventions and failure groups against the real stack: records produced with each
framework's exact header names and encodings, read back through the engine; `dlq-tui groups` and
`merge-all --where group:ID` end to end, with kcat as the witness of what was written."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlq_tui.demo.conventions import FAILURE_KINDS, convention_records
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.filter import parse
from tests.javaser import spring_deserialization_exception
from tests.stack import Rec, Stack, create_topic, group_offsets, kcat_read, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
TS = 1_767_225_600_123


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DLQ_TUI, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ))


def i32(n: int) -> bytes:
    return struct.pack(">i", n)


def i64(n: int) -> bytes:
    return struct.pack(">q", n)


async def _session(stack: Stack, source: str) -> TriageSession:
    session = TriageSession(
        SessionConfig(
            kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
            source=source,
            group=unique_name("g"),
            use_journal=False,
        )
    )
    await session.open()
    await session.load_all()
    return session


async def test_every_convention_read_back_through_the_engine(stack: Stack, tmp_path: Path) -> None:
    source = unique_name("conventions")
    await create_topic(stack.bootstrap, source)
    failed = b'{"orderNumber": "ORD042", "reason": broken'
    java = spring_deserialization_exception(tmp_path, failed, "failed to deserialize")
    records = {
        b"spring-retry": [
            ("kafka_original-topic", b"pricing"),
            ("kafka_original-partition", i32(3)),
            ("kafka_original-offset", i64(2**40)),
            ("kafka_original-timestamp", i64(TS)),
            ("kafka_original-consumer-group", b"pricing-app"),
            ("kafka_exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
            ("kafka_exception-cause-fqcn", b"java.net.ConnectException"),
            ("kafka_exception-message", b"attempt 1: refused"),
            ("kafka_exception-message", b"attempt 2: refused"),
            ("retry_topic-attempts", b"\x02"),  # one byte, as Spring Kafka before 2.9 wrote it
            ("retry_topic-original-timestamp", TS.to_bytes(6, "big")),
        ],
        b"spring-deser": [("springDeserializerExceptionValue", java)],
        b"scst": [
            ("x-original-topic", b"payments"),
            ("x-original-partition", i32(1)),
            ("x-original-offset", i64(77)),
            ("x-original-timestamp", i64(TS)),
            ("x-exception-fqcn", b"org.springframework.messaging.MessageHandlingException"),
            ("x-exception-message", b"amount 12 exceeds limit"),
        ],
        b"smallrye": [
            ("dead-letter-exception-class-name", b"jakarta.persistence.OptimisticLockException"),
            ("dead-letter-cause-class-name", b"org.hibernate.StaleObjectStateException"),
            ("dead-letter-reason", b"Row was updated"),
            ("dead-letter-topic", b"invoices"),
            ("dead-letter-partition", b"2"),
            ("dead-letter-offset", b"300"),
            ("delayed-retry-count", b"3"),
        ],
        b"streams": [
            ("__streams.errors.exception", b"org.apache.kafka.common.errors.SerializationException"),
            ("__streams.errors.message", b"Error deserializing"),
            ("__streams.errors.topic", b"shipments"),
            ("__streams.errors.partition", b"5"),
            ("__streams.errors.offset", b"120011"),
        ],
        b"karafka": [
            ("source_topic", b"legacy"),
            ("source_partition", b"1"),
            ("source_offset", b"42"),
            ("source_consumer_group", b"app"),
            ("source_attempts", b"4"),
        ],
        b"connect": [
            ("__connect.errors.topic", b"crm"),
            ("__connect.errors.partition", b"0"),
            ("__connect.errors.offset", b"880"),
            ("__connect.errors.exception.class.name", b"org.apache.kafka.connect.errors.DataException"),
            ("__connect.errors.exception.message", b"Unknown magic byte"),
        ],
        b"spring": [
            ("kafka_dlt-original-topic", b"orders"),
            ("kafka_dlt-original-partition", i32(2)),
            ("kafka_dlt-original-offset", i64(9)),
            ("kafka_dlt-exception-fqcn", b"IllegalStateException"),
        ],
    }
    await produce(stack.bootstrap, source, [Rec(k, b"v", headers=h) for k, h in records.items()])
    session = await _session(stack, source)
    try:
        got = {session.store.key_at(r): session.decoded(r).dlq for r in session.visible_rows()}
    finally:
        await session.close()
    assert {k: v.source for k, v in got.items()} == {k: k.decode() for k in records}

    r = got[b"spring-retry"]
    assert (r.original_topic, r.original_partition, r.original_offset) == ("pricing", 3, 2**40)
    assert (r.original_timestamp, r.consumer_group, r.attempts) == (TS, "pricing-app", 2)
    assert (r.root_cause_class, r.exception_message) == ("java.net.ConnectException", "attempt 2: refused")
    d = got[b"spring-deser"]
    assert d.exception_class == "org.springframework.kafka.support.serializer.DeserializationException"
    assert (d.exception_message, d.root_cause_class) == (
        "failed to deserialize",
        "java.lang.IllegalArgumentException",
    )
    assert d.failed_data == failed
    s = got[b"scst"]
    assert (s.original_topic, s.original_partition, s.original_offset, s.original_timestamp) == (
        "payments",
        1,
        77,
        TS,
    )
    assert s.exception_class == "org.springframework.messaging.MessageHandlingException"
    q = got[b"smallrye"]
    assert (q.original_topic, q.original_partition, q.original_offset, q.attempts) == ("invoices", 2, 300, 3)
    assert q.root_cause_class == "org.hibernate.StaleObjectStateException"
    k = got[b"streams"]
    assert (k.original_topic, k.original_partition, k.original_offset) == ("shipments", 5, 120011)
    assert k.error_text() == "org.apache.kafka.common.errors.SerializationException: Error deserializing"
    y = got[b"karafka"]
    assert (y.original_topic, y.original_partition, y.original_offset, y.consumer_group, y.attempts) == (
        "legacy",
        1,
        42,
        "app",
        4,
    )
    c = got[b"connect"]
    assert (c.original_topic, c.original_offset, c.exception_class) == (
        "crm",
        880,
        "org.apache.kafka.connect.errors.DataException",
    )
    p = got[b"spring"]
    assert (p.original_topic, p.original_partition, p.original_offset) == ("orders", 2, 9)


async def _mixed_dlq(stack: Stack, per_kind: int) -> str:
    source = unique_name("groups")
    await create_topic(stack.bootstrap, source, partitions=3)
    records = convention_records(per_kind, int(time.time() * 1000))
    await produce(
        stack.bootstrap, source, [Rec(r.key, r.value, i % 3, r.headers) for i, r in enumerate(records)]
    )
    return source


def _groups(stack: Stack, group: str, source: str, *extra: str) -> list[dict[str, object]]:
    done = run(["groups", "-b", stack.bootstrap, "-g", group, "--format", "jsonl", *extra, source])
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_groups_jsonl_one_group_per_failure_kind(stack: Stack) -> None:
    source = await _mixed_dlq(stack, 4)
    group = unique_name("g")
    groups = _groups(stack, group, source)
    assert len(groups) == len(FAILURE_KINDS), "one group per failure kind, whatever the ids in the messages"
    assert sorted(g["convention"] or "" for g in groups) == sorted(FAILURE_KINDS)
    for g in groups:
        assert set(g) >= {"id", "count", "exception", "message", "origin_topic", "first_timestamp"}
        assert {"last_timestamp", "convention"} <= set(g)
        assert g["count"] == 4 and g["undecided"] == 4
        assert isinstance(g["first_timestamp"], int) and g["first_timestamp"] <= g["last_timestamp"]  # type: ignore[operator]
    by = {g["convention"]: g for g in groups}
    assert by["streams"]["exception"] == "org.apache.kafka.common.errors.SerializationException"
    assert by["streams"]["message"] == "Error deserializing key/value for partition <n> at offset <n>"
    assert by["karafka"]["exception"] is None and by["karafka"]["origin_topic"] == "legacy-orders"
    assert by[None]["label"] == "no error headers"
    # ids are stable: the same on a second run, and with a filter
    again = _groups(stack, unique_name("g"), source, "--where", "origin:invoices")
    assert [(g["id"], g["count"]) for g in again] == [(by["smallrye"]["id"], 4)]

    table = run(["groups", "-b", stack.bootstrap, "-g", group, source])
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["GROUP", "COUNT", "UNDEC"]
    assert f"{len(FAILURE_KINDS)} group(s), {4 * len(FAILURE_KINDS)} record(s)" in table.stdout


async def test_merge_all_where_group_writes_that_group_only(stack: Stack) -> None:
    source = await _mixed_dlq(stack, 3)
    dest = unique_name("retry")
    await create_topic(stack.bootstrap, dest)
    group = unique_name("g")
    groups = {g["convention"]: g for g in _groups(stack, group, source)}
    target = groups["spring-retry"]["id"]

    printed = run(
        [
            "print",
            "-b",
            stack.bootstrap,
            "-g",
            group,
            "--format",
            "jsonl",
            "--where",
            f"group:{target}",
            source,
        ]
    )
    assert printed.returncode == 0, printed.stderr
    lines = [json.loads(line) for line in printed.stdout.splitlines()]
    assert len(lines) == 3
    assert all(any(h["name"] == "retry_topic-attempts" for h in line["headers"]) for line in lines)

    done = run(["merge-all", "-b", stack.bootstrap, "-g", group, "--where", f"group:{target}", source, dest])
    assert done.returncode == 0, done.stderr
    assert "3 merged, 0 purged, 0 skipped" in done.stdout

    written = kcat_read(stack.bootstrap, dest)
    originals = {(r.partition, r.offset): r for r in kcat_read(stack.bootstrap, source)}
    expected = sorted(
        (r for r in originals.values() if any(n == "retry_topic-attempts" for n, _ in r.headers)),
        key=lambda r: r.key or b"",
    )
    assert [
        (r.key, r.value, r.headers, r.timestamp) for r in sorted(written, key=lambda r: r.key or b"")
    ] == [(r.key, r.value, r.headers, r.timestamp) for r in expected], (
        "exactly the group's records, byte for byte with headers and timestamps"
    )
    # the repeated header is copied as it was: both messages, in order
    messages = [v for n, v in written[0].headers if n == "kafka_exception-message"]
    assert [m[:4] for m in messages] == [b"503 ", b"500 "]
    committed = await group_offsets(stack.bootstrap, group, source)
    assert committed, "the group's offsets/metadata record what was merged"

    after = {g["id"]: g["count"] for g in _groups(stack, group, source)}
    assert target not in after and len(after) == len(FAILURE_KINDS) - 1

    karafka = groups["karafka"]["id"]
    dry = run(
        ["purge-all", "-b", stack.bootstrap, "-g", group, "--where", f"group:{karafka}", "--dry-run", source]
    )
    assert dry.returncode == 0, dry.stderr
    planned = [line for line in dry.stdout.splitlines() if line.startswith("would purge")]
    assert len(planned) == 3 and all(" key LEG-" in line for line in planned)


async def test_engine_groups_and_group_filter(stack: Stack) -> None:
    source = await _mixed_dlq(stack, 2)
    session = await _session(stack, source)
    try:
        groups = await session.groups_async()
        assert len(groups) == len(FAILURE_KINDS)
        target = next(g for g in groups if g.convention == "connect")
        rows = session.group_rows(target.id)
        assert len(rows) == 2
        matched = session.match(parse(f"group:{target.id}"), session.visible_rows())
        assert list(matched) == list(rows)
        assert list(
            session.match(parse("exception:*DataException origin:crm-contacts"), session.visible_rows())
        ) == list(rows)
        assert all(session.decoded(r).group_id() == target.id for r in rows)
    finally:
        await session.close()


async def test_demo_seed_shows_groups_of_every_convention(stack: Stack) -> None:
    from dlq_tui.demo.__main__ import seed

    source, dest = unique_name("demo-dlq"), unique_name("demo-retry")
    await seed(
        stack.bootstrap, stack.registry_url, 5, dlq_topic=source, retry_topic=dest, quiet=True, conventions=2
    )
    groups = _groups(stack, unique_name("g"), source, "-c", f"schema.registry.url={stack.registry_root}")
    conventions = {g["convention"] for g in groups}
    assert conventions == {*(c or None for c in FAILURE_KINDS)}
    # the demo's own Spring DLT records: four failure kinds, however many records each
    spring_dlt = [g for g in groups if g["origin_topic"] == "order-canceled" and g["convention"] == "spring"]
    assert len(groups) == len(FAILURE_KINDS) + 4 and len(spring_dlt) == 5
    assert sum(int(g["count"]) for g in groups) == 5 + 4 + 2 * len(FAILURE_KINDS)  # type: ignore[call-overload]
