"""The demo DLQ with no Kafka at all: the records `make demo` seeds (Avro, Protobuf, JSON Schema,
every DLQ header convention, the poison ones) on the in-memory engine, for `dlq-tui demo-offline` —
to try the app anywhere — and for screenshots. Nothing it "commits" goes anywhere."""

from __future__ import annotations

import json
import time

from fastavro import parse_schema

from dlq_tui.decode.json_schema import JsonSchema
from dlq_tui.decode.protobuf import ProtoSchema
from dlq_tui.decode.registry import RegisteredSchema
from dlq_tui.demo.conventions import demo_convention_records
from dlq_tui.demo.data import (
    DLQ_TOPIC,
    GROUP,
    PARTITIONS,
    RETRY_TOPIC,
    DemoRecord,
    demo_records,
    order_canceled_schema,
)
from dlq_tui.demo.formats import JSON_SCHEMA, PROTO_SCHEMA, format_records
from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.records import RawRecord

__all__ = ["offline_engine", "offline_records", "offline_schemas"]

AVRO_ID, PROTO_ID, JSON_ID = 1, 2, 3


def offline_schemas() -> dict[int, RegisteredSchema]:
    avro = order_canceled_schema()
    return {
        AVRO_ID: RegisteredSchema(
            AVRO_ID, "AVRO", json.dumps(avro), parse_schema(avro), f"{DLQ_TOPIC}-value"
        ),
        PROTO_ID: RegisteredSchema(
            PROTO_ID,
            "PROTOBUF",
            PROTO_SCHEMA,
            ProtoSchema.compile(PROTO_SCHEMA),
            f"{DLQ_TOPIC}-com.flyeralarm.crm.OrderCanceled",
        ),
        JSON_ID: RegisteredSchema(
            JSON_ID,
            "JSON",
            json.dumps(JSON_SCHEMA),
            JsonSchema.compile(json.dumps(JSON_SCHEMA)),
            f"{DLQ_TOPIC}-OrderCanceled-json",
        ),
    }


def offline_records(count: int = 300, *, now_ms: int | None = None, conventions: int = 6) -> list[RawRecord]:
    """The demo records with the offsets a fresh topic would give them (per partition, in order)."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    demo: list[DemoRecord] = demo_records(AVRO_ID, count=count, now_ms=now)
    demo += format_records(PROTO_ID, JSON_ID, ts=demo[-1].timestamp + 1)
    if conventions:
        demo += demo_convention_records(conventions, demo[-1].timestamp + 1, PARTITIONS)
    offsets = [0] * PARTITIONS
    out = []
    for r in demo:
        out.append(
            RawRecord(r.partition, offsets[r.partition], r.timestamp, 0, r.key, r.value, tuple(r.headers))
        )
        offsets[r.partition] += 1
    return out


def offline_engine(count: int = 300, *, now_ms: int | None = None) -> MemoryEngine:
    """The demo DLQ on the in-memory engine (a compacted DLQ, as `make demo` makes it)."""
    return MemoryEngine(
        offline_records(count, now_ms=now_ms),
        source=DLQ_TOPIC,
        destination=RETRY_TOPIC,
        group=GROUP,
        compacted=True,
        destination_compacted=True,
        schemas=offline_schemas(),
    )
