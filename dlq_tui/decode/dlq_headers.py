"""Known DLQ headers (Spring Kafka ``kafka_dlt-*``, Kafka Connect ``__connect.errors.*``).

Spring Kafka writes the original partition as a 4-byte and the original offset and timestamp as
8-byte big-endian integers, everything else as UTF-8. Kafka Connect writes all its error headers
as UTF-8 text (numbers too). Wrong-length or undecodable values are shown as hex with a note and
left out of `DlqInfo`; nothing here raises.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONNECT_PREFIX",
    "SPRING_PREFIX",
    "DlqInfo",
    "DlqSource",
    "header_display",
    "parse_dlq_headers",
]

SPRING_PREFIX = "kafka_dlt-"
CONNECT_PREFIX = "__connect.errors."
DlqSource = Literal["spring", "connect"]

# Spring binary integer headers and their width in bytes.
_SPRING_INTS = {
    "kafka_dlt-original-partition": 4,
    "kafka_dlt-original-offset": 8,
    "kafka_dlt-original-timestamp": 8,
}
_TIMESTAMP_HEADERS = frozenset({"kafka_dlt-original-timestamp"})
_CONNECT_INTS = frozenset(
    {"__connect.errors.partition", "__connect.errors.offset", "__connect.errors.task.id"}
)

# header name -> DlqInfo field. The key-exception variants (a key that failed to deserialize) only
# fill the exception fields when the value-exception headers are absent.
_FIELDS = {
    "kafka_dlt-original-topic": "original_topic",
    "kafka_dlt-original-partition": "original_partition",
    "kafka_dlt-original-offset": "original_offset",
    "kafka_dlt-original-timestamp": "original_timestamp",
    "kafka_dlt-original-timestamp-type": "original_timestamp_type",
    "kafka_dlt-original-consumer-group": "consumer_group",
    "kafka_dlt-exception-fqcn": "exception_class",
    "kafka_dlt-exception-cause-fqcn": "exception_cause_class",
    "kafka_dlt-exception-message": "exception_message",
    "kafka_dlt-exception-stacktrace": "stack_trace",
    "__connect.errors.topic": "original_topic",
    "__connect.errors.partition": "original_partition",
    "__connect.errors.offset": "original_offset",
    "__connect.errors.exception.class.name": "exception_class",
    "__connect.errors.exception.message": "exception_message",
    "__connect.errors.exception.stacktrace": "stack_trace",
    "__connect.errors.connector.name": "connector_name",
    "__connect.errors.task.id": "task_id",
    "__connect.errors.stage": "stage",
    "__connect.errors.class.name": "stage_class",
}
_KEY_EXCEPTION_FIELDS = {
    "kafka_dlt-key-exception-fqcn": "exception_class",
    "kafka_dlt-key-exception-cause-fqcn": "exception_cause_class",
    "kafka_dlt-key-exception-message": "exception_message",
    "kafka_dlt-key-exception-stacktrace": "stack_trace",
}
_TEXT_HEADERS = (frozenset(_FIELDS) | frozenset(_KEY_EXCEPTION_FIELDS)) - frozenset(_SPRING_INTS)

# Not printable as text: C0 controls except TAB/LF/CR, DEL, C1 controls (as UTF-8).
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


@dataclass(frozen=True, slots=True)
class DlqInfo:
    """What the DLQ headers say about the failed record. Fields are None when not present."""

    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    original_timestamp: int | None = None  # ms since the epoch (Spring only)
    original_timestamp_type: str | None = None  # e.g. "CREATE_TIME" (Spring only)
    consumer_group: str | None = None
    exception_class: str | None = None
    exception_cause_class: str | None = None
    exception_message: str | None = None
    stack_trace: str | None = None
    connector_name: str | None = None  # Connect only, as are task_id, stage, stage_class
    task_id: int | None = None
    stage: str | None = None
    stage_class: str | None = None
    source: DlqSource | None = None
    notes: tuple[str, ...] = ()  # known headers that could not be decoded

    def error_text(self) -> str:
        """``"exception_class: message"`` (either part alone when the other is missing; '' if none)."""
        if self.exception_class and self.exception_message:
            return f"{self.exception_class}: {self.exception_message}"
        return self.exception_class or self.exception_message or ""

    def fields(self) -> list[tuple[str, str]]:
        """Labelled, present fields for a detail view (the stack trace excluded: it is long)."""
        out: list[tuple[str, str]] = []
        for label, value in (
            ("source", self.source),
            ("original topic", self.original_topic),
            ("original partition", self.original_partition),
            ("original offset", self.original_offset),
            ("original timestamp", _format_ts(self.original_timestamp)),
            ("timestamp type", self.original_timestamp_type),
            ("consumer group", self.consumer_group),
            ("connector", self.connector_name),
            ("task", self.task_id),
            ("stage", self.stage),
            ("stage class", self.stage_class),
            ("exception", self.exception_class),
            ("cause", self.exception_cause_class),
            ("message", self.exception_message),
        ):
            if value is not None:
                out.append((label, str(value)))
        return out


EMPTY = DlqInfo()


def _format_ts(ms: int | None) -> str | None:
    if ms is None:
        return None
    try:
        iso = _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return str(ms)
    return f"{ms} ({iso.replace('+00:00', 'Z')})"


def _decode_known(name: str, value: bytes) -> tuple[int | str | None, str | None]:
    """``(typed value, note)`` for a known header; the value is None when it cannot be decoded."""
    width = _SPRING_INTS.get(name)
    if width is not None:
        if len(value) != width:
            return None, f"{name}: expected a {width}-byte big-endian integer, got {len(value)} bytes"
        return int.from_bytes(value, "big", signed=True), None
    text = value.decode(errors="replace")
    if name in _CONNECT_INTS:
        try:
            return int(text.strip()), None
        except ValueError:
            return None, f"{name}: expected a decimal number, got {text[:40]!r}"
    return text, None


def header_display(name: str, value: bytes | None) -> str:
    """Any header value as one string: known DLQ headers decoded (integers as numbers, timestamps
    with ISO time), other headers as UTF-8 text when printable, else hex. ``(null)`` for a null
    value. A known binary header of the wrong length is hex with a note. Not terminal-sanitised."""
    if value is None:
        return "(null)"
    if name in _SPRING_INTS:
        decoded, note = _decode_known(name, value)
        if isinstance(decoded, int):
            return (_format_ts(decoded) or "") if name in _TIMESTAMP_HEADERS else str(decoded)
        return f"{value.hex()} ({note})"
    if name in _TEXT_HEADERS:
        return value.decode(errors="replace")
    if _BINARY.search(value) is None:
        try:
            return value.decode()
        except UnicodeDecodeError:
            pass
    return value.hex()


def parse_dlq_headers(headers: Iterable[tuple[str, bytes | None]]) -> DlqInfo:
    """The known DLQ headers of a record as a `DlqInfo`. For repeated headers the last one wins
    (as Kafka's ``lastHeader``)."""
    values: dict[str, int | str] = {}
    key_values: dict[str, int | str] = {}
    notes: list[str] = []
    source: DlqSource | None = None
    for name, raw in headers:
        target = _FIELDS.get(name)
        into = values
        if target is None:
            target = _KEY_EXCEPTION_FIELDS.get(name)
            into = key_values
            if target is None:
                continue
        if source is None:
            source = "spring" if name.startswith(SPRING_PREFIX) else "connect"
        if raw is None:
            continue
        decoded, note = _decode_known(name, raw)
        if note is not None:
            notes.append(note)
        if decoded is not None:
            into[target] = decoded
    if source is None:
        return EMPTY
    for target, decoded in key_values.items():
        values.setdefault(target, decoded)
    return DlqInfo(source=source, notes=tuple(notes), **values)  # type: ignore[arg-type]
