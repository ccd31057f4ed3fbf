"""`print` streams: the same records and the same output as formatting the loaded store (apart from
order), each partition in offset order, resolved records left out."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from dlq_tui.demo.__main__ import seed
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.linemode import describe
from dlq_tui.print_stream import print_streaming
from dlq_tui.record_json import dumps, record_json
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.filter import parse
from tests.stack import Rec, Stack, produce, unique_name


def _config(stack: Stack, source: str, group: str) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=f"{source}-retry",
        group=group,
        registry_url=stack.registry_url,
        use_journal=False,
        tombstones="never",
    )


async def _loaded_output(config: SessionConfig, where: str) -> tuple[list[str], list[str], int]:
    """What `print` wrote before it streamed: the loaded store's visible rows, filtered, formatted."""
    session = TriageSession(config)
    await session.open()
    try:
        await session.load_all()
        rows = session.visible_rows()
        if where:
            rows = session.match(parse(where), rows)
        session.prefetch_schemas(rows)
        lines = [dumps(record_json(session.decoded(r), config.source)) for r in rows]
        blocks = []
        for r in rows:
            out = io.StringIO()
            describe(session, r, out)
            blocks.append(out.getvalue())
        return lines, blocks, session.unresolved_count()
    finally:
        await session.close()


def _blocks(text: str) -> list[str]:
    parts = text.split("Record at offset #")
    return ["Record at offset #" + p for p in parts[1:]]


@pytest.mark.parametrize("where", ["", "error:*Timeout* OR key:ORD-POISON", "-partition:0"])
async def test_streamed_print_equals_loaded_print(stack: Stack, where: str) -> None:
    source = unique_name("print-dlq")
    await seed(
        stack.bootstrap, stack.registry_url, 40, dlq_topic=source, retry_topic=f"{source}-retry", quiet=True
    )
    await produce(
        stack.bootstrap,
        source,
        [
            Rec(f"J{i}".encode(), json.dumps({"n": i, "s": "x" * i}).encode(), partition=i % 3)
            for i in range(30)
        ],
    )
    group = unique_name("g")
    config = _config(stack, source, group)
    # Resolve some records first, so that streaming has to leave them out.
    first = TriageSession(config)
    await first.open()
    await first.load_all()
    first.decide([r for r in first.visible_rows() if r % 4 == 1], Decision.PURGE)
    await first.commit()
    await first.close()

    expected, expected_blocks, unresolved = await _loaded_output(config, where)
    assert expected, "the filter selects some records"

    out = io.StringIO()
    assert await print_streaming(config, where, "jsonl", 0, out) == 0
    lines = out.getvalue().splitlines()
    assert sorted(lines) == sorted(expected), "the same lines, byte for byte, apart from order"
    got = [json.loads(line) for line in lines]
    for p in {o["partition"] for o in got}:
        offsets = [o["offset"] for o in got if o["partition"] == p]
        assert offsets == sorted(offsets), "each partition in offset order"

    text = io.StringIO()
    assert await print_streaming(config, where, "text", 0, text) == 0
    body, trailer = text.getvalue().rsplit("\n", 2)[0], text.getvalue().rsplit("\n", 2)[1]
    assert Counter(_blocks(body + "\n")) == Counter(expected_blocks)
    assert trailer == f"{len(expected_blocks)} of {unresolved} unresolved records shown"


async def test_streamed_print_limit(stack: Stack) -> None:
    source = unique_name("print-limit")
    from tests.stack import create_topic

    await create_topic(stack.bootstrap, source, 2)
    await create_topic(stack.bootstrap, f"{source}-retry", 1)
    await produce(stack.bootstrap, source, [Rec(b"k%d" % i, b"v%d" % i, partition=i % 2) for i in range(25)])
    config = _config(stack, source, unique_name("g"))
    out = io.StringIO()
    await print_streaming(config, "", "jsonl", 7, out)
    assert len(out.getvalue().splitlines()) == 7
    text = io.StringIO()
    await print_streaming(config, "", "text", 3, text)
    assert text.getvalue().count("Record at offset #") == 3
    assert text.getvalue().endswith("3 of 25 unresolved records shown\n")
