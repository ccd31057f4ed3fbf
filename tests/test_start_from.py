"""`--from` against the real stack on 3 partitions: the reader starts at an offset or a time,
resolution still comes from the group's committed offsets, and what was not loaded is said."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlq_tui.display import iso_ts
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import DlqError, KafkaSettings
from dlq_tui.start import parse_start
from dlq_tui.triage.decisions import Decision
from tests.stack import Rec, Stack, create_topic, group_offsets, kcat_read, produce, unique_name

PER_PARTITION = 30
BASE_TS = 1_790_000_000_000  # records of partition p, offset i: BASE_TS + i * 1000 + p


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


async def three_partitions(stack: Stack, *, compact: bool = False) -> str:
    topic = unique_name("from-dlq")
    await create_topic(
        stack.bootstrap, topic, partitions=3, config={"cleanup.policy": "compact"} if compact else None
    )
    await produce(
        stack.bootstrap,
        topic,
        [
            Rec(f"k{p}-{i % 5}".encode(), f"v{p}-{i}".encode(), p, timestamp=BASE_TS + i * 1000 + p)
            for p in range(3)
            for i in range(PER_PARTITION)
        ],
    )
    return topic


async def committed_when(
    stack: Stack, group: str, topic: str, partition: int, ready: Callable[[tuple[int, str]], bool]
) -> tuple[int, str]:
    """The group's (offset, metadata) of `partition` once `ready` says so: a transaction's offsets
    become readable when the coordinator has written its markers, a moment after the commit."""
    deadline = time.monotonic() + 30
    while True:
        state = (await group_offsets(stack.bootstrap, group, topic)).get(partition, (-1, ""))
        if ready(state) or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.05)


def config(stack: Stack, topic: str, group: str, start: str | None, **kw: Any) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=topic,
        group=group,
        start=parse_start(start) if start else None,
        use_journal=False,
        **kw,
    )


async def loaded(cfg: SessionConfig) -> TriageSession:
    session = TriageSession(cfg)
    await session.open()
    await session.load_all()
    return session


def shown(session: TriageSession) -> list[tuple[int, int]]:
    return sorted((session.store.partition_at(r), session.store.offset_at(r)) for r in session.visible_rows())


async def test_partition_offset_reads_only_that_partition_from_there(stack: Stack) -> None:
    topic = await three_partitions(stack)
    session = await loaded(config(stack, topic, unique_name("g"), "p1:20"))
    try:
        assert shown(session) == [(1, i) for i in range(20, PER_PARTITION)]
        assert session.start_note == (
            "from p1:20: up to 80 unresolved offsets before the start are not loaded; partition 0, 2 not read"
        )
        assert session.unresolved_count() == 10
        assert session.info.start_note == session.start_note  # what the app's status line shows
    finally:
        await session.close()


async def test_offset_for_every_partition_and_the_group_s_offsets_still_count(stack: Stack) -> None:
    topic = await three_partitions(stack)
    group = unique_name("g")
    # the group resolves partition 0 up to offset 25 (a purge of offsets 0..24, through the engine)
    first = await loaded(config(stack, topic, group, None, destination=None))
    try:
        first.decide(
            [r for r in first.visible_rows() if first.store.partition_at(r) == 0][:25], Decision.PURGE
        )
        await first.commit()
    finally:
        await first.close()
    assert (await committed_when(stack, group, topic, 0, lambda s: s[0] == 25))[0] == 25

    session = await loaded(config(stack, topic, group, "20"))
    try:
        expected = [(0, i) for i in range(25, 30)] + [(p, i) for p in (1, 2) for i in range(20, 30)]
        assert shown(session) == expected
        assert session.start_note == "from 20: up to 40 unresolved offsets before the start are not loaded"
    finally:
        await session.close()


async def test_time_start_uses_the_record_timestamps(stack: Stack) -> None:
    topic = await three_partitions(stack)
    when = iso_ts(BASE_TS + 12_000 + 1)  # partition 0's offset 12 is 1 ms before it, partition 1's is at it
    session = await loaded(config(stack, topic, unique_name("g"), when))
    try:
        rows = shown(session)
        firsts = {p: min(o for q, o in rows if q == p) for p in range(3)}
        assert firsts == {0: 13, 1: 12, 2: 12}
        assert len(rows) == 17 + 18 + 18
    finally:
        await session.close()
    later = await loaded(config(stack, topic, unique_name("g"), "2099-01-01"))
    try:
        assert shown(later) == []
        assert "up to 90 unresolved offsets" in (later.start_note or "")
    finally:
        await later.close()


async def test_a_commit_never_resolves_what_was_not_loaded(stack: Stack) -> None:
    topic = await three_partitions(stack, compact=True)
    group = unique_name("g")
    session = await loaded(config(stack, topic, group, "p2:10"))
    try:
        assert not session.tombstones_on
        assert (session.start_note or "").endswith(
            "no tombstones (one could compact away a record that was not loaded)"
        )
        rows = [r for r in session.visible_rows() if session.store.offset_at(r) in (10, 11, 14)]
        session.decide(rows, Decision.PURGE)
        report = await session.commit()
        assert report.purged == 3 and report.tombstones == 0
    finally:
        await session.close()
    committed, metadata = await committed_when(stack, group, topic, 2, lambda s: s[1] != "")
    assert committed == 0, "offsets 0..9 were not loaded: they stay unresolved"
    assert metadata.endswith("10-11,14")
    assert all(r.value is not None for r in kcat_read(stack.bootstrap, topic))
    again = await loaded(config(stack, topic, group, None))
    try:
        assert len(shown(again)) == 3 * PER_PARTITION - 3
    finally:
        await again.close()


async def test_an_unknown_partition_is_a_clear_error(stack: Stack) -> None:
    topic = await three_partitions(stack)
    session = TriageSession(config(stack, topic, unique_name("g"), "p5:0"))
    try:
        with pytest.raises(DlqError, match=r"no partition 5 \(the topic has partitions 0..2\)"):
            await session.open()
    finally:
        await session.close()


async def test_print_from_relative_time(stack: Stack) -> None:
    topic = unique_name("from-print")
    await create_topic(stack.bootstrap, topic, partitions=3)
    now = int(time.time() * 1000)
    await produce(
        stack.bootstrap,
        topic,
        [Rec(b"old", b"old", p, timestamp=now - 3 * 3600_000) for p in range(3)]
        + [Rec(b"new", b"new", p, timestamp=now) for p in range(3)],
    )
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dlq-tui")), "print", "-b", stack.bootstrap, "-g", unique_name("g"),
         "--format", "jsonl", "--from", "-1h", topic],
        capture_output=True, text=True, timeout=120, env=os.environ,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted((r["partition"], r["key"]) for r in map(json.loads, result.stdout.splitlines())) == [
        (0, "new"),
        (1, "new"),
        (2, "new"),
    ]
    assert "from -1h: up to 3 unresolved offsets before the start are not loaded" in result.stderr
