"""`dlq-tui history --audit-topic TOPIC [--where FILTER] [--format table|jsonl]`: the audit trail
that safe redrive writes (docs/redrive.md), as read_committed readers see it."""

from __future__ import annotations

import json
from typing import Any, TextIO

from dlq_tui.decode.sanitize import one_line, safe_text
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.filter import parse

HISTORY_GROUP = "dlq-tui-history"
"""Only named to read offsets: history reads the whole topic and commits nothing."""
COLUMNS = ("time", "decision", "source", "destination", "operator", "reason", "commit", "edited")


def _row(entry: dict[str, Any]) -> list[str]:
    source = f"{entry.get('source_topic')}:{entry.get('source_partition')}:{entry.get('source_offset')}"
    return [
        str(entry.get("time", "")),
        str(entry.get("decision", "")),
        source,
        str(entry.get("destination_topic") or "-"),
        str(entry.get("operator", "")),
        one_line(str(entry.get("reason") or ""), 40),
        str(entry.get("commit_id", ""))[:8],
        "yes" if entry.get("edited") else "",
    ]


def format_table(entries: list[dict[str, Any]]) -> list[str]:
    rows = [list(COLUMNS)] + [[safe_text(c) for c in _row(e)] for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


async def history(
    kafka: KafkaSettings, audit_topic: str, where: str, fmt: str, limit: int, out: TextIO
) -> int:
    flt = parse(where) if where else None
    config = SessionConfig(
        kafka=kafka,
        source=audit_topic,
        group=HISTORY_GROUP,
        from_beginning=True,
        read_only=True,
        use_journal=False,
        key_format="string",
        value_format="json",
    )
    session = TriageSession(config)
    await session.open()
    try:
        await session.load_all()
        rows = session.visible_rows()
        selected = list(session.match(flt, rows)) if flt is not None else list(rows)
        if limit:
            selected = selected[:limit]
        entries: list[dict[str, Any]] = []
        for row in selected:
            value = session.decoded(row).value
            if value.kind == "json" and isinstance(value.data, dict):
                entries.append(value.data)
        if fmt == "jsonl":
            for e in entries:
                out.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            for line in format_table(entries):
                out.write(line + "\n")
            out.write(f"{len(entries)} audit record(s)\n")
    finally:
        await session.close()
    return 0
