"""`--from`: where reading starts, so a huge DLQ can be looked at from an offset or a time without
loading all of it. Resolution still comes from the group's committed offsets; records before the
start are simply not loaded.

Forms: ``p1:33000`` (partition 1 from offset 33000; only the partitions named are read;
``p0:100,p1:33000`` names several), ``33000`` (every partition from offset 33000), an ISO time
``2026-11-27T08:00`` (UTC unless it carries an offset such as ``+01:00``; a date alone is its
midnight) and a time relative to now, ``-90m``, ``-1h``, ``-2d``, ``-1w``. Pure: no Kafka here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["StartError", "StartPlan", "StartSpec", "choose_starts", "parse_start", "plan_start"]


class StartError(ValueError):
    """A `--from` value that is not one of the forms (the message lists them)."""


FORMS = "p1:33000, 33000, 2026-11-27T08:00 or -1h"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class StartSpec:
    text: str
    """As given, for messages."""
    offsets: dict[int, int] | None = None
    """Partition -> first offset to read; partitions not named are not read."""
    offset: int | None = None
    """The first offset to read in every partition."""
    time_ms: int | None = None
    """The first record time to read (ms since the epoch): each partition starts at its first
    record at or after it (Kafka's offsets-for-times)."""


def parse_start(text: str, now: datetime | None = None) -> StartSpec:
    """Parse a `--from` value; raises `StartError` naming the accepted forms."""
    s = text.strip()
    if not s:
        raise StartError(f"--from needs a value ({FORMS})")
    if re.fullmatch(r"\d+", s):
        return StartSpec(text, offset=int(s))
    if s[0] in "pP" and ":" in s:
        offsets: dict[int, int] = {}
        for part in s.split(","):
            m = re.fullmatch(r"\s*[pP](\d+):(\d+)\s*", part)
            if m is None:
                raise StartError(
                    f"--from {text!r}: {part.strip()!r} is not PARTITION:OFFSET such as p1:33000"
                )
            partition = int(m.group(1))
            if partition in offsets:
                raise StartError(f"--from {text!r}: partition {partition} is named twice")
            offsets[partition] = int(m.group(2))
        return StartSpec(text, offsets=offsets)
    m = re.fullmatch(r"-(\d+)([smhdw])", s)
    if m:
        ago = timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
        return StartSpec(text, time_ms=int(((now or datetime.now(UTC)) - ago).timestamp() * 1000))
    try:
        when = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        raise StartError(f"--from {text!r} is not an offset or a time ({FORMS})") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return StartSpec(text, time_ms=int(when.timestamp() * 1000))


def choose_starts(
    spec: StartSpec,
    partitions: list[int],
    log_starts: dict[int, int],
    ends: dict[int, int],
    for_time: dict[int, int | None] | None = None,
) -> dict[int, int]:
    """The first offset to read per partition, within [log start, end]: `for_time` is Kafka's
    answer for `spec.time_ms` (None: no record that late, so the partition is read from its end).
    A partition named in `spec.offsets` that the topic lacks raises `StartError`."""
    out: dict[int, int] = {}
    if spec.offsets is not None:
        unknown = sorted(set(spec.offsets) - set(partitions))
        if unknown:
            raise StartError(
                f"--from {spec.text!r}: no partition {', '.join(map(str, unknown))} "
                f"(the topic has partitions {min(partitions)}..{max(partitions)})"
            )
    for p in partitions:
        if spec.offsets is not None:
            wanted = spec.offsets.get(p, ends[p])
        elif spec.offset is not None:
            wanted = spec.offset
        else:
            found = (for_time or {}).get(p)
            wanted = ends[p] if found is None else found
        out[p] = min(max(wanted, log_starts[p]), ends[p])
    return out


@dataclass(frozen=True)
class StartPlan:
    """What the reader is given, and what the engine tells the engineer about it."""

    starts: dict[int, int]
    skipped: dict[int, int]
    """Per partition: offsets between the group's committed offset (or the log start) and the
    start, which may hold unresolved records that are not loaded (an upper bound: offsets have
    gaps, and some may be resolved through the committed metadata)."""
    note: str

    @property
    def skips_unresolved(self) -> bool:
        return any(self.skipped.values())


def plan_start(
    spec: StartSpec,
    chosen: dict[int, int],
    committed: dict[int, int],
    log_starts: dict[int, int],
    *,
    from_beginning: bool = False,
) -> StartPlan:
    """Combine the chosen starts with the group's committed offsets: without `from_beginning`
    reading never starts below the committed offset (those records are resolved and not shown)."""
    starts: dict[int, int] = {}
    skipped: dict[int, int] = {}
    for p, start in chosen.items():
        first_unresolved = max(committed.get(p, 0), log_starts.get(p, 0))
        starts[p] = start if from_beginning else max(start, first_unresolved)
        skipped[p] = max(0, starts[p] - first_unresolved)
    total = sum(skipped.values())
    note = f"from {spec.text}: "
    note += (
        f"up to {total:,} unresolved offsets before the start are not loaded"
        if total
        else "nothing unresolved before the start"
    )
    if spec.offsets is not None:
        unread = sorted(set(chosen) - set(spec.offsets))
        if unread:
            note += f"; partition {', '.join(map(str, unread))} not read"
    return StartPlan(starts, skipped, note)
