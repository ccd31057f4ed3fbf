"""Re-encoding an edited value with the record's own format and schema (edit-then-merge).

The engineer edits the decoded value (pretty JSON, or text); `reencode` turns the edited text back
into bytes in the original's wire format: Avro with the same registry schema id (Confluent wire
format), JSON (with the same framing and schema id when it had one), or UTF-8 text. Formats that
are not decoded cannot be edited. Protobuf and JSON Schema validation plug in through `ENCODERS`
(keyed by the registry's schema type) once `decode/` supports them.
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

from .avro import BYTES_PREFIX
from .formats import Decoded
from .registry import RegisteredSchema, RegistryError, SchemaSource
from .wire import MAGIC_BYTE

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
    """What the editor opens: pretty JSON for Avro/JSON values, the text for text values."""
    if decoded.kind in ("avro", "json"):
        return json.dumps(decoded.data, indent=2, ensure_ascii=False) + "\n"
    if decoded.kind == "text" and decoded.error is None:
        return decoded.text
    reason = decoded.error or f"it is shown as {decoded.kind}"
    raise EditError(f"this value cannot be edited: it was not decoded ({reason})")


def _wire(schema_id: int, payload: bytes) -> bytes:
    return bytes([MAGIC_BYTE]) + schema_id.to_bytes(4, "big") + payload


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


def _encode_avro(data: Any, schema: RegisteredSchema, schema_id: int) -> bytes:
    parsed = schema.parsed
    named = _named(parsed)
    try:
        datum = _from_json(data, parsed, named)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise EditError(f"not valid for schema {schema_id}: {exc}") from None
    try:
        validate(datum, parsed, raise_errors=True, strict=True)
    except ValidationError as exc:
        reasons = "; ".join(" ".join(str(e).split()) for e in exc.errors)[:300]
        raise EditError(f"not valid for schema {schema_id}: {reasons}") from None
    out = io.BytesIO()
    try:
        schemaless_writer(out, parsed, datum)
    except Exception as exc:  # fastavro's writer errors are plain exceptions
        raise EditError(f"cannot encode for schema {schema_id}: {type(exc).__name__}: {exc}") from None
    return _wire(schema_id, out.getvalue())


def _encode_json_schema(data: Any, schema: RegisteredSchema, schema_id: int) -> bytes:
    # Validation against the JSON Schema comes with wip/decode; the framing stays the same.
    return _wire(schema_id, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


Encoder = Callable[[Any, RegisteredSchema, int], bytes]
ENCODERS: dict[str, Encoder] = {"AVRO": _encode_avro, "JSON": _encode_json_schema}
"""Registry schema type -> encoder of edited (JSON-parsed) data. PROTOBUF registers here."""


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
    if decoded.kind not in ("avro", "json"):
        editable_text(decoded)  # raises with the reason
    data = _parse_json(text)
    schema_id = decoded.schema_id
    if schema_id is None:
        new = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    else:
        if registry is None:
            raise EditError(f"schema id {schema_id}: no schema registry configured")
        try:
            schema = registry.get_schema(schema_id)
        except RegistryError as exc:
            raise EditError(f"schema id {schema_id}: {exc.message}") from None
        encoder = ENCODERS.get(schema.schema_type)
        if encoder is None:
            raise EditError(f"schema {schema_id} is {schema.schema_type}: editing it is not supported yet")
        new = encoder(data, schema, schema_id)
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
