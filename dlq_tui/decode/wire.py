"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the serialized payload."""

from __future__ import annotations

MAGIC_BYTE = 0
HEADER_SIZE = 5

__all__ = ["HEADER_SIZE", "MAGIC_BYTE", "is_wire_format", "split_wire", "wire_schema_id"]


def wire_schema_id(data: bytes | None) -> int | None:
    """The schema id if `data` starts with a Confluent wire-format header, else None.

    Only the framing is checked (magic byte and length); whether the id exists is the registry's
    business. An empty payload after the header is allowed (some Avro values encode to 0 bytes).
    """
    if data is None or len(data) < HEADER_SIZE or data[0] != MAGIC_BYTE:
        return None
    return int.from_bytes(data[1:HEADER_SIZE], "big")


def is_wire_format(data: bytes | None) -> bool:
    return wire_schema_id(data) is not None


def split_wire(data: bytes | None) -> tuple[int, bytes] | None:
    """``(schema_id, payload)`` for wire-format data, else None."""
    schema_id = wire_schema_id(data)
    if schema_id is None or data is None:
        return None
    return schema_id, data[HEADER_SIZE:]
