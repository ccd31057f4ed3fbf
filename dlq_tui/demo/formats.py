"""Demo records in the other registry formats: one Protobuf and one JSON Schema record, next to the
Avro ones (same topic, so the DLQ shows what a mixed DLQ looks like)."""

from __future__ import annotations

import json
import struct
from typing import Any

from google.protobuf import message_factory

from dlq_tui.decode.protobuf import ProtoSchema
from dlq_tui.decode.registry import SchemaRegistry
from dlq_tui.decode.wire import encode_message_indexes
from dlq_tui.demo.data import FAILURES, DemoRecord, spring_headers

__all__ = ["JSON_SCHEMA", "PROTO_SCHEMA", "format_records", "register_format_schemas"]

PROTO_SCHEMA = """\
syntax = "proto3";
package com.flyeralarm.crm;

import "google/protobuf/timestamp.proto";

message OrderCanceled {
  string order_number = 1;
  Reason reason = 2;
  Customer customer = 3;
  repeated string items = 4;
  google.protobuf.Timestamp canceled_at = 5;

  message Customer {
    string name = 1;
    int64 id = 2;
  }
  enum Reason {
    REASON_UNSPECIFIED = 0;
    TOO_LARGE_QUANTITY = 1;
    WRONG_PRODUCT = 2;
    NOT_WANTED = 3;
  }
}
"""

JSON_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "OrderCanceled",
    "type": "object",
    "properties": {
        "orderNumber": {"type": "string", "pattern": "^ORD"},
        "reason": {"type": "string"},
        "quantity": {"type": "integer", "minimum": 1},
    },
    "required": ["orderNumber", "reason"],
}


def register_format_schemas(registry: SchemaRegistry, dlq_topic: str) -> tuple[int, int]:
    """Register the Protobuf and the JSON Schema (record-name subjects, as a DLQ of several
    record types has them); returns their ids."""
    proto_id = registry.register(f"{dlq_topic}-com.flyeralarm.crm.OrderCanceled", PROTO_SCHEMA, "PROTOBUF")
    json_id = registry.register(f"{dlq_topic}-OrderCanceled-json", json.dumps(JSON_SCHEMA), "JSON")
    return proto_id, json_id


def _wire(schema_id: int) -> bytes:
    return b"\x00" + struct.pack(">i", schema_id)


def format_records(proto_id: int, json_id: int, *, ts: int) -> list[DemoRecord]:
    """A Protobuf record, a JSON Schema record, and a JSON Schema record that does not validate."""
    message_cls = message_factory.GetMessageClass(ProtoSchema.compile(PROTO_SCHEMA).message_type((0,)))
    order = message_cls(order_number="ORD-PROTO", reason=2, items=["flyer A5", "poster A1"])
    order.customer.name = "Bob"
    order.customer.id = 4_200_000_001
    order.canceled_at.FromMilliseconds(ts - 90_000)
    proto_value = _wire(proto_id) + encode_message_indexes((0,)) + order.SerializeToString()
    valid = {"orderNumber": "ORD-JSON", "reason": "Delivery date too late", "quantity": 500}
    invalid = {"orderNumber": "ORD-JSON-BAD", "reason": "Duplicate order", "quantity": 0}
    failure = FAILURES[1]
    return [
        DemoRecord(0, b"ORD-PROTO", proto_value, ts, spring_headers(0, 103, ts, failure), "Protobuf value"),
        DemoRecord(
            1, b"ORD-JSON", _wire(json_id) + json.dumps(valid).encode(), ts + 1,
            spring_headers(1, 104, ts, failure), "JSON Schema value",
        ),
        DemoRecord(
            2, b"ORD-JSON-BAD", _wire(json_id) + json.dumps(invalid).encode(), ts + 2,
            spring_headers(2, 105, ts, failure), "JSON Schema value that does not validate (quantity 0)",
        ),
    ]  # fmt: skip
