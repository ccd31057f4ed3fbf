"""Decode time per record for Avro, Protobuf and JSON Schema values (Confluent wire format).

Plain script, prints figures (no assertions):

    .venv/bin/python bench/bench_decode.py [--records N]

The same order (id, customer name, three lines, reason) in each format; schemas are compiled the
way the registry client compiles them and served from memory (no network in the timed part).
Each figure is the time `decode_bytes` (what the app and the filters call) takes per record, next
to a baseline from the same run: the bare library call on the payload (fastavro
``schemaless_reader``; protobuf ``ParseFromString``; ``json.loads``), so the ratio is dlq-tui's
own cost (framing, proto3 JSON mapping, validation, the result object).
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fastavro
from google.protobuf import json_format, message_factory

from dlq_tui.decode.formats import decode_bytes
from dlq_tui.decode.json_schema import JsonSchema
from dlq_tui.decode.protobuf import ProtoSchema
from dlq_tui.decode.registry import RegisteredSchema, RegistryError
from dlq_tui.decode.wire import encode_message_indexes

AVRO = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [{"name": "name", "type": "string"}]}},
        {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
            {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}},
        {"name": "reason", "type": "string"},
        {"name": "units", "type": "long"},
    ],
}  # fmt: skip
PROTO = """
syntax = "proto3";
message Order {
  string id = 1;
  Customer customer = 2;
  repeated Line lines = 3;
  string reason = 4;
  int64 units = 5;
  message Customer { string name = 1; }
  message Line { string sku = 1; int32 qty = 2; }
}
"""
JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "customer": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}}},
        "reason": {"type": "string"},
        "units": {"type": "integer"},
    },
    "required": ["id", "customer"],
}  # fmt: skip


class Schemas:
    def __init__(self) -> None:
        self.by_id = {
            1: RegisteredSchema(1, "AVRO", json.dumps(AVRO), fastavro.parse_schema(AVRO), "b-avro"),
            2: RegisteredSchema(2, "PROTOBUF", PROTO, ProtoSchema.compile(PROTO), "b-proto"),
            3: RegisteredSchema(3, "JSON", json.dumps(JSON_SCHEMA), JsonSchema.compile(json.dumps(JSON_SCHEMA)), "b-json"),
        }  # fmt: skip

    def get_schema(self, schema_id: int) -> RegisteredSchema:
        try:
            return self.by_id[schema_id]
        except KeyError:
            raise RegistryError(f"schema id {schema_id}: not found") from None


def order(i: int) -> dict[str, Any]:
    return {
        "id": f"ORD{i:08d}",
        "customer": {"name": f"Customer {i % 997}"},
        "lines": [{"sku": f"SKU-{i % 50}-{n}", "qty": n + 1} for n in range(3)],
        "reason": "Ordered the wrong product",
        "units": 2**40 + i,
    }


def payloads(n: int, schemas: Schemas) -> dict[str, list[bytes]]:
    parsed_avro = schemas.by_id[1].parsed
    proto: ProtoSchema = schemas.by_id[2].parsed
    cls = message_factory.GetMessageClass(proto.message_type((0,)))
    out: dict[str, list[bytes]] = {"avro": [], "protobuf": [], "json": []}
    for i in range(n):
        o = order(i)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed_avro, o)
        out["avro"].append(b"\x00" + struct.pack(">I", 1) + buf.getvalue())
        msg = cls(id=o["id"], reason=o["reason"], units=o["units"])
        msg.customer.name = o["customer"]["name"]
        for line in o["lines"]:
            msg.lines.add(sku=line["sku"], qty=line["qty"])
        out["protobuf"].append(
            b"\x00" + struct.pack(">I", 2) + encode_message_indexes((0,)) + msg.SerializeToString()
        )
        out["json"].append(b"\x00" + struct.pack(">I", 3) + json.dumps(o).encode())
    return out


def best_of(fns: list[Callable[[bytes], object]], data: list[bytes], rounds: int = 5) -> list[float]:
    """Microseconds per record of each of `fns`, best of `rounds`; the functions take turns in
    every round, so a busy machine slows them alike and the ratios hold."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            for d in data:
                fn(d)
            best[i] = min(best[i], time.perf_counter() - t)
    return [b / len(data) * 1e6 for b in best]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    args = ap.parse_args()
    schemas = Schemas()
    data = payloads(args.records, schemas)
    proto: ProtoSchema = schemas.by_id[2].parsed
    proto_cls = message_factory.GetMessageClass(proto.message_type((0,)))
    parsed_avro = schemas.by_id[1].parsed

    def bare_avro(d: bytes) -> object:
        return fastavro.schemaless_reader(io.BytesIO(d[5:]), parsed_avro, None)

    def bare_proto(d: bytes) -> object:
        m = proto_cls()
        m.ParseFromString(d[6:])
        return m

    def bare_json(d: bytes) -> object:
        return json.loads(d[5:])

    def proto_to_dict(d: bytes) -> object:
        m = proto_cls()
        m.ParseFromString(d[6:])
        return json_format.MessageToDict(
            m, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )

    for d in data.values():  # every payload decodes as its format
        assert decode_bytes(d[0], "auto", schemas).error is None
    print(
        f"decode time per record ({args.records} records of ~{len(data['json'][0])} bytes as JSON; best of 5, taking turns)"
    )
    print(f"{'format':<12} {'dlq-tui decode_bytes':<22} {'baseline (same run)':<52} ratio")
    for name, bare, label in (
        ("avro", bare_avro, "fastavro schemaless_reader"),
        ("protobuf", bare_proto, "protobuf ParseFromString"),
        ("protobuf", proto_to_dict, "ParseFromString + MessageToDict"),
        ("json", bare_json, "json.loads"),
    ):
        ours, base = best_of([lambda d: decode_bytes(d, "auto", schemas), bare], data[name])
        what = "json-schema" if name == "json" else name
        print(f"{what:<12} {ours:>8.1f} µs/record   {base:>8.1f} µs/record {label:<32} {ours / base:>6.1f}x")


if __name__ == "__main__":
    main()
