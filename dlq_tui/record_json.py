"""The JSON record format, version 1: what `print --format jsonl`, the export file and the clipboard
carry, and what `produce --from` reads back.

One record is one JSON object (one line in a JSONL file). Readable parts (decoded key and value,
DLQ header fields) sit beside what a byte-exact round trip needs:

- ``key`` / ``value`` are decoded as the display decodes them; when that form does not give back
  the exact bytes (anything but UTF-8 text that encodes back to them), ``key_b64`` / ``value_b64``
  hold the bytes in base64. Rule for readers: ``*_b64`` if present, else ``null`` stays null, else
  the string's UTF-8 bytes.
- ``headers`` is a list (order and repeated names kept) of ``{"name", "value", "encoding"}``;
  ``encoding`` is ``utf-8`` (value is the text), ``base64`` (binary: not UTF-8, or holding control
  characters other than TAB, LF and CR), or null (a null value).
  Readers also take ``hex``.

The text is ASCII-safe for a terminal: besides JSON's own escapes of C0 controls, DEL, C1 controls,
bidi controls, line/paragraph separators and lone surrogates are written as ``\\uXXXX`` escapes,
which every JSON parser reads back to the same string. No Textual, no Kafka client here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dlq_tui.decode.view import DecodedRecord
from dlq_tui.display import iso_ts
from dlq_tui.triage.records import Header

__all__ = [
    "FORMAT_VERSION",
    "RecordJsonError",
    "StoredRecord",
    "dumps",
    "parse_line",
    "parse_record",
    "record_json",
    "records_text",
]

FORMAT_VERSION = 1

# Characters a terminal or a bidi-aware viewer would act on; JSON itself escapes only \x00-\x1f.
_ESCAPE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


# Control characters other than TAB, LF and CR: a header holding them is binary, not text.
_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RecordJsonError(ValueError):
    """A JSON record that cannot be read back (the message says which field and why)."""


def _u_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def dumps(obj: dict[str, Any]) -> str:
    """One JSON record as a line (no newline): compact, UTF-8 text kept readable, unsafe
    characters escaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
    # Outside strings JSON has only ASCII, so every match is inside a string: a \\u escape there
    # reads back as the same character.
    if text.isascii() and "\x7f" not in text:  # the common case, checked at C speed
        return text
    return _ESCAPE.sub(_u_escape, text) if _ESCAPE.search(text) else text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _header_json(name: str, value: bytes | None) -> dict[str, Any]:
    if value is None:
        return {"name": name, "value": None, "encoding": None}
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or (
        not (text.isascii() and text.isprintable()) and _BINARY.search(text)
    ):  # e.g. Spring's 8-byte big-endian offsets
        return {"name": name, "value": _b64(value), "encoding": "base64"}
    return {"name": name, "value": text, "encoding": "utf-8"}


def record_json(d: DecodedRecord, topic: str) -> dict[str, Any]:
    """The v1 JSON object of one decoded record of `topic`."""
    raw = d.raw
    out: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "topic": topic,
        "partition": raw.partition,
        "offset": raw.offset,
        "timestamp": raw.timestamp,
        "timestamp_type": "log_append" if raw.timestamp_type == 1 else "create",
        "time": iso_ts(raw.timestamp),
    }
    for name, data, decoded in (("key", raw.key, d.key), ("value", raw.value, d.value)):
        if data is None:
            out[name] = None
            out[f"{name}_format"] = "null"
            continue
        shown = decoded.data if decoded.structured else decoded.text
        out[name] = shown
        out[f"{name}_format"] = decoded.kind
        # Exact unless the shown form is a string whose UTF-8 bytes are the record's bytes.
        if not (
            isinstance(shown, str)
            and decoded.kind == "text"
            and shown.encode("utf-8", "surrogatepass") == data
        ):
            out[f"{name}_b64"] = _b64(bytes(data))
    out["schema_id"] = d.value.schema_id
    out["decode_error"] = d.value.error or d.key.error
    out["error"] = d.error_text() or None
    out["dlq"] = dict(d.dlq.fields())
    out["headers"] = [_header_json(name, value) for name, value in raw.headers]
    return out


def records_text(records: Iterable[DecodedRecord], topic: str) -> str:
    """JSONL text of `records` (one line each, newline-terminated): what the clipboard gets."""
    return "".join(dumps(record_json(d, topic)) + "\n" for d in records)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record read back from the JSON format: the exact bytes to produce again."""

    topic: str | None
    partition: int
    offset: int | None
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]


def _bytes_field(obj: dict[str, Any], name: str) -> bytes | None:
    b64 = obj.get(f"{name}_b64")
    if b64 is not None:
        if not isinstance(b64, str):
            raise RecordJsonError(f"{name}_b64 must be a base64 string")
        try:
            return base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise RecordJsonError(f"{name}_b64 is not valid base64 ({exc})") from None
    if name not in obj:
        raise RecordJsonError(f"no {name!r} field")
    shown = obj[name]
    if shown is None:
        return None
    if not isinstance(shown, str):
        raise RecordJsonError(
            f"{name} is {type(shown).__name__}, not text, and there is no {name}_b64 with its bytes"
        )
    return shown.encode("utf-8", "surrogatepass")


def _header(item: Any, i: int) -> Header:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise RecordJsonError(f'headers[{i}] must be an object with a text "name"')
    name, value, encoding = item["name"], item.get("value"), item.get("encoding")
    if value is None:
        return name, None
    if not isinstance(value, str):
        raise RecordJsonError(f"headers[{i}] ({name}): value must be text or null")
    try:
        if encoding in ("utf-8", None):
            return name, value.encode("utf-8", "surrogatepass")
        if encoding == "base64":
            return name, base64.b64decode(value, validate=True)
        if encoding == "hex":
            return name, bytes.fromhex(value)
    except (binascii.Error, ValueError) as exc:
        raise RecordJsonError(f"headers[{i}] ({name}): value is not valid {encoding} ({exc})") from None
    raise RecordJsonError(f"headers[{i}] ({name}): unknown encoding {encoding!r} (utf-8, base64 or hex)")


def _int_or_none(obj: dict[str, Any], name: str) -> int | None:
    v = obj.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise RecordJsonError(f"{name} must be a non-negative integer, not {v!r}")
    return v


def parse_record(obj: Any) -> StoredRecord:
    """A `StoredRecord` from a parsed v1 object; `RecordJsonError` says what is wrong."""
    if not isinstance(obj, dict):
        raise RecordJsonError("not a JSON object")
    version = obj.get("v")
    if version != FORMAT_VERSION:
        raise RecordJsonError(
            f"format version {version!r} is not supported (this dlq-tui reads v {FORMAT_VERSION})"
            if "v" in obj
            else 'no "v" field: not a dlq-tui JSON record (dlq-tui print --format jsonl writes them)'
        )
    headers = obj.get("headers", [])
    if not isinstance(headers, list):
        raise RecordJsonError("headers must be a list of {name, value, encoding} objects")
    topic = obj.get("topic")
    partition = _int_or_none(obj, "partition")
    return StoredRecord(
        topic=topic if isinstance(topic, str) else None,
        partition=0 if partition is None else partition,
        offset=_int_or_none(obj, "offset"),
        timestamp=_int_or_none(obj, "timestamp"),
        key=_bytes_field(obj, "key"),
        value=_bytes_field(obj, "value"),
        headers=tuple(_header(h, i) for i, h in enumerate(headers)),
    )


def parse_line(line: str) -> StoredRecord:
    """One JSONL line as a `StoredRecord`."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordJsonError(f"not JSON: {exc}") from None
    return parse_record(obj)
