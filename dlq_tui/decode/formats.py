"""Format modes for keys and values, and the `Decoded` result.

Modes: ``auto`` (Confluent wire format -> schema via the registry, else JSON, else UTF-8 text,
else hex), ``avro``, ``json``, ``string``, ``bytes``. `decode_bytes` never raises: when the
preferred decoding fails the result falls back (to text or hex) and `Decoded.error` says why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from .avro import AvroDecodeError, decode_avro
from .registry import RegistryError, SchemaSource
from .wire import HEADER_SIZE, MAGIC_BYTE, wire_schema_id

__all__ = [
    "Decoded",
    "DecodedKind",
    "Format",
    "decode_bytes",
    "hex_dump",
    "parse_format",
]

DecodedKind = Literal["avro", "json", "text", "hex", "null", "error"]


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

    - `kind`: what `data`/`text` hold. ``avro``/``json``: `data` is JSON-able, `text` compact JSON;
      ``text``: `text` is the string; ``hex``: `text` is lowercase hex of all the bytes;
      ``null``: the key/value is absent (`text` is ``""``); ``error``: an internal failure (`text`
      is hex, as for ``hex``).
    - `error`: why the preferred decoding failed (the result is then a fallback), or a note on a
      partial success (e.g. trailing bytes after an Avro datum); None when all went well.
    - `size`: length of the raw bytes (0 for null).
    """

    kind: DecodedKind
    data: Any = None
    text: str = ""
    schema_id: int | None = None
    subject: str | None = None
    error: str | None = None
    size: int = 0
    raw: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def structured(self) -> bool:
        return self.kind in ("avro", "json")

    def pretty(self, max_bytes: int = DEFAULT_PRETTY_BYTES) -> str:
        """Indented JSON for structured data, the text for text, a hex dump (offset, hex, ASCII
        columns; at most `max_bytes`) for bytes, ``(null)`` for null. Not terminal-sanitised."""
        if self.kind in ("avro", "json"):
            return json.dumps(self.data, indent=2, ensure_ascii=False)
        if self.kind == "text":
            return self.text
        if self.kind == "null":
            return "(null)"
        raw = self.raw if self.raw is not None else bytes.fromhex(self.text)
        return hex_dump(raw, max_bytes=max_bytes)


NULL = Decoded("null")


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


def _as_hex(data: bytes, error: str | None = None, schema_id: int | None = None) -> Decoded:
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


def _with_schema(
    data: bytes, schema_id: int, registry: SchemaSource | None, *, allow_unregistered_json: bool
) -> Decoded:
    """Decode Confluent wire-format `data` with the registered schema; fall back to hex."""
    if registry is None:
        if allow_unregistered_json:
            parsed = _json_value(data, HEADER_SIZE)
            if isinstance(parsed, tuple):
                return Decoded("json", parsed[0], parsed[1], schema_id=schema_id, size=len(data), raw=data)
        return _as_hex(data, f"schema id {schema_id}: no schema registry configured", schema_id)
    try:
        schema = registry.get_schema(schema_id)
    except RegistryError as exc:
        msg = exc.message
        if f"schema id {schema_id}" not in msg:
            msg = f"schema id {schema_id}: {msg}"
        return _as_hex(data, msg, schema_id)
    if schema.schema_type == "AVRO":
        try:
            value, trailing = decode_avro(data, schema.parsed, HEADER_SIZE)
        except AvroDecodeError as exc:
            return _as_hex(data, f"not valid Avro for schema {schema_id}: {exc}", schema_id)
        note = f"{trailing} trailing bytes after the Avro datum (schema {schema_id})" if trailing else None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return Decoded("avro", value, text, schema_id, schema.subject, note, len(data), data)
    if schema.schema_type == "JSON":
        parsed = _json_value(data, HEADER_SIZE)
        if isinstance(parsed, str):
            return _as_hex(data, f"not valid JSON for schema {schema_id}: {parsed}", schema_id)
        return Decoded("json", parsed[0], parsed[1], schema_id, schema.subject, None, len(data), data)
    unsupported = f"schema {schema_id} is {schema.schema_type}; only Avro and JSON are decoded"
    return _as_hex(data, unsupported, schema_id)


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
    data: bytes | None, fmt: Format | str = Format.AUTO, registry: SchemaSource | None = None
) -> Decoded:
    """Decode a key or value for display. Never raises (an unknown `fmt` is reported in the
    result too); the bytes themselves are never modified."""
    if data is None:
        return NULL
    mode = _MODES.get(fmt)  # type: ignore[arg-type]  # a str finds its Format: StrEnum hashes as str
    if mode is None:
        return _as_hex(data, f"unknown format {fmt!r}")
    try:
        return mode(data, registry)
    except Exception as exc:  # a bug, not bad data: still never raise into the app
        reason = " ".join(f"internal decode error: {type(exc).__name__}: {exc}".split())[:300]
        return Decoded("error", text=data.hex(), error=reason, size=len(data), raw=data)
