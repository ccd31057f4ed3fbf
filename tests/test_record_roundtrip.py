"""The JSON record format against the real stack: `print --format jsonl` and the export file, then
`produce --from`, read back by kcat byte-identical (key, value, headers, timestamp, partition)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dlq_tui.decode.registry import SchemaRegistry
from dlq_tui.demo.data import order_canceled_schema, wire_avro
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.export import ExportExistsError, clipboard_text, export_rows
from dlq_tui.kafka.connection import KafkaSettings
from tests.stack import KcatRecord, Rec, Stack, create_topic, kcat_read, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DLQ_TUI, *args], capture_output=True, text=True, timeout=120, env=os.environ)


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


async def _awkward_dlq(stack: Stack, topic: str) -> list[KcatRecord]:
    """Three partitions of records that a lossy format would damage: Avro in the wire format, JSON
    with odd spacing, invalid UTF-8, bidi and escape characters, a tombstone, repeated and binary
    headers, a keyless record, old timestamps."""
    with SchemaRegistry(stack.registry_url) as registry:
        schema_id = registry.register(f"{topic}-value", order_canceled_schema())
    await create_topic(stack.bootstrap, topic, partitions=3)
    avro = wire_avro(schema_id, {"orderNumber": "ORD001", "reason": "too large"})
    records = [
        Rec(b"ORD001", avro, 0, [("kafka_dlt-original-offset", (42).to_bytes(8, "big"))], 1_600_000_000_000),
        Rec(b"\xff\xfe", b'{ "a" :  1 }', 1, [("x", b"1"), ("x", b"\x1b]0;owned\x07")], 1_700_000_000_123),
        Rec(None, "\u202etxt\x1b[2J\u2028".encode(), 2, [], 1_650_000_000_000),
        Rec(b"gone", None, 2, [("x-empty", b"")], 1_650_000_000_001),
        Rec("ключ".encode(), b"\x00\x01\x02binary", 1, [("bin", bytes(range(256)))], 1_700_000_000_124),
    ]
    await produce(stack.bootstrap, topic, records)
    return kcat_read(stack.bootstrap, topic)


def _same(a: list[KcatRecord], b: list[KcatRecord]) -> None:
    def essence(r: KcatRecord) -> tuple[object, ...]:
        return (r.partition, r.timestamp, r.key, r.value, r.headers)

    assert sorted(map(essence, a), key=repr) == sorted(map(essence, b), key=repr)


async def test_print_then_produce_is_byte_exact(stack: Stack, tmp_path: Path) -> None:
    source, dest = unique_name("rt-src"), unique_name("rt-dst")
    original = await _awkward_dlq(stack, source)
    await create_topic(stack.bootstrap, dest, partitions=3)
    printed = run(
        ["print", "-b", stack.bootstrap, "-g", unique_name("g"), "-c", f"schema.registry.url={stack.registry_root}",
         "--format", "jsonl", source]
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert len(lines) == 5
    first = json.loads(lines[0])
    assert first["v"] == 1 and first["topic"] == source
    assert any(json.loads(x)["value_format"] == "avro" for x in lines)  # decoded through the registry
    assert "\x1b" not in printed.stdout and "\u202e" not in printed.stdout
    exported = tmp_path / "dlq.jsonl"
    exported.write_text(printed.stdout)

    # the seed command line's habit, -c schema.registry.url=…, is accepted here too
    registry = ["-c", f"schema.registry.url={stack.registry_root}"]
    result = run(["produce", "-b", stack.bootstrap, *registry, "--from", str(exported), dest])
    assert result.returncode == 0, result.stderr
    assert "5 records produced to" in result.stdout
    _same(kcat_read(stack.bootstrap, dest), original)


async def test_produce_by_key_and_partition_refusal(stack: Stack, tmp_path: Path) -> None:
    source, small = unique_name("rt-src"), unique_name("rt-one")
    original = await _awkward_dlq(stack, source)
    await create_topic(stack.bootstrap, small, partitions=1)
    printed = run(["print", "-b", stack.bootstrap, "-g", unique_name("g"), "--format", "jsonl", source])
    exported = tmp_path / "dlq.jsonl"
    exported.write_text(printed.stdout)

    refused = run(["produce", "-b", stack.bootstrap, "--from", str(exported), small])
    assert refused.returncode == 1
    assert "has 1 partition(s)" in refused.stderr and "--partition key" in refused.stderr
    assert kcat_read(stack.bootstrap, small) == []

    done = run(["produce", "-b", stack.bootstrap, "--from", str(exported), "--partition", "key", small])
    assert done.returncode == 0, done.stderr
    back = kcat_read(stack.bootstrap, small)
    assert sorted((r.timestamp, r.key, r.value, r.headers) for r in back) == sorted(
        (r.timestamp, r.key, r.value, r.headers) for r in original
    )


async def test_a_bad_line_produces_nothing(stack: Stack, tmp_path: Path) -> None:
    dest = unique_name("rt-bad")
    await create_topic(stack.bootstrap, dest, partitions=1)
    path = tmp_path / "bad.jsonl"
    path.write_text('{"v": 1, "key": "a", "value": "b"}\n\n{"v": 1, "key": {"x": 1}, "value": "b"}\n')
    result = run(["produce", "-b", stack.bootstrap, "--from", str(path), dest])
    assert result.returncode == 2
    assert f"{path}:3: key is dict" in result.stderr and "nothing was produced" in result.stderr
    assert kcat_read(stack.bootstrap, dest) == []
    missing = run(["produce", "-b", stack.bootstrap, "--from", str(tmp_path / "nope.jsonl"), dest])
    assert missing.returncode == 2 and "cannot read" in missing.stderr


async def test_export_file_then_produce_is_byte_exact(stack: Stack, tmp_path: Path) -> None:
    source, dest = unique_name("ex-src"), unique_name("ex-dst")
    original = await _awkward_dlq(stack, source)
    await create_topic(stack.bootstrap, dest, partitions=3)
    config = SessionConfig(
        kafka=KafkaSettings(stack.bootstrap),
        source=source,
        group=unique_name("g"),
        registry_url=stack.registry_url,
        use_journal=False,
        show_tombstones=True,  # the DLQ holds a tombstone: hidden from triage unless shown
    )
    session = TriageSession(config)
    await session.open()
    try:
        await session.load_all()
        rows = list(session.visible_rows())
        await session.prefetch(range(len(rows)))  # as the app's load loop does
        path = tmp_path / "export.jsonl"
        seen: list[tuple[int, int]] = []
        result = export_rows(session, rows, path, progress=lambda done, total: seen.append((done, total)))
        assert (result.records, result.cancelled) == (5, False)
        assert seen[-1] == (5, 5)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert result.bytes == path.stat().st_size
        assert "avro" in {json.loads(x)["value_format"] for x in path.read_text().splitlines()}
        with pytest.raises(ExportExistsError):
            export_rows(session, rows, path)
        assert export_rows(session, rows[:1], path, overwrite=True).records == 1
        assert len(path.read_text().splitlines()) == 1
        stopped = tmp_path / "stopped.jsonl"
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("dlq_tui.export.PROGRESS_EVERY", 2)
            assert export_rows(session, rows, stopped, cancelled=lambda: True).cancelled
        assert not stopped.exists(), "a cancelled export leaves no partial file"
        export_rows(session, rows, path, overwrite=True)
        # the clipboard gets the same JSON as the file (one record: one object, no newline)
        assert clipboard_text(session, rows[:1]) == path.read_text().splitlines()[0]
        assert clipboard_text(session, rows) == path.read_text()
    finally:
        await session.close()

    produced = run(["produce", "-b", stack.bootstrap, "--from", str(path), dest])
    assert produced.returncode == 0, produced.stderr
    _same(kcat_read(stack.bootstrap, dest), original)


async def test_print_piped_into_produce_and_dry_run(stack: Stack) -> None:
    source, dest = unique_name("rt-src"), unique_name("rt-pipe")
    original = await _awkward_dlq(stack, source)
    await create_topic(stack.bootstrap, dest, partitions=3)
    printed = run(["print", "-b", stack.bootstrap, "-g", unique_name("g"), "--format", "jsonl", source])
    assert printed.returncode == 0, printed.stderr

    def produce_stdin(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DLQ_TUI, "produce", "-b", stack.bootstrap, "--from", "-", *extra, dest],
            input=printed.stdout, capture_output=True, text=True, timeout=120, env=os.environ,
        )  # fmt: skip

    dry = produce_stdin("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == (
        f"5 records would be produced (dry run: nothing written) to {dest}: "
        "1 to partition 0, 2 to partition 1, 2 to partition 2\n"
    )
    assert kcat_read(stack.bootstrap, dest) == []
    real = produce_stdin()
    assert real.returncode == 0, real.stderr
    _same(kcat_read(stack.bootstrap, dest), original)


async def test_a_big_file_is_read_again_to_send(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlq_tui.produce import produce_file

    source, dest = unique_name("rt-src"), unique_name("rt-big")
    original = await _awkward_dlq(stack, source)
    await create_topic(stack.bootstrap, dest, partitions=3)
    printed = run(["print", "-b", stack.bootstrap, "-g", unique_name("g"), "--format", "jsonl", source])
    path = tmp_path / "big.jsonl"
    path.write_text(printed.stdout)
    monkeypatch.setattr("dlq_tui.produce.KEEP_IN_MEMORY_BYTES", 0)
    seen: list[tuple[int, int]] = []
    report = await produce_file(
        KafkaSettings(stack.bootstrap), path, dest, progress=lambda d, t: seen.append((d, t))
    )
    assert report.records == 5 and seen[-1] == (5, 5)
    _same(kcat_read(stack.bootstrap, dest), original)
