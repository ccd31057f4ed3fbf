"""`dlq-tui print`, streaming: records are decoded, filtered and written as they arrive (each
partition in offset order), never stored, so memory stays bounded by one fetch batch whatever the
DLQ's size. JSON lines are encoded with orjson; the record's JSON object and the text block come
from `linemode` (`as_json`, `describe_decoded`), the one place that formats a record."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, BinaryIO, TextIO

import orjson

from dlq_tui.decode.view import RecordDecoder
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.linemode import as_json, describe_decoded
from dlq_tui.triage.filter import parse

__all__ = ["dumps_line", "print_streaming"]

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
# Smaller fetches than the app's: what aiokafka buffers ahead is most of print's memory. A user's
# own -c fetch settings win.
STREAM_FETCH = {"fetch_max_bytes": 8 << 20, "max_partition_fetch_bytes": 1 << 20}


def dumps_line(obj: dict[str, Any]) -> bytes:
    """One JSON line (UTF-8, compact, newline-terminated). Falls back to the standard library
    for what orjson refuses (integers beyond 64 bits in a decoded payload)."""
    try:
        return orjson.dumps(obj, option=_OPTS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return (json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()


async def print_streaming(config: SessionConfig, where: str, fmt: str, limit: int, out: TextIO) -> int:
    """Print the unresolved records matching `where` (at most `limit`, 0 = all) as `fmt`
    ("jsonl" or "text"). The text format ends with a count line, for which it reads to the end of
    the snapshot (without decoding past the limit)."""
    flt = parse(where) if where else None
    kafka = dataclasses.replace(config.kafka, consumer={**STREAM_FETCH, **config.kafka.consumer})
    config = dataclasses.replace(config, kafka=kafka)
    session = TriageSession(config)
    await session.open()
    # Schemas are fetched as records name them (line mode may wait on the registry) and cached.
    decoder = RecordDecoder(config.key_format, config.value_format, session.registry, cache_size=1)
    binary: BinaryIO | None = getattr(out, "buffer", None) if fmt == "jsonl" else None
    if binary is not None:
        out.flush()
    shown = 0
    try:
        async for batch in session.stream():
            if limit and shown >= limit:
                if fmt == "jsonl":
                    break
                continue  # only counting now
            lines: list[bytes] = []
            for rec in batch:
                d = decoder.decode_uncached(rec)
                if flt is not None and not flt.matches(d):
                    continue
                if fmt == "jsonl":
                    lines.append(dumps_line(as_json(d)))
                else:
                    describe_decoded(d, config.source, out)
                shown += 1
                if limit and shown >= limit:
                    break
            if lines:
                data = b"".join(lines)
                if binary is not None:
                    binary.write(data)
                else:
                    out.write(data.decode())
        if binary is not None:
            binary.flush()
        if fmt == "text":
            out.write(f"{shown} of {session.unresolved_count()} unresolved records shown\n")
        return 0
    finally:
        await session.close()
