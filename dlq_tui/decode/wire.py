"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the serialized payload
(for Protobuf, the message-index array first). Schema ids may instead travel in record headers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

MAGIC_BYTE = 0
HEADER_SIZE = 5

__all__ = [
    "HEADER_SIZE",
    "KEY_SCHEMA_ID_HEADER",
    "MAGIC_BYTE",
    "MAGIC_BYTE_GUID",
    "VALUE_SCHEMA_ID_HEADER",
    "SchemaRef",
    "WireError",
    "encode_message_indexes",
    "header_schema_ref",
    "is_wire_format",
    "read_message_indexes",
    "schema_refs",
    "split_wire",
    "wire_schema_id",
]


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


# -- Protobuf message indexes and schema ids in headers -------------------------------------------

MAGIC_BYTE_GUID = 1
GUID_SIZE = 16
KEY_SCHEMA_ID_HEADER = "__key_schema_id"
VALUE_SCHEMA_ID_HEADER = "__value_schema_id"
_MAX_INDEXES = 64  # a message nested deeper than this is not a real schema


class WireError(ValueError):
    """Framing that cannot be read (one line, for the user)."""


def _zigzag_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag-encoded varint at ``data[pos:]``: ``(value, position after it)``."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("message index array cut short")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise WireError("message index varint too long")
    return (value >> 1) ^ -(value & 1), pos


def read_message_indexes(data: bytes, pos: int) -> tuple[tuple[int, ...], int]:
    """The Protobuf message-index array at ``data[pos:]`` (Confluent: zigzag varint count, then
    that many zigzag varint indexes; a count of 0 means ``(0,)``, the first message).
    Returns ``(indexes, position after the array)``; raises `WireError`."""
    count, pos = _zigzag_varint(data, pos)
    if count == 0:
        return (0,), pos
    if count < 0 or count > _MAX_INDEXES:
        raise WireError(f"message index array of length {count} is not plausible")
    indexes = []
    for _ in range(count):
        index, pos = _zigzag_varint(data, pos)
        if index < 0:
            raise WireError(f"negative message index {index}")
        indexes.append(index)
    return tuple(indexes), pos


def encode_message_indexes(indexes: tuple[int, ...] | list[int]) -> bytes:
    """The Confluent encoding of a message-index array (``b"\\x00"`` for the first message)."""
    if tuple(indexes) == (0,):
        return b"\x00"
    out = bytearray()
    for value in (len(indexes), *indexes):
        v = (value << 1) ^ (value >> 63)
        while v & ~0x7F:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
    return bytes(out)


SchemaRef = int | str
"""A registry schema id (int) or a Confluent Schema Registry 8 GUID (str, canonical UUID form)."""


def header_schema_ref(value: bytes | None) -> tuple[SchemaRef, int] | None:
    """The schema reference in a ``__key_schema_id`` / ``__value_schema_id`` header value:
    ``(id or GUID, length of the id part)``; the rest of the value is the Protobuf message-index
    array when the schema is Protobuf. Magic byte 1 + 16-byte GUID (what Confluent's serializers
    write), or magic byte 0 + 4-byte id. None when the value is neither."""
    if value is None or not value:
        return None
    if value[0] == MAGIC_BYTE_GUID and len(value) >= 1 + GUID_SIZE:
        return str(uuid.UUID(bytes=bytes(value[1 : 1 + GUID_SIZE]))), 1 + GUID_SIZE
    if value[0] == MAGIC_BYTE and len(value) >= HEADER_SIZE:
        return int.from_bytes(value[1:HEADER_SIZE], "big"), HEADER_SIZE
    return None


def schema_refs(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]] = ()
) -> set[SchemaRef]:
    """The registry schemas a record names: wire-format prefixes of key and value, and schema id
    headers (for prefetching them)."""
    refs: set[SchemaRef] = set()
    for data in (key, value):
        schema_id = wire_schema_id(data)
        if schema_id is not None:
            refs.add(schema_id)
    for name, hvalue in headers:
        if name in (KEY_SCHEMA_ID_HEADER, VALUE_SCHEMA_ID_HEADER):
            ref = header_schema_ref(hvalue)
            if ref is not None:
                refs.add(ref[0])
    return refs
