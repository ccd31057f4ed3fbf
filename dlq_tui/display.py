"""Small display helpers shared by the line mode and the TUI (no Textual here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["iso_ts", "local_ts", "size_text", "timestamp_type_name", "undecoded_text"]


def iso_ts(ms: int) -> str:
    """UTC ISO 8601 with milliseconds and a ``Z``: ``2026-11-01T12:00:00.000Z``."""
    try:  # integer arithmetic: ms / 1000 as a float is off by a millisecond after ~2100
        return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return str(ms)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def local_ts(ms: int, *, millis: bool = False) -> str:
    """Local time, ISO-like and compact: ``2026-11-01 13:00:00`` (``.123`` with `millis`)."""
    try:
        dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone()
    except (OverflowError, OSError, ValueError):
        return str(ms)
    return dt.isoformat(sep=" ", timespec="milliseconds" if millis else "seconds")[: 23 if millis else 19]


def timestamp_type_name(timestamp_type: int) -> str:
    return {0: "CreateTime", 1: "LogAppendTime"}.get(timestamp_type, f"type {timestamp_type}")


def size_text(n: int) -> str:
    """``57 B``, ``1.2 KiB``, ``3.4 MiB``."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def undecoded_text(n: int, reason: str | None) -> str:
    """What line mode says of records a filter could not judge (their key or value is undecodable)."""
    from dlq_tui.decode.sanitize import one_line, safe_text

    why = f" ({one_line(safe_text(reason), 160)})" if reason else ""
    return (
        f"{n} record(s) could not be decoded{why}: the filter cannot tell whether they match "
        "(a negation does not take them either)"
    )
