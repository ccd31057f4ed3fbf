"""Protobuf payload decoding: the message the index array selects, parsed and shown with the
proto3 JSON mapping.

Field names are shown as written in the schema (``customer_name``, not ``customerName``), so a
filter uses the names the schema uses; fields left at their default are shown too (``0``, ``""``,
the first enum value), so what the producer sent in full is visible. The rest is the standard
proto3 JSON mapping: 64-bit integers as strings, bytes as base64, enums by name, Timestamp /
Duration as RFC 3339 text, wrappers as their value, Struct as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.unknown_fields import UnknownFieldSet

__all__ = ["ProtoCompileError", "ProtoSchema", "ProtobufDecodeError", "unknown_fields_note"]


class ProtoCompileError(ValueError):
    """The schema text cannot be turned into descriptors (one line, for the user)."""


class ProtobufDecodeError(ValueError):
    """The bytes are not a message of the schema (one line, for the user)."""


@dataclass(frozen=True, slots=True)
class ProtoSchema:
    """A compiled Protobuf schema (one registry schema with its references)."""

    pool: Any
    file: Any
    _classes: dict[tuple[int, ...], tuple[Any, Any]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def compile(cls, text: str, references: Mapping[str, str] = {}) -> ProtoSchema:
        """Raises `ProtoCompileError`."""
        # The schema parser (ANTLR) is imported when a Protobuf schema is first met: ~0.2 s.
        from .proto_compile import compile_files

        pool, file = compile_files(text, references)
        return cls(pool, file)

    def message_type(self, indexes: tuple[int, ...]) -> Any:
        """The message descriptor the Confluent message-index array names: the first index
        into the file's top-level messages, each further one into the nested messages (in
        declaration order, enums and map entries not counted)."""
        candidates = list(self.file.message_types_by_name.values())
        descriptor: Any = None
        for index in indexes:
            if not 0 <= index < len(candidates):
                where = "the schema" if descriptor is None else f"message {descriptor.full_name}"
                raise ProtobufDecodeError(
                    f"message index {list(indexes)} names no message ({where} has {len(candidates)})"
                )
            descriptor = candidates[index]
            # Messages as declared: map entries (synthetic nested types) do not count, as in
            # Confluent's Java serializers, which index the schema text's message declarations.
            candidates = [t for t in descriptor.nested_types if not t.GetOptions().map_entry]
        if descriptor is None:
            raise ProtobufDecodeError("empty message index array")
        return descriptor

    def decode(self, payload: bytes, indexes: tuple[int, ...] = (0,)) -> tuple[Any, str, str | None]:
        """``(JSON-able value, message full name, note)``; the note counts unknown fields
        (bytes the schema has no field for). Raises `ProtobufDecodeError`."""
        value, name, msg = self.parse(payload, indexes)
        return value, name, unknown_fields_note(msg)

    def parse(self, payload: bytes, indexes: tuple[int, ...] = (0,)) -> tuple[Any, str, Any]:
        """``(JSON-able value, message full name, the parsed message)`` (for a later
        `unknown_fields_note`). Raises `ProtobufDecodeError`."""
        hit = self._classes.get(indexes)
        if hit is None:
            descriptor = self.message_type(indexes)
            hit = self._classes[indexes] = (descriptor, message_factory.GetMessageClass(descriptor))
        descriptor, cls = hit
        msg = cls()
        try:
            msg.ParseFromString(payload)
        except Exception as exc:  # DecodeError, RecursionError, ...
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ProtobufDecodeError(f"not a {descriptor.full_name}: {reason}"[:200]) from None
        try:
            value = json_format.MessageToDict(
                msg,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
                descriptor_pool=self.pool,
            )
        except Exception as exc:  # e.g. an Any of a type the schema does not know
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ProtobufDecodeError(
                f"{descriptor.full_name} cannot be shown as JSON: {reason}"[:200]
            ) from None
        return value, descriptor.full_name, msg


def unknown_fields_note(msg: Any) -> str | None:
    """A note when `msg` (or a message in it) holds fields its schema does not know, else None."""
    try:
        unknown = _unknown_count(msg)
    except Exception:  # only a note: never fail the decoding for it
        return None
    return f"{unknown} unknown field(s) not in {msg.DESCRIPTOR.full_name}" if unknown else None


def _unknown_count(msg: Any, depth: int = 0) -> int:
    """Unknown fields in `msg` and its set sub-messages."""
    if depth > 32:
        return 0
    count = len(UnknownFieldSet(msg))
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            items = value.values() if fd.message_type.fields_by_name["value"].message_type else ()
        elif fd.is_repeated:
            items = value
        else:
            items = (value,)
        for item in items:
            count += _unknown_count(item, depth + 1)
    return count
