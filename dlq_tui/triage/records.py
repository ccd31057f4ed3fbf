"""The raw record as read from the DLQ, and what a filter may ask of a record.

`RawRecord` holds exactly the bytes Kafka returned; the write path copies these and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

Header = tuple[str, bytes | None]


class RecordId(NamedTuple):
    """A record's address in the source topic."""

    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One source record, byte for byte. `timestamp_type` is 0 (CreateTime) or 1 (LogAppendTime)."""

    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()

    @property
    def rid(self) -> RecordId:
        return RecordId(self.partition, self.offset)


class RecordLike(Protocol):
    """Anything with a record's fields: a `RawRecord`, or a Kafka client's consumer record handed
    straight to the store (saving one object per record while loading)."""

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def timestamp_type(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[Header]: ...


class FilterSubject(Protocol):
    """What the filter language may look at. Implemented by the decode layer's decoded view.

    Text accessors return the *decoded* text as shown to the user (Avro/JSON rendered as JSON,
    undecodable bytes as hex).
    """

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def timestamp(self) -> int:
        """Milliseconds since the epoch."""
        ...

    def key_text(self) -> str: ...

    def value_text(self) -> str: ...

    def value_fields(self, path: str) -> list[str] | None:
        """Values at a dotted field path of the decoded JSON/Avro value, rendered as text;
        None when the value is not structured or the path does not exist."""
        ...

    def header_text(self, name: str) -> str | None:
        """The named header as text (decoded when it is a known DLQ header); None if absent."""
        ...

    def error_text(self) -> str:
        """Exception class and message from known DLQ headers ('' when none)."""
        ...

    def full_text(self) -> str:
        """Everything searchable at once: key, value, header values, error."""
        ...

    def origin_text(self) -> str | None:
        """The origin topic from known DLQ headers; None when they name none."""
        ...

    def exception_text(self) -> str:
        """Exception class and root-cause class from known DLQ headers, one per line ('' if none)."""
        ...

    def group_id(self) -> str:
        """The id of the record's failure group (see `triage.fingerprint`)."""
        ...
