"""A record whose schema is still being fetched is *pending*, shown with a neutral placeholder, not
as undecodable; it repaints decoded when the schema arrives (issue 12, item 3). In-memory engine."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastavro import parse_schema

from dlq_tui.decode.registry import RegisteredSchema
from dlq_tui.demo.data import order_canceled_schema, wire_avro
from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.records import RawRecord
from dlq_tui.tui.app import DlqApp
from tests.tuikit import screen_text, wait_loaded, wait_until


def _schema() -> RegisteredSchema:
    schema = order_canceled_schema()
    return RegisteredSchema(7, "AVRO", json.dumps(schema), parse_schema(schema), "orders-dlq-value")


def _records() -> list[RawRecord]:
    datum = {"orderNumber": "ORD-P1", "reason": "Wrong product"}
    return [RawRecord(0, o, 1_793_610_000_000, 0, f"ORD{o}".encode(), wire_avro(7, datum)) for o in range(3)]


async def test_a_schema_being_fetched_shows_pending_then_the_decoded_value() -> None:
    gate = asyncio.Event()
    app = DlqApp(MemoryEngine(_records(), pending_schemas={7: _schema()}, schema_gate=gate))
    async with app.run_test(size=(120, 40)) as pilot:
        screen: Any = app.screen_stack[0]
        await wait_until(pilot, lambda: "schema id 7 loading" in screen_text(app))
        first = screen_text(app)
        assert "undecodable" not in first and "cannot decode" not in first and "⚠" not in first
        gate.set()
        await wait_loaded(pilot)
        await wait_until(pilot, lambda: "Wrong product" in screen_text(app))
        text = screen_text(app)
        assert "loading" not in text.split("Snapshot")[0]
        assert screen.engine.decoded(0).value.kind == "avro"


async def test_a_schema_that_cannot_be_had_is_a_failure_not_pending() -> None:
    app = DlqApp(MemoryEngine(_records()))  # id 7 unknown to the registry
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        await wait_until(pilot, lambda: "undecodable" in screen_text(app))
        assert "cannot decode" in screen_text(app)
