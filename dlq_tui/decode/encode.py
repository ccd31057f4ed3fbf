"""Re-encoding an edited value with the record's own format and schema (edit-then-merge).

The engineer edits the decoded value (pretty JSON, or text); `reencode` turns the edited text back
into bytes framed like the original: Avro, Protobuf (the same message-index array) or JSON Schema
(validated) with the same registry schema id, plain JSON, or UTF-8 text. Values that were not
decoded cannot be edited. `ENCODERS` maps the registry's schema type to its encoder.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastavro import schemaless_writer
from fastavro.validation import ValidationError, validate
from google.protobuf import json_format, message_factory

from .avro import BYTES_PREFIX
from .formats import Decoded
from .json_schema import JsonSchema
from .protobuf import ProtoSchema
from .registry import GuidSchemaSource, RegisteredSchema, RegistryError, SchemaSource
from .wire import HEADER_SIZE, SchemaRef, WireError, read_message_indexes, wire_schema_id

__all__ = ["ENCODERS", "EditError", "Edited", "editable_text", "field_diff", "reencode"]


class EditError(ValueError):
    """The edit cannot be encoded (not JSON, not valid against the schema, ...); nothing is staged."""


@dataclass(frozen=True)
class Edited:
    """An edited value, encoded: the new bytes, what changed, and the sizes."""

    value: bytes
    diff: list[str]
    old_size: int
    new_size: int

    def summary(self) -> str:
        return f"{len(self.diff)} field change(s), {self.old_size} -> {self.new_size} bytes"


def editable_text(decoded: Decoded) -> str:
    """What the editor opens: pretty JSON for Avro/Protobuf/JSON values, the text for text values."""
    if decoded.structured:
        return json.dumps(decoded.data, indent=2, ensure_ascii=False) + "\n"
    if decoded.kind == "text" and decoded.error is None:
        return decoded.text
    reason = decoded.error or f"it is shown as {decoded.kind}"
    raise EditError(f"this value cannot be edited: it was not decoded ({reason})")


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EditError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


# -- Avro ---------------------------------------------------------------------------------------


def _named(schema: Any) -> dict[str, Any]:
    """Named types of a fastavro-parsed schema, by full name (for references by name)."""
    out: dict[str, Any] = {}

    def walk(s: Any) -> None:
        if isinstance(s, list):
            for branch in s:
                walk(branch)
        elif isinstance(s, dict):
            name = s.get("name")
            if isinstance(name, str) and s.get("type") in ("record", "enum", "fixed", "error"):
                if name in out:
                    return
                out[name] = s
            for f in s.get("fields", []):
                walk(f.get("type"))
            for k in ("items", "values"):
                if k in s:
                    walk(s[k])

    walk(schema)
    return out


def _from_json(value: Any, schema: Any, named: dict[str, Any]) -> Any:
    """Undo `avro.to_jsonable` guided by the schema: ``hex:`` strings back to bytes, ISO strings back
    to dates and times, decimal strings back to Decimal. Unknown shapes are passed through for
    fastavro's validation to judge."""
    if isinstance(schema, str):
        schema = named.get(schema, schema)
    if isinstance(schema, list):  # union: the first branch that validates
        for branch in schema:
            try:
                candidate = _from_json(value, branch, named)
                if validate(
                    candidate,
                    branch if not isinstance(branch, str) else named.get(branch, branch),
                    raise_errors=False,
                ):
                    return candidate
            except Exception:  # a branch that does not fit: try the next one
                continue
        return value
    if isinstance(schema, dict):
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if kind in ("record", "error") and isinstance(value, dict):
            fields = schema.get("fields", [])
            unknown = sorted(set(value) - {f["name"] for f in fields})
            if unknown:  # a typo would otherwise be dropped silently
                raise ValueError(f"unknown field(s) {', '.join(unknown)} in record {schema.get('name')}")
            return {
                f["name"]: _from_json(value[f["name"]], f["type"], named)
                for f in fields
                if f["name"] in value
            }
        if kind == "array" and isinstance(value, list):
            return [_from_json(v, schema["items"], named) for v in value]
        if kind == "map" and isinstance(value, dict):
            return {k: _from_json(v, schema["values"], named) for k, v in value.items()}
        if isinstance(value, str):
            if logical == "decimal":
                return decimal.Decimal(value)
            if logical in (
                "timestamp-millis",
                "timestamp-micros",
                "local-timestamp-millis",
                "local-timestamp-micros",
            ):
                return _dt.datetime.fromisoformat(value)
            if logical == "date":
                return _dt.date.fromisoformat(value)
            if logical in ("time-millis", "time-micros"):
                return _dt.time.fromisoformat(value)
            if logical == "uuid":
                return str(uuid.UUID(value))
        if isinstance(kind, (str, dict, list)) and kind not in (
            "record",
            "error",
            "array",
            "map",
            "enum",
            "fixed",
        ):
            return _from_json(value, kind, named)
        if kind == "fixed":
            return _bytes_of(value)
        return value
    if schema == "bytes":
        return _bytes_of(value)
    return value


def _bytes_of(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(BYTES_PREFIX):
        return bytes.fromhex(value[len(BYTES_PREFIX) :])
    return value


def _prefix(decoded: Decoded) -> bytes:
    """The framing before the payload in the original bytes: the Confluent wire-format header when
    the value carries its schema id, nothing when the id came in a header (``__value_schema_id``)."""
    raw = decoded.raw or b""
    return raw[:HEADER_SIZE] if wire_schema_id(raw) == decoded.schema_id else b""


def _encode_avro(data: Any, schema: RegisteredSchema, decoded: Decoded) -> bytes:
    what = f"schema {decoded.schema_id}"
    parsed = schema.parsed
    named = _named(parsed)
    try:
        datum = _from_json(data, parsed, named)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise EditError(f"not valid for {what}: {exc}") from None
    try:
        validate(datum, parsed, raise_errors=True, strict=True)
    except ValidationError as exc:
        reasons = "; ".join(" ".join(str(e).split()) for e in exc.errors)[:300]
        raise EditError(f"not valid for {what}: {reasons}") from None
    out = io.BytesIO()
    try:
        schemaless_writer(out, parsed, datum)
    except Exception as exc:  # fastavro's writer errors are plain exceptions
        raise EditError(f"cannot encode for {what}: {type(exc).__name__}: {exc}") from None
    return _prefix(decoded) + out.getvalue()


def _encode_json_schema(data: Any, schema: RegisteredSchema, decoded: Decoded) -> bytes:
    if isinstance(schema.parsed, JsonSchema):
        problem = schema.parsed.problem(data)
        if problem is not None:
            raise EditError(f"not valid for schema {decoded.schema_id}: {problem}")
    return _prefix(decoded) + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _encode_protobuf(data: Any, schema: RegisteredSchema, decoded: Decoded) -> bytes:
    """The same message type (the original's message-index array, kept byte for byte) from the
    edited JSON (protobuf's JSON mapping, field names as shown)."""
    proto = schema.parsed
    if not isinstance(proto, ProtoSchema):
        raise EditError(f"schema {decoded.schema_id}: the Protobuf schema did not compile")
    raw = decoded.raw or b""
    if not _prefix(decoded):  # the schema id and message index came in a record header
        raise EditError("a Protobuf value whose schema id is in a header cannot be edited yet")
    try:
        indexes, start = read_message_indexes(raw, HEADER_SIZE)
    except WireError as exc:
        raise EditError(f"the original's message index: {exc}") from None
    try:
        descriptor = proto.message_type(indexes)
        message = message_factory.GetMessageClass(descriptor)()
        json_format.ParseDict(data, message, descriptor_pool=proto.pool)
        payload: bytes = message.SerializeToString()
    except Exception as exc:  # ParseError, ProtobufDecodeError, ...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise EditError(f"not valid for schema {decoded.schema_id}: {reason}"[:300]) from None
    return raw[:start] + payload


Encoder = Callable[[Any, RegisteredSchema, Decoded], bytes]
ENCODERS: dict[str, Encoder] = {
    "AVRO": _encode_avro,
    "JSON": _encode_json_schema,
    "PROTOBUF": _encode_protobuf,
}
"""Registry schema type -> encoder of edited (JSON-parsed) data, framed like the original."""


def _schema(schema_id: SchemaRef, registry: SchemaSource | None) -> RegisteredSchema:
    if registry is None:
        raise EditError(f"schema id {schema_id}: no schema registry configured")
    try:
        if isinstance(schema_id, int):
            return registry.get_schema(schema_id)
        if isinstance(registry, GuidSchemaSource):
            return registry.get_schema_by_guid(schema_id)
    except RegistryError as exc:
        raise EditError(f"schema id {schema_id}: {exc.message}") from None
    raise EditError(f"schema {schema_id}: this schema source does not resolve schema GUIDs")


def reencode(decoded: Decoded, text: str, registry: SchemaSource | None) -> Edited:
    """Encode the edited `text` like the original value `decoded` (its raw bytes and format).
    Raises `EditError` with the reason; never returns bytes that do not decode with the schema."""
    old = decoded.raw or b""
    if decoded.kind == "text":
        if decoded.error is not None:
            raise EditError(f"this value cannot be edited: {decoded.error}")
        if text.endswith("\n") and not old.endswith(b"\n"):
            text = text[:-1]  # the newline an editor adds at the end of the file
        new = text.encode()
        diff = [] if new == old else [f"~ (text) {len(old)} -> {len(new)} bytes"]
        return Edited(new, diff, len(old), len(new))
    if not decoded.structured:
        editable_text(decoded)  # raises with the reason
    data = _parse_json(text)
    schema_id = decoded.schema_id
    if schema_id is None:
        new = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    else:
        schema = _schema(schema_id, registry)
        encoder = ENCODERS.get(schema.schema_type)
        if encoder is None:
            raise EditError(f"schema {schema_id} is {schema.schema_type}: editing it is not supported")
        new = encoder(data, schema, decoded)
    return Edited(new, field_diff(decoded.data, data), len(old), len(new))


def field_diff(old: Any, new: Any, path: str = "") -> list[str]:
    """Changed fields as lines: ``~ path: old -> new``, ``+ path: new``, ``- path: old``."""

    def show(v: Any) -> str:
        text = json.dumps(v, ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + "..."

    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in new:
                out.append(f"- {sub}: {show(old[k])}")
            elif k not in old:
                out.append(f"+ {sub}: {show(new[k])}")
            else:
                out += field_diff(old[k], new[k], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += field_diff(a, b, f"{path}[{i}]")
        return out
    if old == new and type(old) is type(new):
        return []
    return [f"~ {path or '(value)'}: {show(old)} -> {show(new)}"]
