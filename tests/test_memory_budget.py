"""`--memory-budget`: payload chunks stay in memory up to the budget and spill to the unlinked arena
file beyond it; rows on both sides of the switch are byte-identical to Kafka's (kcat is the
witness), a digest mismatch in either kind of chunk refuses the commit, and bad sizes are refused
with a clear message."""

from __future__ import annotations

import ctypes
import os
import random
from pathlib import Path

import pytest

from dlq_tui import cli
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import DlqError, KafkaSettings
from dlq_tui.settings import Settings, parse_size
from dlq_tui.triage.arena import DEFAULT_MEMORY_BUDGET, SpillArena
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore
from tests.stack import Rec, Stack, create_topic, kcat_read, produce

CHUNK = 8192


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("256M", 256 << 20),
        ("256mb", 256 << 20),
        ("1.5G", 3 << 29),
        ("512KiB", 512 << 10),
        ("100b", 100),
        (" 2 g ", 2 << 30),
        ("unlimited", 1 << 62),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size
    assert Settings(memory_budget=text).memory_budget == size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("500", "'500' has no unit: give e.g. 500M or 500G"),
        ("abc", "'abc' is not a size"),
        ("-1", "'-1' is not a size"),
        ("12X", "'12X' is not a size"),
        ("", "'' is not a size"),
    ],
)
def test_bad_sizes_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(memory_budget=text)


def test_negative_budget_from_the_config_file_is_refused() -> None:
    with pytest.raises(ValueError, match="memory_budget"):
        Settings(memory_budget=-5)


def test_default_environment_and_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().memory_budget == DEFAULT_MEMORY_BUDGET
    monkeypatch.setenv("DLQ_TUI_MEMORY_BUDGET", "1G")
    assert Settings().memory_budget == 1 << 30
    args = cli.build_parser(None).parse_args(["--memory-budget", "0", "-g", "g", "dlq"])
    settings = cli.settings_from_args(args)
    assert settings.memory_budget == 0  # the command line beats the environment
    config = cli.session_config(settings.model_copy(update={"bootstrap_servers": "h:1"}), "dlq", None, [])
    assert config.memory_budget == 0
    session = TriageSession(config)
    arena = session.store.arena
    assert isinstance(arena, SpillArena) and arena.memory_budget == 0


def test_bad_budget_on_the_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["ask"], [], ["groups"]):
        dest = ["retry"] if command == ["ask"] else []
        code = cli.main([*command, "-b", "127.0.0.1:1", "-g", "g", "--memory-budget", "300", "dlq", *dest])
        assert code == 2
        assert "memory_budget: Value error, '300' has no unit" in capsys.readouterr().err


def _records(n: int, partitions: int, seed: int = 5) -> list[RawRecord]:
    rng = random.Random(seed)
    return [
        RawRecord(
            i % partitions,
            i // partitions,
            1_700_000_000_000 + i,
            0,
            None if i % 13 == 0 else b"k%d" % i,
            None if i % 29 == 0 else rng.randbytes(rng.randrange(0, 1200)),
            (("a", rng.randbytes(rng.randrange(0, 20))), ("b", None)) if i % 4 else (),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("budget", [0, 3 * CHUNK, 10 * CHUNK, 1 << 40])
def test_store_round_trips_on_both_sides_of_the_budget(tmp_path: Path, budget: int) -> None:
    arena = SpillArena(budget, tmp_path)
    store = RecordStore(chunk_size=CHUNK, arena=arena)
    recs = _records(400, 3)
    for i in range(0, len(recs), 37):  # batches that end mid-chunk
        store.extend(recs[i : i + 37])
    assert [store.get(i) for i in range(len(store))] == recs
    in_memory = arena.memory_chunks()
    assert in_memory * CHUNK <= budget + CHUNK  # never more than the budget (plus chunk rounding)
    if budget == 0:
        assert in_memory == 0 and arena.file is not None
    elif budget < 1 << 40:
        assert in_memory > 0 and arena.file is not None and len(arena.file) > 0
    else:
        assert arena.file is None and not any(tmp_path.iterdir())  # no disk at all
    store.verify_rows(range(len(store)))
    store.settle()
    assert store.nbytes() < store.raw_bytes() if budget == 0 else True


def _config(stack: Stack, source: str, dest: str, budget: int) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=dest,
        group=f"{source}-g",
        use_journal=False,
        tombstones="never",
        memory_budget=budget,
    )


async def _loaded(stack: Stack, source: str, dest: str, tmp_path: Path, budget: int) -> TriageSession:
    session = TriageSession(_config(stack, source, dest, budget))
    assert isinstance(session.store.arena, SpillArena) and session.store.arena.memory_budget == budget
    await session.open()
    # Small chunks so that a small topic has chunks on both sides of the budget.
    session.store = RecordStore(chunk_size=CHUNK, arena=SpillArena(budget, tmp_path))
    await session.load_all()
    return session


async def test_payloads_straddling_the_budget_are_byte_identical_to_kafka(
    stack: Stack, topic_name: str, tmp_path: Path
) -> None:
    source, dest = topic_name, f"{topic_name}-retry"
    await create_topic(stack.bootstrap, source, 3)
    await create_topic(stack.bootstrap, dest, 1)
    rng = random.Random(11)
    sent = [
        Rec(
            None if i % 10 == 0 else f"key-{i}".encode(),
            None if i % 10 == 5 else rng.randbytes(rng.randrange(1, 2500)),
            partition=i % 3,
            headers=[
                ("x-trace", rng.randbytes(rng.randrange(0, 40))),
                ("kafka_dlt-original-topic", b"orders"),
            ],
        )
        for i in range(150)
    ]
    await produce(stack.bootstrap, source, sent)
    # ~190 KB of payload: the budget holds about one partition and a half.
    session = await _loaded(stack, source, dest, tmp_path, 10 * CHUNK)
    try:
        arena = session.store.arena
        assert isinstance(arena, SpillArena)
        assert arena.memory_chunks() >= 5 and arena.file is not None and len(arena.file) >= 5
        witness = kcat_read(stack.bootstrap, source)
        stored = sorted((session.record(r) for r in range(len(session.store))), key=lambda r: r.rid)
        assert [(r.partition, r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in stored] == [
            (w.partition, w.offset, w.timestamp, w.key, w.value, w.headers) for w in witness
        ]
        # Several partitions on each side of the switch from memory to disk, and one on both.
        first_on_disk = arena.memory_chunks()
        sides: tuple[set[int], set[int]] = (set(), set())
        for r in range(len(session.store)):
            sides[session.store.row_span(r)[0] >= first_on_disk].add(session.store.partition_at(r))
        assert len(sides[0]) >= 2 and len(sides[1]) >= 2 and sides[0] & sides[1]
    finally:
        await session.close()


def _tamper_memory(data: bytes, at: int) -> None:
    """Change one byte of an immutable bytes object in place (what memory corruption would do)."""
    address = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    assert address is not None
    ctypes.memmove(address + at, b"\xff" if data[at] != 0xFF else b"\x00", 1)


@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_commit_refuses_changed_bytes_in_either_kind_of_chunk(
    stack: Stack, topic_name: str, tmp_path: Path, kind: str
) -> None:
    source, dest = topic_name, f"{topic_name}-retry"
    await create_topic(stack.bootstrap, source, 1)
    await create_topic(stack.bootstrap, dest, 1)
    await produce(stack.bootstrap, source, [Rec(f"k{i}".encode(), b"v" * 900) for i in range(60)])
    session = await _loaded(stack, source, dest, tmp_path, 2 * CHUNK)
    try:
        store = session.store
        arena = store.arena
        assert isinstance(arena, SpillArena) and arena.file is not None
        first_on_disk = arena.memory_chunks()
        row = next(
            r for r in range(len(store)) if (store.row_span(r)[0] >= first_on_disk) == (kind == "file")
        )
        chunk, start, _ = store.row_span(row)
        session.decide([row], Decision.MERGE)
        if kind == "memory":
            buf = store.chunk_buffer(chunk)
            assert isinstance(buf, bytes)
            _tamper_memory(buf, start + 1)
        else:
            offset = arena.file.location(chunk - first_on_disk)
            assert offset is not None
            os.pwrite(arena.file._fd, b"tampered", offset[1] + start + 1)
        with pytest.raises(DlqError, match="refusing to commit"):
            await session.commit()
        assert kcat_read(stack.bootstrap, dest) == []  # nothing written
        assert len(list(session.buffer.writes())) == 1  # the decision is kept
    finally:
        await session.close()
