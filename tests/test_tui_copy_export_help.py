"""Copy (`y`), export (`w`), the filter help and stack traces in the detail pane — issue 12's app
parts — on the in-memory engine (no broker)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.record_json import StoredRecord, parse_record
from dlq_tui.triage.records import RawRecord
from dlq_tui.tui.app import DlqApp
from tests.tuikit import screen_text, wait_loaded, wait_until

TRACE = (
    "org.springframework.kafka.listener.ListenerExecutionFailedException: Listener failed\n"
    "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer.decorate(KafkaMessageListenerContainer.java:2869)\n"
    "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer.invoke(KafkaMessageListenerContainer.java:2814)\n"
    "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer.doInvoke(KafkaMessageListenerContainer.java:2777)\n"
    "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer.run(KafkaMessageListenerContainer.java:1300)\n"
    "Caused by: com.example.orders.ManufacturingTimeoutException: Timeout waiting for manufacturing\n"
    "\tat com.example.orders.CancelHandler.cancel(CancelHandler.java:42)\n"
    "\tat java.base/java.lang.Thread.run(Thread.java:840)\n"
)


def _records() -> list[RawRecord]:
    headers = (
        ("kafka_dlt-exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
        ("kafka_dlt-exception-message", b"Listener failed"),
        ("kafka_dlt-exception-stacktrace", TRACE.encode()),
        ("binary", bytes(range(8))),
    )
    return [
        RawRecord(
            0, o, 1_793_610_000_000 + o, 0, f"ORD{o:03d}".encode(), json.dumps({"n": o}).encode(), headers
        )
        for o in range(30)
    ]


def parse_record_line(line: str) -> StoredRecord:
    return parse_record(json.loads(line))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


async def test_y_copies_the_cursor_record_as_print_json() -> None:
    engine = MemoryEngine(_records())
    app = DlqApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("j", "y")
        copied = app.clipboard
        record = parse_record_line(copied)
        assert (record.partition, record.offset, record.key) == (0, 1, b"ORD001")
        assert dict(record.headers)["binary"] == bytes(range(8)), "binary headers survive the copy"
        assert "copied 1 record(s)" in screen_text(app)


async def test_y_copies_the_selection_as_jsonl() -> None:
    app = DlqApp(MemoryEngine(_records()))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("space", "space", "space", "y")
        lines = app.clipboard.splitlines()
        assert [parse_record_line(line).offset for line in lines] == [0, 1, 2]


async def test_w_exports_the_filter_matches_and_never_overwrites_without_asking(tmp_path: Path) -> None:
    app = DlqApp(MemoryEngine(_records()))
    async with app.run_test(size=(120, 40)) as pilot:
        screen: Any = await wait_loaded(pilot)
        await pilot.press("slash", *"offset:10..14", "enter")
        await wait_until(pilot, lambda: screen.table.filter_text == "offset:10..14")
        target = tmp_path / "out.jsonl"
        target.write_text("keep me\n")
        await pilot.press("w")
        await wait_until(pilot, lambda: "Export 5 records" in screen_text(app))
        field = app.screen.query_one("#export-path")
        field.value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: "again to overwrite" in screen_text(app))
        assert target.read_text() == "keep me\n"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "exported 5 records" in screen_text(app))
    offsets = [parse_record_line(line).offset for line in target.read_text().splitlines()]
    assert offsets == [10, 11, 12, 13, 14]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


async def test_w_default_path_is_a_new_file_in_the_current_directory(tmp_path: Path) -> None:
    app = DlqApp(MemoryEngine(_records()))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("w")
        await wait_until(pilot, lambda: "Export 30 records" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "exported 30 records" in screen_text(app))
    [written] = list(tmp_path.glob("orders-dlq-*.jsonl"))
    assert len(written.read_text().splitlines()) == 30


async def test_help_shows_the_filter_syntax_inside_the_app() -> None:
    app = DlqApp(MemoryEngine(_records()))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("slash", "f1")
        await wait_until(pilot, lambda: "value.reason" in screen_text(app))
        assert "Filters" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("escape", "question_mark")
        await wait_until(
            pilot, lambda: "Keys" in screen_text(app) and "copy the cursor row" in screen_text(app)
        )


async def test_stack_trace_one_frame_per_line_own_frames_kept_framework_folded() -> None:
    app = DlqApp(MemoryEngine(_records()))
    async with app.run_test(size=(160, 60)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("d")  # large detail
        await wait_until(pilot, lambda: "Stack trace" in screen_text(app))
        text = screen_text(app)
        lines = text.splitlines()
        assert any(
            line.strip().startswith("at com.example.orders.CancelHandler.cancel(CancelHandler.java:42)")
            for line in lines
        )
        assert not any(line.strip() == "at" for line in lines), "no ` at` alone on a line"
        assert "… 2 framework frames" in text
        assert "Caused by: com.example.orders.ManufacturingTimeoutException" in text
