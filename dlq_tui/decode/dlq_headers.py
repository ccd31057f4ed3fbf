"""Known DLQ headers of every common convention, each with its own encoding rules.

=================  ============================================  ==========================================
convention         headers                                       numbers are
=================  ============================================  ==========================================
``spring-deser``   ``springDeserializerException{Key,Value}``    a Java-serialized DeserializationException
                                                                 (read as data, see `java_serial`)
``spring``         ``kafka_dlt-*`` (Spring Kafka DLT)            partition 4-byte, offset/timestamp 8-byte
                                                                 big-endian ints
``spring-retry``   ``kafka_original-*``, ``kafka_exception-*``,  as ``spring``; ``retry_topic-*`` are Java
                   ``retry_topic-*`` (``@RetryableTopic``)       ``BigInteger`` bytes (1..8 bytes; attempts
                                                                 1 byte in old versions, 4 in new ones)
``scst``           ``x-original-*``, ``x-exception-*``           as ``spring`` (Spring Cloud Stream binder)
``smallrye``       ``dead-letter-*``, ``delayed-retry-*``        UTF-8 text (Quarkus / SmallRye)
``streams``        ``__streams.errors.*`` (KIP-1034)             UTF-8 text
``karafka``        ``source_*`` (2.5+), ``original_*``           UTF-8 text
``connect``        ``__connect.errors.*`` (Kafka Connect)        UTF-8 text
=================  ============================================  ==========================================

When a header repeats, the last one wins for the fields (as Kafka's ``lastHeader``); all are shown
as headers. When a record carries headers of several conventions, each field comes from the first
convention of the table that has it, and `DlqInfo.source` names the convention that gave the
exception class (else the origin topic, else the first of the table present). Wrong-length or
undecodable values are shown as hex with a note and left out of `DlqInfo`; nothing here raises.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..triage.fingerprint import Fingerprint, fingerprint
from .java_serial import ThrowableSummary, summarize_throwable

__all__ = [
    "CONNECT_PREFIX",
    "CONVENTIONS",
    "SPRING_PREFIX",
    "DlqInfo",
    "DlqSource",
    "format_ts",
    "header_display",
    "is_dlq_header",
    "parse_dlq_headers",
]

SPRING_PREFIX = "kafka_dlt-"
CONNECT_PREFIX = "__connect.errors."
DlqSource = Literal[
    "spring", "spring-retry", "spring-deser", "scst", "smallrye", "streams", "karafka", "connect"
]

CONVENTIONS: dict[str, str] = {
    "spring-deser": "Spring Kafka deserialization failure",
    "spring": "Spring Kafka DLT",
    "spring-retry": "Spring Kafka retry topics",
    "scst": "Spring Cloud Stream",
    "smallrye": "SmallRye Reactive Messaging",
    "streams": "Kafka Streams",
    "karafka": "Karafka",
    "connect": "Kafka Connect",
}
"""Convention id -> name, in priority order (the first one present names a record's convention)."""
_PRIORITY = {c: i for i, c in enumerate(CONVENTIONS)}


class Enc(enum.Enum):
    TEXT = "text"
    INT_TEXT = "decimal text"
    INT32 = "4-byte big-endian integer"
    INT64 = "8-byte big-endian integer"
    BIGINT = "1..8-byte big-endian integer"
    JAVA = "Java-serialized exception"


@dataclass(frozen=True, slots=True)
class _Spec:
    convention: str
    target: str  # a DlqInfo field, or "extra:<label>"
    enc: Enc = Enc.TEXT
    rank: int = 0  # 1: used only where the rank-0 headers of the convention leave the field empty
    timestamp: bool = False


def _table() -> dict[str, _Spec]:
    t: dict[str, _Spec] = {}

    def spring_like(conv: str, prefix: str, exc_prefix: str, key_exc_prefix: str) -> None:
        t[f"{prefix}topic"] = _Spec(conv, "original_topic")
        t[f"{prefix}partition"] = _Spec(conv, "original_partition", Enc.INT32)
        t[f"{prefix}offset"] = _Spec(conv, "original_offset", Enc.INT64)
        t[f"{prefix}timestamp"] = _Spec(conv, "original_timestamp", Enc.INT64, timestamp=True)
        t[f"{prefix}timestamp-type"] = _Spec(conv, "original_timestamp_type")
        t[f"{prefix}consumer-group"] = _Spec(conv, "consumer_group")
        for suffix, target in (
            ("fqcn", "exception_class"),
            ("cause-fqcn", "exception_cause_class"),
            ("message", "exception_message"),
            ("stacktrace", "stack_trace"),
        ):
            t[f"{exc_prefix}{suffix}"] = _Spec(conv, target)
            t[f"{key_exc_prefix}{suffix}"] = _Spec(conv, target, rank=1)

    spring_like("spring", "kafka_dlt-original-", "kafka_dlt-exception-", "kafka_dlt-key-exception-")
    spring_like("spring-retry", "kafka_original-", "kafka_exception-", "kafka_key-exception-")
    t["retry_topic-attempts"] = _Spec("spring-retry", "attempts", Enc.BIGINT)
    t["retry_topic-original-timestamp"] = _Spec(
        "spring-retry", "extra:first failure", Enc.BIGINT, timestamp=True
    )
    t["retry_topic-backoff-timestamp"] = _Spec(
        "spring-retry", "extra:next attempt", Enc.BIGINT, timestamp=True
    )
    t["springDeserializerExceptionValue"] = _Spec("spring-deser", "java", Enc.JAVA)
    t["springDeserializerExceptionKey"] = _Spec("spring-deser", "java", Enc.JAVA, rank=1)
    for name, target, enc in (
        ("topic", "original_topic", Enc.TEXT),
        ("partition", "original_partition", Enc.INT32),
        ("offset", "original_offset", Enc.INT64),
        ("timestamp", "original_timestamp", Enc.INT64),
        ("timestamp-type", "original_timestamp_type", Enc.TEXT),
    ):
        t[f"x-original-{name}"] = _Spec("scst", target, enc, timestamp=name == "timestamp")
    for name, target in (
        ("fqcn", "exception_class"),
        ("message", "exception_message"),
        ("stacktrace", "stack_trace"),
    ):
        t[f"x-exception-{name}"] = _Spec("scst", target)
    for prefix, rank in (("dead-letter-", 0), ("delayed-retry-", 1)):
        t[f"{prefix}exception-class-name"] = _Spec("smallrye", "exception_class", rank=rank)
        t[f"{prefix}cause-class-name"] = _Spec("smallrye", "exception_cause_class", rank=rank)
        t[f"{prefix}reason"] = _Spec("smallrye", "exception_message", rank=rank)
        t[f"{prefix}cause"] = _Spec("smallrye", "extra:cause message", rank=rank)
        t[f"{prefix}topic"] = _Spec("smallrye", "original_topic", rank=rank)
        t[f"{prefix}partition"] = _Spec("smallrye", "original_partition", Enc.INT_TEXT, rank=rank)
        t[f"{prefix}offset"] = _Spec("smallrye", "original_offset", Enc.INT_TEXT, rank=rank)
    t["delayed-retry-count"] = _Spec("smallrye", "attempts", Enc.INT_TEXT)
    t["delayed-retry-original-timestamp"] = _Spec(
        "smallrye", "original_timestamp", Enc.INT_TEXT, timestamp=True
    )
    t["delayed-retry-first-processing-timestamp"] = _Spec(
        "smallrye", "extra:first processing", Enc.INT_TEXT, timestamp=True
    )
    t["delayed-retry-timestamp"] = _Spec("smallrye", "extra:next attempt", Enc.INT_TEXT, timestamp=True)
    t["delayed-retry-topics"] = _Spec("smallrye", "extra:retry topics")
    for name, target, enc in (
        ("exception", "exception_class", Enc.TEXT),
        ("message", "exception_message", Enc.TEXT),
        ("stacktrace", "stack_trace", Enc.TEXT),
        ("topic", "original_topic", Enc.TEXT),
        ("partition", "original_partition", Enc.INT_TEXT),
        ("offset", "original_offset", Enc.INT_TEXT),
    ):
        t[f"__streams.errors.{name}"] = _Spec("streams", target, enc)
    for prefix, rank in (("source_", 0), ("original_", 1)):
        t[f"{prefix}topic"] = _Spec("karafka", "original_topic", rank=rank)
        t[f"{prefix}partition"] = _Spec("karafka", "original_partition", Enc.INT_TEXT, rank=rank)
        t[f"{prefix}offset"] = _Spec("karafka", "original_offset", Enc.INT_TEXT, rank=rank)
        t[f"{prefix}consumer_group"] = _Spec("karafka", "consumer_group", rank=rank)
    t["source_attempts"] = _Spec("karafka", "attempts", Enc.INT_TEXT)
    for name, target, enc in (
        ("topic", "original_topic", Enc.TEXT),
        ("partition", "original_partition", Enc.INT_TEXT),
        ("offset", "original_offset", Enc.INT_TEXT),
        ("exception.class.name", "exception_class", Enc.TEXT),
        ("exception.message", "exception_message", Enc.TEXT),
        ("exception.stacktrace", "stack_trace", Enc.TEXT),
        ("connector.name", "connector_name", Enc.TEXT),
        ("task.id", "task_id", Enc.INT_TEXT),
        ("stage", "stage", Enc.TEXT),
        ("class.name", "stage_class", Enc.TEXT),
    ):
        t[f"{CONNECT_PREFIX}{name}"] = _Spec("connect", target, enc)
    return t


HEADERS: dict[str, _Spec] = _table()
"""Every known DLQ header name -> how it is decoded and which field it fills."""

FINGERPRINT_HEADERS = frozenset(
    name
    for name, spec in HEADERS.items()
    if spec.target
    in ("original_topic", "exception_class", "exception_cause_class", "exception_message", "java")
)
"""The headers a failure fingerprint depends on (no offsets, timestamps or stack traces)."""

_WIDTH = {Enc.INT32: 4, Enc.INT64: 8}

# Not printable as text: C0 controls except TAB/LF/CR, DEL, C1 controls (as UTF-8).
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


def is_dlq_header(name: str) -> bool:
    """Whether `name` is a header of a known DLQ convention."""
    return name in HEADERS


@dataclass(frozen=True, slots=True)
class DlqInfo:
    """What the DLQ headers say about the failed record. Fields are None when not present."""

    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    original_timestamp: int | None = None  # ms since the epoch
    original_timestamp_type: str | None = None  # e.g. "CREATE_TIME"
    consumer_group: str | None = None
    exception_class: str | None = None
    exception_cause_class: str | None = None  # the root cause, where the convention gives one
    exception_message: str | None = None
    stack_trace: str | None = None
    connector_name: str | None = None  # Connect only, as are task_id, stage, stage_class
    task_id: int | None = None
    stage: str | None = None
    stage_class: str | None = None
    source: DlqSource | None = None  # the convention (see CONVENTIONS)
    notes: tuple[str, ...] = ()  # known headers that could not be decoded
    attempts: int | None = None  # delivery attempts so far, where the convention counts them
    failed_data: bytes | None = None  # the bytes that failed to deserialize (spring-deser)
    extras: tuple[tuple[str, str], ...] = ()  # further labelled facts (cause message, next attempt...)

    @property
    def convention(self) -> str | None:
        """The convention id (``spring``, ``karafka``, ...), None without DLQ headers."""
        return self.source

    @property
    def convention_name(self) -> str:
        return CONVENTIONS.get(self.source or "", "")

    @property
    def root_cause_class(self) -> str | None:
        """The root cause class where the headers give one, else the exception class."""
        return self.exception_cause_class or self.exception_class

    def error_text(self) -> str:
        """``"exception_class: message"`` (either part alone when the other is missing; '' if none)."""
        if self.exception_class and self.exception_message:
            return f"{self.exception_class}: {self.exception_message}"
        return self.exception_class or self.exception_message or ""

    def fingerprint(self) -> Fingerprint:
        """The record's failure fingerprint (its group id is ``.id``)."""
        return fingerprint(
            self.exception_class, self.exception_cause_class, self.exception_message, self.original_topic
        )

    def exception_text(self) -> str:
        """The exception class and the root cause class, one per line ('' if none)."""
        return "\n".join(c for c in (self.exception_class, self.exception_cause_class) if c)

    def fields(self) -> list[tuple[str, str]]:
        """Labelled, present fields for a detail view (the stack trace excluded: it is long)."""
        out: list[tuple[str, str]] = []
        for label, value in (
            ("source", self.source),  # the convention id; `convention_name` names it
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
            ("attempts", self.attempts),
            ("failed bytes", _bytes_preview(self.failed_data)),
        ):
            if value is not None:
                out.append((label, str(value)))
        out.extend(self.extras)
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


def format_ts(ms: int | None) -> str | None:
    """A timestamp field as `DlqInfo.fields` shows it: ``ms (ISO time)``."""
    return _format_ts(ms)


def _bytes_preview(data: bytes | None, limit: int = 64) -> str | None:
    if data is None:
        return None
    shown = data[:limit].hex()
    return f"{len(data)} bytes: {shown}{'…' if len(data) > limit else ''}"


def _decode(spec: _Spec, name: str, value: bytes) -> tuple[Any, str | None]:
    """``(typed value, note)`` for a known header; the value is None when it cannot be decoded."""
    enc = spec.enc
    width = _WIDTH.get(enc)
    if width is not None:
        if len(value) != width:
            return None, f"{name}: expected a {width}-byte big-endian integer, got {len(value)} bytes"
        return int.from_bytes(value, "big", signed=True), None
    if enc is Enc.BIGINT:
        if not 1 <= len(value) <= 8:
            return None, f"{name}: expected a 1 to 8-byte big-endian integer, got {len(value)} bytes"
        return int.from_bytes(value, "big", signed=True), None
    if enc is Enc.JAVA:
        summary = summarize_throwable(value)
        note = f"{name}: {summary.error}" if summary.error else None
        return summary, note
    text = value.decode(errors="replace")
    if enc is Enc.INT_TEXT:
        try:
            return int(text.strip()), None
        except ValueError:
            return None, f"{name}: expected a decimal number, got {text[:40]!r}"
    return text, None


def _java_display(summary: ThrowableSummary) -> str:
    parts = [f"{summary.exception_class or '?'}: {summary.message or ''}".rstrip(": ")]
    parts.extend(f"caused by {cls}: {msg or ''}".rstrip(": ") for cls, msg in summary.causes)
    if summary.data is not None:
        parts.append(f"failed {'key' if summary.is_key else 'value'} {_bytes_preview(summary.data)}")
    if summary.error:
        parts.append(f"({summary.error}; strings: {', '.join(summary.strings[:8])})")
    return "; ".join(parts)


def header_display(name: str, value: bytes | None) -> str:
    """Any header value as one string: known DLQ headers decoded (integers as numbers, timestamps
    with ISO time, Java-serialized exceptions summarised), other headers as UTF-8 text when
    printable, else hex. ``(null)`` for a null value. A known binary header of the wrong length is
    hex with a note. Not terminal-sanitised."""
    if value is None:
        return "(null)"
    spec = HEADERS.get(name)
    if spec is not None:
        if spec.enc is Enc.TEXT:
            return value.decode(errors="replace")
        decoded, note = _decode(spec, name, value)
        if isinstance(decoded, ThrowableSummary):
            return _java_display(decoded)
        if isinstance(decoded, int):
            return (_format_ts(decoded) or "") if spec.timestamp else str(decoded)
        if spec.enc is Enc.INT_TEXT:
            return value.decode(errors="replace")
        return f"{value.hex()} ({note})"
    if _BINARY.search(value) is None:
        try:
            return value.decode()
        except UnicodeDecodeError:
            pass
    return value.hex()


def parse_dlq_headers(headers: Iterable[tuple[str, bytes | None]]) -> DlqInfo:
    """The known DLQ headers of a record as a `DlqInfo` (see the module docstring for the rules)."""
    last: dict[str, Any] = {}  # header name -> decoded value of its last occurrence
    seen: set[str] = set()
    notes: list[str] = []
    for name, raw in headers:
        spec = HEADERS.get(name)
        if spec is None:
            continue
        seen.add(spec.convention)
        if raw is None:
            last.pop(name, None)
            continue
        decoded, note = _decode(spec, name, raw)
        if note is not None:
            notes.append(note)
        if decoded is None:
            last.pop(name, None)
        else:
            last[name] = decoded
    if not seen:
        return EMPTY
    ordered = sorted(last.items(), key=lambda nv: (_PRIORITY[HEADERS[nv[0]].convention], HEADERS[nv[0]].rank))
    values: dict[str, Any] = {}
    extras: dict[str, str] = {}
    named_by: dict[str, str] = {}  # field -> the convention that gave it
    for name, decoded in ordered:
        spec = HEADERS[name]
        if isinstance(decoded, ThrowableSummary):
            for target, v in (
                ("exception_class", decoded.exception_class),
                ("exception_message", decoded.message),
                ("exception_cause_class", decoded.root_cause_class),
                ("failed_data", decoded.data),
            ):
                if v is not None and target not in values:
                    values[target] = v
                    named_by[target] = spec.convention
            for cls, msg in decoded.causes:
                extras.setdefault(f"caused by {cls}", msg or "")
        elif spec.target.startswith("extra:"):
            label = spec.target[6:]
            shown = _format_ts(decoded) if spec.timestamp and isinstance(decoded, int) else str(decoded)
            extras.setdefault(label, shown or "")
        elif spec.target not in values:
            values[spec.target] = decoded
            named_by[spec.target] = spec.convention
    # The convention is the one that says what failed (or else where it came from): Spring Cloud
    # Stream, for one, adds a few kafka_dlt-* headers to its own x-* ones.
    source = (
        named_by.get("exception_class")
        or named_by.get("original_topic")
        or min(seen, key=_PRIORITY.__getitem__)
    )
    return DlqInfo(
        source=source,  # type: ignore[arg-type]
        notes=tuple(notes),
        extras=tuple(extras.items()),
        **values,
    )
