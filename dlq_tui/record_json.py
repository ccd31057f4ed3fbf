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
which every JSON parser reads back to the same string. Whitespace and the spelling of numbers and
string escapes are not part of the format (lines are compact; a JSON value keeps its own number
spellings and escapes): readers parse JSON. No Textual, no Kafka client here.

`record_line` is the one formatting function of the format (print, export and the clipboard use
it). It writes the common records (JSON or plain ASCII text keys and values in the ``auto``
format) straight from their bytes, with the DLQ headers' part cached per distinct header set; any
other record goes the general way, `dumps(record_json(d, topic))`, which is also the reference
the fast path is tested against (`tests/test_record_line.py`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from dlq_tui.decode.formats import Format
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.decode.wire import KEY_SCHEMA_ID_HEADER, VALUE_SCHEMA_ID_HEADER
from dlq_tui.display import iso_ts
from dlq_tui.record_headers import header_json, planned_part
from dlq_tui.triage.records import Header

__all__ = [
    "FORMAT_VERSION",
    "RecordJsonError",
    "StoredRecord",
    "dumps",
    "parse_line",
    "parse_record",
    "record_json",
    "record_line",
    "records_text",
]

FORMAT_VERSION = 1

# Characters a terminal or a bidi-aware viewer would act on; JSON itself escapes only \x00-\x1f.
_ESCAPE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class RecordJsonError(ValueError):
    """A JSON record that cannot be read back (the message says which field and why)."""


def _u_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def dumps(obj: dict[str, Any]) -> str:
    """One JSON record as a line (no newline): compact, UTF-8 text kept readable, unsafe
    characters escaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    # Outside strings JSON has only ASCII, so every match is inside a string: a \\u escape there
    # reads back as the same character.
    if text.isascii() and "\x7f" not in text:  # the common case, checked at C speed
        return text
    return _ESCAPE.sub(_u_escape, text) if _ESCAPE.search(text) else text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _payload_fields(name: str, data: bytes | None, decoded: Any) -> dict[str, Any]:
    """`key`/`value`, its format and, when the shown form does not give back the bytes, `*_b64`."""
    if data is None:
        return {name: None, f"{name}_format": "null"}
    shown = decoded.data if decoded.structured else decoded.text
    out: dict[str, Any] = {name: shown, f"{name}_format": decoded.kind}
    # Exact unless the shown form is a string whose UTF-8 bytes are the record's bytes.
    if not (
        isinstance(shown, str) and decoded.kind == "text" and shown.encode("utf-8", "surrogatepass") == data
    ):
        out[f"{name}_b64"] = _b64(bytes(data))
    return out


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
    out.update(_payload_fields("key", raw.key, d.key))
    out.update(_payload_fields("value", raw.value, d.value))
    out["schema_id"] = d.value.schema_id
    out["decode_error"] = d.value.error or d.key.error
    out.update(_headers_part(d))
    return out


def _headers_part(d: DecodedRecord) -> dict[str, Any]:
    """The fields that depend on the record's headers alone."""
    return {
        "error": d.error_text() or None,
        "dlq": dict(d.dlq.fields()),
        "headers": [header_json(name, value) for name, value in d.raw.headers],
    }


# -- the one formatting function ----------------------------------------------------------------

_CACHE_MAX = 4096  # entries per cache; a full cache starts again (bounded memory, any DLQ size)
_EMPTY: tuple[Any, ...] = ()
# header set -> (b',"error":...,"dlq":...,"headers":[...]}', has key schema header, has value one)
_HEADERS: dict[tuple[Any, ...], tuple[bytes, bool, bool]] = {}
_SECONDS: dict[int, bytes] = {}  # whole second since the epoch -> b"2026-11-02T10:31:15"
_TOPICS: dict[str, bytes] = {}

# In `auto`, text is a payload whose first byte is neither JSON's first byte nor whitespace and
# whose bytes are printable (formats._printable_text): for ASCII, TAB, LF, CR, ESC and 0x20-0x7e.
_TEXT_FIRST = frozenset(range(0x20, 0x7F)) - frozenset(b' {["-0123456789tfn') | {0x1B}
_ASCII_TEXT = re.compile(rb"[\t\n\r\x1b\x20-\x7e]*")
_LONG_INT = re.compile(rb"\d{4301}")  # Python's int() refuses more digits: json.loads fails
# Python's json decoder and msgspec both refuse nesting past the recursion limit (1000 less the
# caller's stack), each from its own stack depth: the fast path takes only what both surely read.
_MAX_DEPTH = 600
_LINE = (
    b'{"v":1,"topic":%s,"partition":%d,"offset":%d,"timestamp":%d,"timestamp_type":"%s",'
    b'"time":"%s",%s,%s,"schema_id":%s,"decode_error":%s%s'
)
_JSON_PART = {n: b'"%s":%%s,"%s_format":"json","%s_b64":"%%s"' % (n, n, n) for n in (b"key", b"value")}
_TEXT_PART = {n: b'"%s":%%s,"%s_format":"text"' % (n, n) for n in (b"key", b"value")}
_json_encode = _json_string = msgspec.json.Encoder().encode
_minify = msgspec.json.format


def _fast_json(data: bytes) -> bytes | None:
    """`data` minified when it is an object or array that the `auto` decoder reads as JSON (same
    values: msgspec validates as Python's json does, within the guards), else None."""
    if not data.isascii():
        try:
            data.decode()  # Python's decoder takes valid UTF-8 only (no encoded surrogates)
        except UnicodeDecodeError:
            return None
    # Nesting needs two bytes a level: a short text cannot be deep (counting costs ~1 us a KB).
    if len(data) >= 2 * _MAX_DEPTH and data.count(b"[") + data.count(b"{") >= _MAX_DEPTH:
        return None
    if len(data) > 4300 and _LONG_INT.search(data) is not None:
        return None
    try:
        return _minify(data, indent=-1)
    except (msgspec.DecodeError, RecursionError):  # not JSON, a lone surrogate escape: the general path says
        return None


def _fast_part(name: bytes, data: bytes | None) -> bytes | None:
    """The ``"key":...,"key_format":...[,"key_b64":...]`` fields of a key or value decoded in
    `auto` without a schema, when a fast path knows its decoding; else None."""
    if data is None:
        return b'"%s":null,"%s_format":"null"' % (name, name)
    if not data or type(data) is not bytes:
        return None
    first = data[0]
    if first == 0x7B or first == 0x5B:  # { [
        minified = _fast_json(data)
        if minified is None:
            return None
        return _JSON_PART[name] % (minified, binascii.b2a_base64(data, newline=False))
    if first in _TEXT_FIRST and _ASCII_TEXT.fullmatch(data) is not None:
        return _TEXT_PART[name] % _json_string(data.decode("ascii"))
    return None


def _general_part(name: str, data: bytes | None, decoded: Any) -> bytes:
    """The same fields, the general way (as `record_json` writes them)."""
    return dumps(_payload_fields(name, data, decoded))[1:-1].encode()


def _headers_entry(d: DecodedRecord, key: tuple[Any, ...] | None) -> tuple[bytes, bool, bool]:
    """The headers' part of a line (cached under `key` unless None). Its texts are str from
    decoded bytes; the line's last step escapes what a terminal would act on."""
    tail = planned_part(d.raw.headers)  # headers whose values change per record (offsets, ids)
    if tail is None:
        obj = _headers_part(d)
        try:
            part = _json_encode(obj)
        except UnicodeEncodeError:  # a lone surrogate (a header name from a client that allows them)
            part = dumps(obj).encode()
        tail = b"," + part[1:]
    has_key_schema = has_value_schema = False
    for name, value in d.raw.headers:
        if value is not None:
            if name == KEY_SCHEMA_ID_HEADER:
                has_key_schema = True
            elif name == VALUE_SCHEMA_ID_HEADER:
                has_value_schema = True
    entry = (tail, has_key_schema, has_value_schema)
    if key is None:
        return entry
    if len(_HEADERS) >= _CACHE_MAX:
        _HEADERS.clear()
    _HEADERS[key] = entry
    return entry


def _time(ms: int) -> bytes:
    if not 0 <= ms < 253402300800000:  # before 1970 or after 9999: the general way
        return iso_ts(ms).encode()
    second, milli = divmod(ms, 1000)
    text = _SECONDS.get(second)
    if text is None:
        if len(_SECONDS) >= _CACHE_MAX:
            _SECONDS.clear()
        text = _SECONDS[second] = iso_ts(second * 1000)[:-5].encode()
    return b"%s.%03dZ" % (text, milli)


def _topic(topic: str) -> bytes:
    text = _TOPICS.get(topic)
    if text is None:
        if len(_TOPICS) >= _CACHE_MAX:
            _TOPICS.clear()
        text = _TOPICS[topic] = dumps({"": topic})[4:-1].encode()
    return text


def record_line(d: DecodedRecord, topic: str) -> bytes:
    """The v1 JSON line of one decoded record of `topic` (UTF-8, no newline): the one formatting
    function of the format. Parses to the same JSON as ``dumps(record_json(d, topic))``."""
    raw = d.raw
    headers = raw.headers
    hkey = headers if type(headers) is tuple else tuple(headers) if headers else _EMPTY
    try:
        entry = _HEADERS.get(hkey)
    except TypeError:  # unhashable header values (not bytes): not cached
        entry = _headers_entry(d, None)
    if entry is None:
        entry = _headers_entry(d, hkey)
    tail, key_schema, value_schema = entry
    key_format, value_format, _ = d.formats
    key = raw.key
    value = raw.value
    kpart = _fast_part(b"key", key) if key_format is Format.AUTO and not key_schema else None
    vpart = _fast_part(b"value", value) if value_format is Format.AUTO and not value_schema else None
    schema_id: Any = None
    error: str | None = None
    if vpart is None:
        decoded = d.value
        vpart = _general_part("value", value, decoded)
        schema_id = decoded.schema_id
        error = decoded.error or None
    if kpart is None:
        decoded = d.key
        kpart = _general_part("key", key, decoded)
        error = error or decoded.error or None
    ts = raw.timestamp
    line = _LINE % (
        _topic(topic),
        raw.partition,
        raw.offset,
        ts,
        b"log_append" if raw.timestamp_type == 1 else b"create",
        _time(ts),
        kpart,
        vpart,
        b"null" if schema_id is None else dumps({"": schema_id})[4:-1].encode(),
        b"null" if error is None else dumps({"": error})[4:-1].encode(),
        tail,
    )
    if line.isascii() and b"\x7f" not in line:  # the common case, checked at C speed
        return line
    text = line.decode()
    return _ESCAPE.sub(_u_escape, text).encode() if _ESCAPE.search(text) else line


def records_text(records: Iterable[DecodedRecord], topic: str) -> str:
    """JSONL text of `records` (one line each, newline-terminated): what the clipboard gets."""
    return "".join(record_line(d, topic).decode() + "\n" for d in records)


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
