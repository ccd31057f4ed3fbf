"""The export core without Kafka: file mode, no overwrite unless asked, progress, cancel, names."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dlq_tui.decode.view import DecodedRecord, RecordDecoder
from dlq_tui.export import ExportExistsError, default_export_path, write_jsonl
from dlq_tui.triage.records import RawRecord


def records(n: int) -> list[DecodedRecord]:
    decoder = RecordDecoder()
    return [decoder.decode_uncached(RawRecord(0, i, i, 0, b"k", b"\x00bin", ())) for i in range(n)]


def test_written_0600_and_never_over_an_existing_file(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "out.jsonl"
        result = write_jsonl(records(3), "dlq", path, total=3)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [json.loads(x)["offset"] for x in path.read_text().splitlines()] == [0, 1, 2]
    assert (result.records, result.bytes) == (3, path.stat().st_size)

    with pytest.raises(ExportExistsError, match="exists"):
        write_jsonl(records(1), "dlq", path)
    assert len(path.read_text().splitlines()) == 3, "the refused export left the file alone"
    path.chmod(0o644)
    write_jsonl(records(1), "dlq", path, overwrite=True)
    assert len(path.read_text().splitlines()) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with pytest.raises(ExportExistsError):
        write_jsonl(records(1), "dlq", link)
    assert target.read_text() == "keep"


def test_progress_and_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dlq_tui.export.PROGRESS_EVERY", 4)
    seen: list[tuple[int, int]] = []
    write_jsonl(records(10), "dlq", tmp_path / "a.jsonl", total=10, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 10), (8, 10), (10, 10)]
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) >= 2

    result = write_jsonl(records(10), "dlq", tmp_path / "b.jsonl", total=10, cancelled=cancelled)
    assert result.cancelled and result.records == 8
    assert not (tmp_path / "b.jsonl").exists()


def test_a_failing_record_source_leaves_no_partial_file(tmp_path: Path) -> None:
    def broken() -> list[DecodedRecord]:
        raise OSError("disk gone")

    def gen():  # type: ignore[no-untyped-def]
        yield from records(2)
        broken()

    with pytest.raises(OSError, match="disk gone"):
        write_jsonl(gen(), "dlq", tmp_path / "c.jsonl")
    assert not (tmp_path / "c.jsonl").exists()


def test_default_export_path(tmp_path: Path) -> None:
    now = datetime(2026, 11, 28, 7, 45, tzinfo=UTC)
    first = default_export_path("orders/dlq", tmp_path, now)
    assert first == tmp_path / "orders_dlq-20261128T074500Z.jsonl"
    first.write_text("")
    assert default_export_path("orders/dlq", tmp_path, now).name == "orders_dlq-20261128T074500Z-2.jsonl"


async def test_export_and_clipboard_through_the_engine_interface(tmp_path: Path) -> None:
    from dlq_tui.export import clipboard_text, export_rows
    from dlq_tui.memory_engine import MemoryEngine
    from dlq_tui.record_json import parse_line

    raws = [
        RawRecord(p, o, 1000 + o, 0, b"k%d" % o, b"v\x00%d" % o, (("h", b"x"),))
        for p in (0, 1)
        for o in range(3)
    ]
    engine = MemoryEngine(raws, source="orders-dlq")
    await engine.open()
    async for _ in engine.load():
        pass
    rows = list(engine.visible_rows())
    assert len(rows) == 6
    result = export_rows(engine, rows, tmp_path / "e.jsonl")
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert result.records == 6
    assert {(r.partition, r.offset, r.key, r.value, r.headers) for r in map(parse_line, lines)} == {
        (r.partition, r.offset, r.key, r.value, r.headers) for r in raws
    }
    assert json.loads(lines[0])["topic"] == "orders-dlq"
    one = clipboard_text(engine, rows[:1])
    assert one == lines[0] and "\n" not in one
    assert clipboard_text(engine, rows[:2]) == lines[0] + "\n" + lines[1] + "\n"
    await engine.close()
