"""The decoded view of a record: what the detail pane shows and what filters look at."""

from __future__ import annotations

import json
from typing import Any

from ..triage.records import RecordId, RecordLike
from .cache import LruCache
from .dlq_headers import DlqInfo, header_display, parse_dlq_headers
from .formats import Decoded, Format, decode_bytes, parse_format
from .registry import SchemaSource
from .wire import KEY_SCHEMA_ID_HEADER, VALUE_SCHEMA_ID_HEADER

__all__ = ["DEFAULT_CACHE_SIZE", "DecodedRecord", "RecordDecoder"]

DEFAULT_CACHE_SIZE = 4096


def _field_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def schema_header(headers: Any, name: str) -> tuple[str, bytes] | None:
    """The last header called `name` with a value, as ``(name, value)`` (for `decode_bytes`)."""
    for hname, hvalue in reversed(headers):
        if hname == name and hvalue is not None:
            return name, hvalue
    return None


def _walk(values: list[Any], segment: str) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict):
            if segment in v:
                out.append(v[segment])
        elif isinstance(v, list):
            if segment.lstrip("-").isdigit():
                i = int(segment)
                if -len(v) <= i < len(v):
                    out.append(v[i])
            else:  # a field of every element: items.sku
                out.extend(_walk(v, segment))
    return out


class DecodedRecord:
    """A record (`RawRecord`, or any `RecordLike`) with its key, value and DLQ headers decoded. Implements the filter
    language's `FilterSubject`. Texts are as decoded, not terminal-sanitised (see `sanitize`).

    Key, value and headers are decoded lazily, each on first use (a filter on a value field never
    decodes the key or the headers), and then kept. Concurrent first uses may both decode; the
    results are equal, so that race is harmless.
    """

    __slots__ = ("_dlq", "_formats", "_full_text", "_key", "_value", "raw")

    def __init__(
        self,
        raw: RecordLike,
        key: Decoded | None = None,
        value: Decoded | None = None,
        dlq: DlqInfo | None = None,
        *,
        key_format: Format = Format.AUTO,
        value_format: Format = Format.AUTO,
        registry: SchemaSource | None = None,
    ) -> None:
        self.raw = raw
        self._key = key
        self._value = value
        self._dlq = dlq
        self._formats = (key_format, value_format, registry)
        self._full_text: str | None = None

    @property
    def formats(self) -> tuple[Format, Format, SchemaSource | None]:
        """``(key format, value format, registry)`` this record decodes with."""
        return self._formats

    @property
    def key(self) -> Decoded:
        key = self._key
        if key is None:
            header = schema_header(self.raw.headers, KEY_SCHEMA_ID_HEADER)
            key = self._key = decode_bytes(self.raw.key, self._formats[0], self._formats[2], header)
        return key

    @property
    def value(self) -> Decoded:
        value = self._value
        if value is None:
            header = schema_header(self.raw.headers, VALUE_SCHEMA_ID_HEADER)
            value = self._value = decode_bytes(self.raw.value, self._formats[1], self._formats[2], header)
        return value

    @property
    def dlq(self) -> DlqInfo:
        dlq = self._dlq
        if dlq is None:
            try:
                dlq = parse_dlq_headers(self.raw.headers)
            except Exception as exc:  # defensive: never raise into the app
                dlq = DlqInfo(notes=(f"internal header decode error: {type(exc).__name__}: {exc}",))
            self._dlq = dlq
        return dlq

    def __repr__(self) -> str:
        where = f"p{self.raw.partition}@{self.raw.offset}"
        return f"DecodedRecord({where}, key={self.key.kind}, value={self.value.kind})"

    @property
    def partition(self) -> int:
        return self.raw.partition

    @property
    def offset(self) -> int:
        return self.raw.offset

    @property
    def timestamp(self) -> int:
        return self.raw.timestamp

    @property
    def rid(self) -> RecordId:
        return RecordId(self.raw.partition, self.raw.offset)

    @property
    def pending(self) -> bool:
        """Whether the key or the value waits for its schema (see `Decoded.pending`)."""
        return self.key.pending or self.value.pending

    def key_text(self) -> str:
        return self.key.text

    def value_text(self) -> str:
        return self.value.text

    def value_fields(self, path: str) -> list[str] | None:
        """Values at dotted `path` of the structured value (list segments: an index, or a field
        of every element); None when the value is not structured or nothing is at the path."""
        if not self.value.structured:
            return None
        found = [self.value.data]
        if path:
            for segment in path.split("."):
                found = _walk(found, segment)
                if not found:
                    return None
        return [_field_text(v) for v in found]

    def header_text(self, name: str) -> str | None:
        """The last header called `name`, as `header_display` shows it ('' for a null value)."""
        for hname, hvalue in reversed(self.raw.headers):
            if hname == name:
                return "" if hvalue is None else header_display(hname, hvalue)
        return None

    def error_text(self) -> str:
        return self.dlq.error_text()

    def is_undecoded(self, part: str) -> bool:
        """Whether the key or value (`part`) could not be decoded as it should (its preferred
        decoding failed: registry unreachable, unknown schema, poison bytes) and shows a fallback;
        a filter over it is then unknown, not false."""
        decoded = self.key if part == "key" else self.value
        return decoded.error is not None and not decoded.structured

    def undecoded_reason(self) -> str | None:
        """Why the value (else the key) could not be decoded; None when both were."""
        for decoded in (self.value, self.key):
            if decoded.error is not None and not decoded.structured:
                return decoded.error
        return None

    def origin_text(self) -> str | None:
        return self.dlq.original_topic

    def exception_text(self) -> str:
        return self.dlq.exception_text()

    def group_id(self) -> str:
        return self.dlq.fingerprint().id

    def full_text(self) -> str:
        if self._full_text is None:
            parts = [self.key.text, self.value.text]
            parts.extend(f"{n}: {'' if v is None else header_display(n, v)}" for n, v in self.raw.headers)
            parts.append(self.dlq.error_text())
            self._full_text = "\n".join(parts)
        return self._full_text


class RecordDecoder:
    """Decodes records of one source topic, caching the last `cache_size` by (partition, offset).

    Thread-safe. Formats are fixed per decoder: to switch, make a new one (sharing the registry,
    whose schema cache then carries over).
    """

    def __init__(
        self,
        key_format: Format | str = Format.AUTO,
        value_format: Format | str = Format.AUTO,
        registry: SchemaSource | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.key_format = parse_format(key_format)
        self.value_format = parse_format(value_format)
        self.registry = registry
        self._cache: LruCache[tuple[int, int], DecodedRecord] = LruCache(cache_size)

    def decode(self, raw: RecordLike) -> DecodedRecord:
        """The decoded view of `raw` (cached; its parts decode lazily). Never raises."""
        rid = (raw.partition, raw.offset)
        hit = self._cache.get(rid)
        if hit is not None:
            return hit
        decoded = self.decode_uncached(raw)
        self._cache.put(rid, decoded)
        return decoded

    def decode_uncached(self, raw: RecordLike) -> DecodedRecord:
        """Without touching the cache (for one-pass scans that should not evict what is shown)."""
        return DecodedRecord(
            raw, key_format=self.key_format, value_format=self.value_format, registry=self.registry
        )

    def clear_cache(self) -> None:
        self._cache.clear()
