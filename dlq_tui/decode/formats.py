"""Format modes for keys and values, and the `Decoded` result.

Modes: ``auto`` (a schema id in a ``__key_schema_id``/``__value_schema_id`` header or the
Confluent wire format -> Avro, Protobuf or JSON Schema via the registry, else JSON, else UTF-8
text, else hex), ``avro`` (the registry's schema, whatever its type), ``json``, ``string``,
``bytes``. `decode_bytes` never raises: when the preferred decoding fails the result falls back
(to text or hex) and `Decoded.error` says why. docs/formats.md is the user's view of this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from .avro import AvroDecodeError, decode_avro
from .json_schema import JsonSchema
from .protobuf import ProtobufDecodeError, ProtoSchema, unknown_fields_note
from .registry import GuidSchemaSource, RegisteredSchema, RegistryError, SchemaPending, SchemaSource
from .wire import (
    HEADER_SIZE,
    MAGIC_BYTE,
    SchemaRef,
    WireError,
    header_schema_ref,
    read_message_indexes,
    wire_schema_id,
)

__all__ = [
    "Decoded",
    "DecodedKind",
    "Format",
    "decode_bytes",
    "hex_dump",
    "parse_format",
]

DecodedKind = Literal["avro", "protobuf", "json", "text", "hex", "null", "error"]


class Format(StrEnum):
    AUTO = "auto"
    AVRO = "avro"
    JSON = "json"
    STRING = "string"
    BYTES = "bytes"


def parse_format(name: str | Format) -> Format:
    """`name` as a `Format`; raises ValueError naming the valid choices."""
    try:
        return Format(str(name).strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in Format)
        raise ValueError(f"unknown format {name!r} (choose one of: {choices})") from None


DEFAULT_PRETTY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Decoded:
    """How one key or value is shown. Display only: `raw` is the untouched input.

    - `kind`: what `data`/`text` hold. ``avro``/``protobuf``/``json``: `data` is JSON-able,
      `text` compact JSON; ``text``: `text` is the string; ``hex``: `text` is lowercase hex of all
      the bytes;
      ``null``: the key/value is absent (`text` is ``""``); ``error``: an internal failure (`text`
      is hex, as for ``hex``).
    - `error`: why the preferred decoding failed (the result is then a fallback), or a note on a
      partial success (e.g. trailing bytes after an Avro datum); None when all went well.
    - `size`: length of the raw bytes (0 for null).
    - `pending`: the schema is still being fetched (decoding from the registry cache only): not a
      failure; `kind` is ``text`` and `text` a neutral placeholder (``… schema id 7 loading``).
    - `schema_type`: ``AVRO``/``PROTOBUF``/``JSON`` when a registry schema decoded it.
    - `schema_title`: the Protobuf message's full name, or the JSON Schema's title (or ``$id``).
    - `schema_id` is an int id, or a GUID (str) from a ``__key_schema_id``/``__value_schema_id``
      header.
    """

    kind: DecodedKind
    data: Any = None
    text: str = ""
    schema_id: SchemaRef | None = None
    subject: str | None = None
    error: str | None = None
    size: int = 0
    raw: bytes | None = field(default=None, repr=False, compare=False)
    pending: bool = False
    schema_type: str | None = None
    schema_title: str | None = None

    @property
    def structured(self) -> bool:
        return self.kind in _STRUCTURED

    def pretty(self, max_bytes: int = DEFAULT_PRETTY_BYTES) -> str:
        """Indented JSON for structured data, the text for text, a hex dump (offset, hex, ASCII
        columns; at most `max_bytes`) for bytes, ``(null)`` for null. Not terminal-sanitised."""
        if self.kind in _STRUCTURED:
            return json.dumps(self.data, indent=2, ensure_ascii=False)
        if self.kind == "text":
            return self.text
        if self.kind == "null":
            return "(null)"
        raw = self.raw if self.raw is not None else bytes.fromhex(self.text)
        return hex_dump(raw, max_bytes=max_bytes)


_STRUCTURED = frozenset(("avro", "protobuf", "json"))
NULL = Decoded("null")
_ERROR_SLOT: Any = Decoded.__dict__["error"]  # the slot that holds `error`


class _CheckedLater(Decoded):
    """A `Decoded` whose `error` (a JSON Schema validation note, Protobuf unknown fields) is
    worked out on first read: that check costs as much as the decoding or more, and a filter scan
    over a million records reads the data, never the note."""

    __slots__ = ("_check",)
    _check: Callable[[], str | None] | None

    def __init__(self, *args: Any, check: Callable[[], str | None] | None = None, **kwargs: Any) -> None:
        Decoded.__init__(self, *args, **kwargs)
        object.__setattr__(self, "_check", check)

    @property
    def error(self) -> str | None:
        check = self._check
        if check is not None:  # two threads may both validate: same answer
            _ERROR_SLOT.__set__(self, check())
            object.__setattr__(self, "_check", None)
        value: str | None = _ERROR_SLOT.__get__(self)
        return value

    @error.setter
    def error(self, value: str | None) -> None:
        _ERROR_SLOT.__set__(self, value)


def hex_dump(data: bytes, width: int = 16, max_bytes: int | None = None) -> str:
    """``hexdump -C`` style lines: 8-digit hex offset, hex bytes in two groups, ``|ascii|``."""
    shown = data if max_bytes is None else data[:max_bytes]
    half = width // 2
    lines = []
    for off in range(0, len(shown), width):
        chunk = shown[off : off + width]
        hex_part = chunk[:half].hex(" ")
        if len(chunk) > half:
            hex_part += "  " + chunk[half:].hex(" ")
        ascii_part = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{off:08x}  {hex_part:<{width * 3 + 1}} |{ascii_part}|")
    if len(shown) < len(data):
        lines.append(f"… {len(data) - len(shown)} more bytes")
    return "\n".join(lines)


# -- building blocks ---------------------------------------------------------------------------

_JSON_START = frozenset(b'{["-0123456789tfn')
_WS = frozenset(b" \t\r\n")
# Bytes that make "auto" call a payload binary rather than text: C0 controls other than TAB, LF, CR
# and ESC (coloured log text stays text), DEL, and C1 controls (UTF-8 \xc2\x80-\xc2\x9f).
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]|\xc2[\x80-\x9f]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for all: json.loads with keyword arguments builds a new JSONDecoder per call.
_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _as_hex(data: bytes, error: str | None = None, schema_id: SchemaRef | None = None) -> Decoded:
    return Decoded("hex", text=data.hex(), error=error, schema_id=schema_id, size=len(data), raw=data)


def _json_value(data: bytes, start: int = 0) -> tuple[Any, str] | str:
    """``(value, one-line text)`` if ``data[start:]`` is UTF-8 JSON, else the reason it is not."""
    i, n = start, len(data)
    while i < n and data[i] in _WS:
        i += 1
    if i == n:
        return "empty"
    if data[i] not in _JSON_START:
        return f"unexpected first byte 0x{data[i]:02x}"
    try:
        s = data[i:].decode() if i else data.decode()
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start + i}"
    try:
        value = _JSON.decode(s)
    except (ValueError, RecursionError) as exc:
        return " ".join(str(exc).split())[:200] or type(exc).__name__
    s = s.rstrip()
    if "\n" in s or "\r" in s:
        s = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value, s


def _printable_text(data: bytes) -> str | None:
    """`data` as text if it is valid UTF-8 without binary control bytes, else None."""
    if _BINARY.search(data) is not None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def _what(ref: SchemaRef) -> str:
    return f"schema GUID {ref}" if isinstance(ref, str) else f"schema id {ref}"


def _short(ref: SchemaRef) -> str:
    return f"schema GUID {ref}" if isinstance(ref, str) else f"schema {ref}"


def _with_schema(
    data: bytes,
    schema_id: SchemaRef,
    registry: SchemaSource | None,
    *,
    allow_unregistered_json: bool,
    start: int = HEADER_SIZE,
    indexes: bytes | None = None,
) -> Decoded:
    """Decode `data` from `start` with the registered schema `schema_id`; fall back to hex.
    `indexes` is the Protobuf message-index array when it is not in the payload (header ids)."""
    what = _what(schema_id)
    if registry is None:
        if allow_unregistered_json:
            parsed = _json_value(data, start)
            if isinstance(parsed, tuple):
                return Decoded("json", parsed[0], parsed[1], schema_id=schema_id, size=len(data), raw=data)
        return _as_hex(data, f"{what}: no schema registry configured", schema_id)
    try:
        if isinstance(schema_id, int):
            schema = registry.get_schema(schema_id)
        elif isinstance(registry, GuidSchemaSource):
            schema = registry.get_schema_by_guid(schema_id)
        else:
            raise RegistryError("this schema source does not resolve schema GUIDs")
    except SchemaPending:
        return Decoded(
            "text", text=f"… {what} loading", schema_id=schema_id, size=len(data), raw=data, pending=True
        )
    except RegistryError as exc:
        msg = exc.message
        if what not in msg:
            msg = f"{what}: {msg}"
        return _as_hex(data, msg, schema_id)
    kind = schema.schema_type
    if kind == "AVRO":
        try:
            value, trailing = decode_avro(data, schema.parsed, start)
        except AvroDecodeError as exc:
            return _as_hex(data, f"not valid Avro for {_short(schema_id)}: {exc}", schema_id)
        note = f"{trailing} trailing bytes after the Avro datum ({_short(schema_id)})" if trailing else None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return Decoded(
            "avro", value, text, schema_id, schema.subject, note, len(data), data, schema_type=kind
        )
    if kind == "PROTOBUF" and isinstance(schema.parsed, ProtoSchema):
        return _protobuf(data, schema, start, indexes)
    if kind == "JSON":
        parsed = _json_value(data, start)
        if isinstance(parsed, str):
            return _as_hex(data, f"not valid JSON for {_short(schema_id)}: {parsed}", schema_id)
        compiled = schema.parsed if isinstance(schema.parsed, JsonSchema) else None
        if compiled is None:
            return Decoded("json", parsed[0], parsed[1], schema_id, schema.subject, None, len(data), data,
                           schema_type=kind)  # fmt: skip
        value = parsed[0]

        def check() -> str | None:
            problem = compiled.problem(value)
            return None if problem is None else f"does not validate against {_short(schema_id)}: {problem}"

        return _CheckedLater(
            "json", value, parsed[1], schema_id, schema.subject, None, len(data), data,
            schema_type=kind, schema_title=compiled.title, check=check,
        )  # fmt: skip
    unsupported = f"{_short(schema_id)} is {kind}; only Avro, Protobuf and JSON Schema are decoded"
    return _as_hex(data, unsupported, schema_id)


def _protobuf(data: bytes, schema: RegisteredSchema, start: int, indexes: bytes | None) -> Decoded:
    what = _short(schema.schema_id)
    proto: ProtoSchema = schema.parsed
    try:
        if indexes is None:
            path, start = read_message_indexes(data, start)
        else:
            path = read_message_indexes(indexes, 0)[0] if indexes else (0,)
        value, message_name, msg = proto.parse(data[start:], path)
    except (WireError, ProtobufDecodeError) as exc:
        return _as_hex(data, f"not valid Protobuf for {what}: {exc}", schema.schema_id)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _CheckedLater(
        "protobuf", value, text, schema.schema_id, schema.subject, None, len(data), data,
        schema_type="PROTOBUF", schema_title=message_name, check=lambda: unknown_fields_note(msg),
    )  # fmt: skip


def _with_header_schema(
    data: bytes, header: str, value: bytes, registry: SchemaSource | None, fmt: Format
) -> Decoded | None:
    """Decode with the schema named in a ``__key_schema_id``/``__value_schema_id`` header (the
    payload then has no wire-format prefix). None when the header names no schema id."""
    ref = header_schema_ref(value)
    if ref is None:
        return None
    schema_id, used = ref
    decoded = _with_schema(
        data, schema_id, registry, allow_unregistered_json=False, start=0, indexes=value[used:]
    )
    if decoded.kind != "hex" or decoded.error is None:
        return decoded
    # The schema could not be had (or the bytes do not match it): show the payload as auto would,
    # saying why the header's schema was not used.
    reason = f"header {header}: {decoded.error}"
    if registry is not None and isinstance(schema_id, str) and "not found" in decoded.error:
        reason += (
            " (the registry cannot resolve this GUID: schema GUIDs are served by Confluent Schema Registry 8)"
        )
    fallback = _MODES[Format.AUTO if fmt is Format.AUTO else Format.BYTES](data, None)
    return replace(fallback, error=reason, schema_id=schema_id)


# -- the modes ---------------------------------------------------------------------------------


def _auto(data: bytes, registry: SchemaSource | None) -> Decoded:
    schema_id = wire_schema_id(data)
    if schema_id is not None:
        return _with_schema(data, schema_id, registry, allow_unregistered_json=True)
    if data and data[0] not in _WS and data[0] not in _JSON_START:
        parsed: tuple[Any, str] | str = "not JSON"  # fast path: most text and binary bail here
    else:
        parsed = _json_value(data)
    if isinstance(parsed, tuple):
        return Decoded("json", parsed[0], parsed[1], size=len(data), raw=data)
    text = _printable_text(data)
    if text is not None:
        return Decoded("text", text=text, size=len(data), raw=data)
    return _as_hex(data)


def _avro(data: bytes, registry: SchemaSource | None) -> Decoded:
    schema_id = wire_schema_id(data)
    if schema_id is not None:
        return _with_schema(data, schema_id, registry, allow_unregistered_json=False)
    if len(data) < HEADER_SIZE:
        reason = f"too short for Confluent wire format ({len(data)} bytes)"
    else:
        reason = f"not Confluent wire format (magic byte 0x{data[0]:02x}, expected 0x{MAGIC_BYTE:02x})"
    return _fallback(data, f"not Avro: {reason}")


def _json(data: bytes, registry: SchemaSource | None) -> Decoded:
    parsed = _json_value(data)
    schema_id = None
    if isinstance(parsed, str):
        wire_id = wire_schema_id(data)
        if wire_id is not None:  # JSON Schema serializer framing
            framed = _json_value(data, HEADER_SIZE)
            if isinstance(framed, tuple):
                parsed, schema_id = framed, wire_id
    if isinstance(parsed, str):
        return _fallback(data, f"not valid JSON: {parsed}")
    return Decoded("json", parsed[0], parsed[1], schema_id=schema_id, size=len(data), raw=data)


def _string(data: bytes, registry: SchemaSource | None) -> Decoded:
    try:
        return Decoded("text", text=data.decode(), size=len(data), raw=data)
    except UnicodeDecodeError as exc:
        error = f"invalid UTF-8 at byte {exc.start}; shown with U+FFFD replacement characters"
        return Decoded("text", text=data.decode(errors="replace"), error=error, size=len(data), raw=data)


def _bytes(data: bytes, registry: SchemaSource | None) -> Decoded:
    return _as_hex(data)


def _fallback(data: bytes, error: str) -> Decoded:
    """Printable text if it is, else hex; with `error` saying why the chosen mode failed."""
    text = _printable_text(data)
    if text is not None:
        return Decoded("text", text=text, error=error, size=len(data), raw=data)
    return _as_hex(data, error)


_MODES = {
    Format.AUTO: _auto,
    Format.AVRO: _avro,
    Format.JSON: _json,
    Format.STRING: _string,
    Format.BYTES: _bytes,
}


def decode_bytes(
    data: bytes | None,
    fmt: Format | str = Format.AUTO,
    registry: SchemaSource | None = None,
    schema_header: tuple[str, bytes] | None = None,
) -> Decoded:
    """Decode a key or value for display. Never raises (an unknown `fmt` is reported in the
    result too); the bytes themselves are never modified. `schema_header` is the record's
    ``(__key_schema_id or __value_schema_id, value)`` header for this part, if it has one: in
    ``auto`` and ``avro`` modes it names the schema instead of a wire-format prefix."""
    if data is None:
        return NULL
    mode = _MODES.get(fmt)  # type: ignore[arg-type]  # a str finds its Format: StrEnum hashes as str
    if mode is None:
        return _as_hex(data, f"unknown format {fmt!r}")
    try:
        if schema_header is not None and fmt in (Format.AUTO, Format.AVRO):
            decoded = _with_header_schema(data, schema_header[0], schema_header[1], registry, Format(fmt))
            if decoded is not None:
                return decoded
        return mode(data, registry)
    except Exception as exc:  # a bug, not bad data: still never raise into the app
        reason = " ".join(f"internal decode error: {type(exc).__name__}: {exc}".split())[:300]
        return Decoded("error", text=data.hex(), error=reason, size=len(data), raw=data)
