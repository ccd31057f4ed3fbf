"""The headers' part of a JSON record line (``"error"``, ``"dlq"``, ``"headers"``), worked out once
per header *shape* and then filled in per record.

Real DLQ records carry headers whose values change with every record: Spring's original offset
and partition (binary integers), tracing ids and other headers no convention knows. Their values
cannot change how the DLQ headers are read (an integer header of the right width always decodes;
unknown headers are not read at all), only the texts they become. So the shape of a header set
is its names and its other values, with those values replaced by their width; per shape a *plan*
says which output texts are constant and which are rendered from which header. The plan is found
by running the general decoding twice on probe values (texts that follow a probe belong to it),
then checked against the general result of the record at hand; a shape it does not fit goes the
general way for good. `tests/test_record_line.py` holds every line to the general path's JSON.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from dlq_tui.decode.dlq_headers import HEADERS, DlqInfo, Enc, format_ts, parse_dlq_headers

__all__ = ["header_json", "headers_part", "planned_part"]

# Control characters other than TAB, LF and CR: a header holding them is binary, not text.
_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WIDTHS = {Enc.INT32: (4, 4), Enc.INT64: (8, 8), Enc.BIGINT: (1, 8)}
_ANY = -1  # the shape's marker of an unknown header's value
_CACHE_MAX = 4096
_MAX_SLOTS = 100  # probes are 1..n and -1..-n: they fit one signed byte
_encode = msgspec.json.Encoder().encode


def header_json(name: str, value: bytes | None) -> dict[str, Any]:
    """One header as the format writes it: ``{"name", "value", "encoding"}``."""
    if value is None:
        return {"name": name, "value": None, "encoding": None}
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or (
        not (text.isascii() and text.isprintable()) and _BINARY.search(text)
    ):  # e.g. Spring's 8-byte big-endian offsets
        return {"name": name, "value": base64.b64encode(value).decode("ascii"), "encoding": "base64"}
    return {"name": name, "value": text, "encoding": "utf-8"}


def _dlq(headers: Sequence[tuple[str, bytes | None]]) -> DlqInfo:
    try:  # as DecodedRecord.dlq
        return parse_dlq_headers(headers)
    except Exception as exc:  # defensive: never raise into the app
        return DlqInfo(notes=(f"internal header decode error: {type(exc).__name__}: {exc}",))


def headers_part(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, Any]:
    """The fields that depend on the record's headers alone (the general way)."""
    dlq = _dlq(headers)
    return {
        "error": dlq.error_text() or None,
        "dlq": dict(dlq.fields()),
        "headers": [header_json(name, value) for name, value in headers],
    }


_UNKNOWN = (0, 1 << 62)  # an unknown header: any value is a slot
# Known header name -> the widths at which its value is a slot (an integer that decodes), or None.
_SLOT_WIDTHS: dict[str, tuple[int, int] | None] = {
    name: _WIDTHS.get(spec.enc) for name, spec in HEADERS.items()
}


def _shape(headers: Sequence[tuple[str, bytes | None]]) -> tuple[tuple[tuple[str, Any], ...], list[int]]:
    shape: list[tuple[str, Any]] = []
    slots: list[int] = []
    widths = _SLOT_WIDTHS
    for i, (name, value) in enumerate(headers):
        if value is None:
            shape.append((name, None))
            continue
        width = widths.get(name, _UNKNOWN)
        if width is not None and width[0] <= len(value) <= width[1]:
            shape.append((name, _ANY if width is _UNKNOWN else len(value)))
            slots.append(i)
        else:
            shape.append((name, value))
    return tuple(shape), slots


@dataclass(frozen=True, slots=True)
class _Plan:
    head: bytes  # ',"error":...,"dlq":{'
    dlq: tuple[bytes | tuple[bytes, bool, int], ...]  # a fragment, or (b'"label":', is_ts, header index)
    items: tuple[bytes | int, ...]  # a header's fragment, or the index of a header rendered per record

    def render(self, headers: Sequence[tuple[str, bytes | None]]) -> bytes:
        parts: list[bytes] = []
        for piece in self.dlq:
            if isinstance(piece, bytes):
                parts.append(piece)
            else:
                label, is_ts, i = piece
                n = int.from_bytes(headers[i][1] or b"", "big", signed=True)
                text = (format_ts(n) or "") if is_ts else str(n)
                parts.append(b'%s"%s"' % (label, text.encode()))  # digits, spaces, ISO time: ASCII
        items = [
            item if isinstance(item, bytes) else _encode(header_json(*headers[item])) for item in self.items
        ]
        return b'%s%s},"headers":[%s]}' % (self.head, b",".join(parts), b",".join(items))


_PLANS: dict[tuple[Any, ...], _Plan | None] = {}


def _probe(headers: Sequence[tuple[str, bytes | None]], slots: list[int], sign: int) -> list[Any]:
    probed = list(headers)
    for k, i in enumerate(slots):
        name, value = probed[i]
        if name in HEADERS and value is not None:
            probed[i] = (name, (sign * (k + 1)).to_bytes(len(value), "big", signed=True))
    return probed


def _plan(headers: Sequence[tuple[str, bytes | None]], slots: list[int]) -> _Plan | None:
    """The plan of this shape, or None when probing cannot tell (then: the general way)."""
    if len(slots) > _MAX_SLOTS:
        return None
    runs = []
    for sign in (1, -1):
        dlq = _dlq(_probe(headers, slots, sign))
        runs.append((dlq.error_text() or None, dlq.fields()))
    (error_a, fields_a), (error_b, fields_b) = runs
    if error_a != error_b or [f[0] for f in fields_a] != [f[0] for f in fields_b]:
        return None
    dlq_pieces: list[bytes | tuple[bytes, bool, int]] = []
    for (label, text_a), (_, text_b) in zip(fields_a, fields_b, strict=True):
        if text_a == text_b:
            dlq_pieces.append(_encode({label: text_a})[1:-1])
            continue
        found: tuple[bytes, bool, int] | None = None
        for k, i in enumerate(slots):
            a, b = k + 1, -(k + 1)
            for is_ts in (False, True):
                render = (lambda n: format_ts(n) or "") if is_ts else str
                if (render(a), render(b)) == (text_a, text_b):
                    found = (_encode(label) + b":", is_ts, i)
        if found is None:
            return None
        dlq_pieces.append(found)
    items: list[bytes | int] = []
    slot_set = set(slots)
    for i, (name, value) in enumerate(headers):
        items.append(i if i in slot_set else _encode(header_json(name, value)))
    head = b',"error":%s,"dlq":{' % _encode(error_a)
    return _Plan(head, tuple(dlq_pieces), tuple(items))


def planned_part(headers: Sequence[tuple[str, bytes | None]]) -> bytes | None:
    """``,"error":...,"dlq":{...},"headers":[...]}`` for `headers` by the plan of their shape;
    None when the shape has no plan (or no value that varies: the caller caches those whole)."""
    shape, slots = _shape(headers)
    if not slots:
        return None
    try:
        plan = _PLANS[shape]
    except KeyError:
        try:
            plan = _plan(headers, slots)
            if plan is not None:
                general = _encode(headers_part(headers))
                if b"," + general[1:] != plan.render(headers):
                    plan = None  # never expected; the general way then
        except UnicodeEncodeError:  # a lone surrogate in a name: the general way
            plan = None
        if len(_PLANS) >= _CACHE_MAX:
            _PLANS.clear()
        _PLANS[shape] = plan
    except TypeError:  # an unhashable value
        return None
    if plan is None:
        return None
    try:
        return plan.render(headers)
    except UnicodeEncodeError:
        return None
