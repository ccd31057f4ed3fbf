"""`dlq-tui print`, streaming: records are decoded, filtered and written as they arrive (each
partition in offset order), never stored, so memory stays bounded by one fetch batch whatever the
DLQ's size. A record is formatted by the one function for each format: `record_json.record_line`
(JSON lines, format v1, written as UTF-8 bytes), `linemode.describe_decoded` (text)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import TextIO

from dlq_tui.decode.view import RecordDecoder
from dlq_tui.display import undecoded_text
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.linemode import describe_decoded
from dlq_tui.print_filter import StreamFilter
from dlq_tui.print_worker import print_split, workers_wanted
from dlq_tui.record_json import record_line

__all__ = ["print_streaming"]

# Smaller fetches than the app's: what aiokafka buffers ahead is most of print's memory. A user's
# own -c fetch settings win.
STREAM_FETCH = {"fetch_max_bytes": 8 << 20, "max_partition_fetch_bytes": 1 << 20}


def _bytes_writer(out: TextIO) -> Callable[[bytes], object]:
    """A function writing UTF-8 bytes to `out`: to its binary buffer when it has one (stdout: no
    encoding step per line), else decoded."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        return lambda data: out.write(data.decode())

    def write(data: bytes) -> object:
        out.flush()  # anything written as text before goes first (a no-op once empty)
        return buffer.write(data)

    return write


def _out_fd(out: TextIO) -> int | None:
    """The file descriptor under `out`, None when it has none (a test's StringIO)."""
    try:
        return out.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


async def print_streaming(config: SessionConfig, where: str, fmt: str, limit: int, out: TextIO) -> int:
    """Print the unresolved records matching `where` (at most `limit`, 0 = all) as `fmt`
    ("jsonl" or "text"). The text format ends with a count line, for which it reads to the end of
    the snapshot (without decoding past the limit)."""
    kafka = dataclasses.replace(config.kafka, consumer={**STREAM_FETCH, **config.kafka.consumer})
    config = dataclasses.replace(config, kafka=kafka)
    workers = workers_wanted() if fmt == "jsonl" and not limit else 0
    out_fd = _out_fd(out) if workers else None
    if out_fd is not None:  # JSON lines on several cores: worker processes split the partitions
        out.flush()  # what was written before goes first
        return await print_split(config, where, out_fd, workers)
    session = TriageSession(config)
    await session.open()
    if session.start_note:  # stderr: JSON lines stay pure JSON
        print(f"dlq-tui: {session.start_note}", file=sys.stderr)
    # Schemas are fetched as records name them (line mode may wait on the registry) and cached.
    decoder = RecordDecoder(config.key_format, config.value_format, session.registry, cache_size=1)
    shown = 0
    stream_filter = StreamFilter(where)
    topic = config.source
    write = _bytes_writer(out)
    try:
        async for batch in session.stream():
            if limit and shown >= limit:
                if fmt == "jsonl":
                    break
                continue  # only counting now
            lines: list[bytes] = []
            for rec in batch:
                d = decoder.decode_uncached(rec)
                if not stream_filter.keeps(d):
                    continue
                if fmt == "jsonl":
                    lines.append(record_line(d, topic))
                else:
                    describe_decoded(d, config.source, out)
                shown += 1
                if limit and shown >= limit:
                    break
            if lines:
                lines.append(b"")
                write(b"\n".join(lines))
        if fmt == "text":
            out.write(f"{shown} of {session.unresolved_count()} unresolved records shown\n")
        if stream_filter.unknown:
            text = undecoded_text(stream_filter.unknown, stream_filter.reason)
            print(f"dlq-tui: {text}; left out", file=sys.stderr)
        return 0
    finally:
        await session.close()
