"""The payload arena: an unlinked 0600 file, byte-exact round trips, digests that refuse a commit of
bytes that changed after they were loaded."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import DlqError, KafkaSettings
from dlq_tui.triage.arena import (
    DEFAULT_MEMORY_BUDGET,
    ArenaDigestError,
    FileArena,
    MemoryArena,
    SpillArena,
    arena_dir,
    default_arena,
)
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore
from tests.stack import Rec, Stack, create_topic, kcat_read, produce


def records(n: int, seed: int = 7) -> list[RawRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        value = None if i % 17 == 0 else rng.randbytes(rng.randrange(0, 1500))
        key = None if i % 11 == 0 else f"k{i}".encode()
        headers = (("h", rng.randbytes(rng.randrange(0, 40))), ("n", None)) if i % 3 else ()
        out.append(RawRecord(i % 2, i // 2, 1_700_000_000_000 + i, 0, key, value, headers))
    return out


def test_arena_file_is_private_and_unlinked(tmp_path: Path) -> None:
    arena = FileArena(tmp_path / "cache")
    try:
        assert list((tmp_path / "cache").iterdir()) == []  # unlinked at once: nothing to open by name
        assert stat.S_IMODE(os.fstat(arena._fd).st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
        chunk = bytearray(b"abc" * 5000)
        frozen = [arena.freeze(chunk)]
        assert frozen[0][:] == bytes(chunk)  # the heap copy until the writer thread is done
        assert arena.file_size() >= len(chunk)  # waits for the writer
        arena.settle(frozen)
        assert frozen[0][:] == bytes(chunk) and not isinstance(frozen[0], bytearray)  # the mapping
        assert arena.nbytes_heap() == 0
    finally:
        arena.close()


def test_default_arena_follows_xdg_cache_home_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert arena_dir() == tmp_path / "dlq-tui"
    arena = default_arena()
    assert isinstance(arena, SpillArena) and arena.memory_budget == DEFAULT_MEMORY_BUDGET
    arena.freeze(bytearray(100))
    assert arena.file is None and not (tmp_path / "dlq-tui").exists()  # under the budget: no disk
    arena = default_arena(0)
    arena.freeze(bytearray(100))
    assert arena.file is not None and arena.file.directory == tmp_path / "dlq-tui"
    arena.close()
    monkeypatch.setenv("DLQ_TUI_ARENA", "memory")
    assert isinstance(default_arena(0), MemoryArena)


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_store_on_arena_round_trips_bytes(tmp_path: Path, kind: str) -> None:
    arena = FileArena(tmp_path) if kind == "file" else MemoryArena()
    store = RecordStore(chunk_size=4096, arena=arena)
    recs = records(300)
    store.extend(recs[:150])
    for r in recs[150:]:
        store.append(r)
    assert [store.get(i) for i in range(len(store))] == recs
    store.verify_rows(range(len(store)))  # unchanged: no error
    if kind == "file":
        assert store.nbytes() < sum(len(r.value or b"") for r in recs) / 4  # payloads are not in the heap
    store.close()
    assert store.get(5) == recs[5]  # rows stay readable after close (a screen may still paint them)


def test_changed_arena_bytes_are_detected(tmp_path: Path) -> None:
    arena = FileArena(tmp_path)
    store = RecordStore(chunk_size=2048, arena=arena)
    recs = [RawRecord(0, i, 0, 0, b"k%d" % i, b"v" * 500, ()) for i in range(40)]
    store.extend(recs)
    store.verify_rows([3])
    # Another writer changes one byte of the file under the mapping.
    os.pwrite(arena._fd, b"X", 10)
    assert store.value_at(0) != recs[0].value or store.key_at(0) != recs[0].key
    with pytest.raises(ArenaDigestError, match="changed since they were loaded"):
        store.verify_rows([0])
    # Rows in the chunk still being filled (in the heap, never on disk) are not affected.
    store.verify_rows([len(store) - 1])


def _config(stack: Stack, source: str, group: str, dest: str) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=dest,
        group=group,
        use_journal=False,
        tombstones="never",
    )


async def _loaded(stack: Stack, source: str, dest: str, tmp_path: Path) -> tuple[TriageSession, FileArena]:
    session = TriageSession(_config(stack, source, f"{source}-g", dest))
    await session.open()
    arena = FileArena(tmp_path)
    session.store = RecordStore(chunk_size=8192, arena=arena)  # many frozen chunks for a small topic
    await session.load_all()
    return session, arena


async def test_arena_payloads_are_byte_identical_to_kafka(
    stack: Stack, topic_name: str, tmp_path: Path
) -> None:
    source, dest = topic_name, f"{topic_name}-retry"
    await create_topic(stack.bootstrap, source, 2)
    await create_topic(stack.bootstrap, dest, 1)
    rng = random.Random(3)
    sent = [
        Rec(
            None if i % 9 == 0 else f"key-{i}".encode(),
            None if i % 9 == 4 else rng.randbytes(rng.randrange(1, 3000)),
            partition=i % 2,
            headers=[("a", rng.randbytes(rng.randrange(0, 30))), ("kafka_dlt-original-offset", b"\x00" * 8)],
        )
        for i in range(120)
    ]
    await produce(stack.bootstrap, source, sent)
    session, arena = await _loaded(stack, source, dest, tmp_path)
    try:
        assert arena.file_size() > 0  # most rows live in the file, not the heap
        witness = kcat_read(stack.bootstrap, source)
        stored = sorted((session.record(r) for r in range(len(session.store))), key=lambda r: r.rid)
        assert [(r.partition, r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in stored] == [
            (w.partition, w.offset, w.timestamp, w.key, w.value, w.headers) for w in witness
        ]
    finally:
        await session.close()


async def test_commit_refuses_bytes_changed_since_load(stack: Stack, topic_name: str, tmp_path: Path) -> None:
    source, dest = topic_name, f"{topic_name}-retry"
    await create_topic(stack.bootstrap, source, 1)
    await create_topic(stack.bootstrap, dest, 1)
    await produce(stack.bootstrap, source, [Rec(f"k{i}".encode(), b"v" * 900) for i in range(40)])
    session, arena = await _loaded(stack, source, dest, tmp_path)
    try:
        session.decide([0, 1, 2], Decision.MERGE)
        session.store.verify_rows([0])  # waits for the arena's writer to have written chunk 0
        os.pwrite(arena._fd, b"tampered", 20)  # inside row 0's bytes, in the first frozen chunk
        with pytest.raises(DlqError, match="refusing to commit"):
            await session.commit()
        assert kcat_read(stack.bootstrap, dest) == []  # nothing written
        assert len(list(session.buffer.writes())) == 3  # decisions kept
    finally:
        await session.close()
