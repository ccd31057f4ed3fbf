"""The line-mode commands end to end, through the installed `dlq-tui` command, against the real
stack; kcat confirms what was written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlq_tui.decode.registry import SchemaRegistry
from dlq_tui.demo.__main__ import recreate_topics, seed, wait_for_leaders
from dlq_tui.demo.data import (
    ARTICLE_ORDERS,
    DLQ_TOPIC,
    FAILURES,
    GROUP,
    RETRY_TOPIC,
    order_canceled_schema,
    spring_headers,
    wire_avro,
)
from tests.stack import SEED_COMMAND_LINE, Rec, Stack, group_offsets, kcat_read, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))


def run(
    args: list[str], stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DLQ_TUI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


async def _article_dlq(stack: Stack, dlq: str, retry: str) -> list[bytes]:
    """The seed article's DLQ under names of this test: its three orders, Avro in the wire format,
    Spring DLT headers."""
    with SchemaRegistry(stack.registry_url) as registry:
        schema_id = registry.register(f"{dlq}-value", order_canceled_schema())
    await recreate_topics(
        stack.bootstrap, {dlq: {"cleanup.policy": "compact"}, retry: {"cleanup.policy": "compact"}}, 3
    )
    await wait_for_leaders(stack.bootstrap, [dlq, retry])
    now = int(time.time() * 1000)
    values = [wire_avro(schema_id, {"orderNumber": n, "reason": r}) for n, r in ARTICLE_ORDERS]
    await produce(
        stack.bootstrap,
        dlq,
        [
            Rec(n.encode(), v, headers=spring_headers(0, 10 + i, now, FAILURES[i]), timestamp=now + i)
            for i, ((n, _), v) in enumerate(zip(ARTICLE_ORDERS, values, strict=True))
        ],
    )
    return values


def article_command_line(stack: Stack, group: str, dlq: str, retry: str) -> list[str]:
    """The seed article's command line word for word, with this test's topics and group (never the
    demo's: the suite may run while `make demo` is open) and the stack's addresses."""
    names = {
        "localhost:9092": stack.bootstrap,
        "schema.registry.url=http://localhost:8081": f"schema.registry.url={stack.registry_root}",
        GROUP: group,
        DLQ_TOPIC: dlq,
        RETRY_TOPIC: retry,
    }
    return [names.get(word, word) for word in SEED_COMMAND_LINE]


async def test_seed_article_scenario_with_its_exact_command_line(stack: Stack, topic_name: str) -> None:
    dlq, retry, group = f"{topic_name}-dead-letter-queue", f"{topic_name}-retry-1", unique_name("consumer")
    values = await _article_dlq(stack, dlq, retry)
    command = article_command_line(stack, group, dlq, retry)
    assert len(command) == len(SEED_COMMAND_LINE) and command[0] == "ask"
    result = run(command, stdin="m\np\nm\n")
    assert result.returncode == 0, result.stderr
    assert "2 merged, 1 purged, 0 skipped" in result.stdout
    assert '"reason":"Ordered the wrong product"' in result.stdout  # Avro decoded through the registry

    retry_records = kcat_read(stack.bootstrap, retry)
    assert sorted((r.key, r.value) for r in retry_records) == [(b"ORD001", values[0]), (b"ORD003", values[2])]
    dlq_records = kcat_read(stack.bootstrap, dlq)
    assert sorted(r.key for r in dlq_records if r.value is None) == [b"ORD001", b"ORD002", b"ORD003"]

    again = run(command, stdin="")
    assert again.returncode == 0
    assert "no unresolved records" in again.stdout, "nothing is offered twice, not even our tombstones"


async def test_skip_comes_back_next_time(stack: Stack, topic_name: str) -> None:
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    base = ["-b", stack.bootstrap, "-g", unique_name("g"), "-c", f"schema.registry.url={stack.registry_root}"]
    where = ["--where", "key:ORD00*"]
    first = run(["ask", *base, *where, source, dest], stdin="s\np\ns\n")
    assert "0 merged, 1 purged, 2 skipped" in first.stdout, first.stdout + first.stderr
    second = run(["print", *base, *where, "--format", "jsonl", source])
    keys = [json.loads(line)["key"] for line in second.stdout.splitlines()]
    assert keys == ["ORD001", "ORD003"], "skipped records stay unresolved (the reference tool's issue #1)"


async def test_merge_all_where_and_dry_run(stack: Stack, topic_name: str) -> None:
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 30, dlq_topic=source, retry_topic=dest, quiet=True)
    base = ["-b", stack.bootstrap, "-g", unique_name("g"), "-c", f"schema.registry.url={stack.registry_root}"]
    where = ["--where", "error:*Timeout* partition:1"]
    dry = run(["merge-all", *base, *where, "--dry-run", source, dest])
    assert dry.returncode == 0, dry.stderr
    planned = [line for line in dry.stdout.splitlines() if line.startswith("would merge")]
    assert planned and all(" 1:" in line for line in planned)
    assert "dry run: nothing written" in dry.stdout
    assert kcat_read(stack.bootstrap, dest) == []

    real = run(["merge-all", *base, *where, source, dest])
    assert real.returncode == 0, real.stderr
    assert f"{len(planned)} merged, 0 purged, 0 skipped" in real.stdout
    merged = kcat_read(stack.bootstrap, dest)
    assert len(merged) == len(planned)


async def test_purge_all_and_print_escape_payloads(stack: Stack, topic_name: str) -> None:
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    base = ["-b", stack.bootstrap, "-g", unique_name("g"), "-c", f"schema.registry.url={stack.registry_root}"]
    printed = run(["print", *base, source])
    assert printed.returncode == 0, printed.stderr
    assert "\x1b" not in printed.stdout, "terminal escapes in payloads are shown, never sent"
    assert "ORD-\\x1b[7mANSI" in printed.stdout  # the key, escaped visibly
    assert "\\u001b[2J" in printed.stdout  # the Avro value, rendered as JSON
    assert "[bold red]not markup[/bold red]" in printed.stdout
    assert "not valid Avro" in printed.stdout

    purged = run(["purge-all", *base, "--where", "key:ORD-POISON OR key:ORD-BAD-UTF8", source])
    assert "0 merged, 2 purged, 0 skipped" in purged.stdout, purged.stdout + purged.stderr
    left = run(["print", *base, "--format", "jsonl", source])
    keys = {json.loads(line)["key"] for line in left.stdout.splitlines()}
    assert "ORD-POISON" not in keys and "ORD-BAD-UTF8" not in keys and "ORD001" in keys


async def test_ten_megabyte_record_is_merged_intact(stack: Stack, topic_name: str) -> None:
    from tests.stack import create_topic

    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    big = os.urandom(10 * 1024 * 1024)
    config = {"max.message.bytes": str(16 * 1024 * 1024)}
    await create_topic(stack.bootstrap, source, 1, config)
    await create_topic(stack.bootstrap, dest, 1, config)
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, max_request_size=16 * 1024 * 1024)
    await producer.start()
    try:
        await producer.send_and_wait(source, big, key=b"big")
    finally:
        await producer.stop()
    base = ["-b", stack.bootstrap, "-g", unique_name("g"), "-p", f"max.request.size={16 * 1024 * 1024}"]
    shown = run(["print", *base, source])
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout) < 10_000, "a 10 MB value is previewed, not dumped"
    merged = run(["merge-all", *base, source, dest])
    assert "1 merged" in merged.stdout, merged.stdout + merged.stderr
    [copy] = kcat_read(stack.bootstrap, dest)
    assert copy.value == big


async def test_ask_commit_every(stack: Stack, topic_name: str) -> None:
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    group = unique_name("g")
    base = ["-b", stack.bootstrap, "-g", group, "--where", "key:ORD00*"]
    result = run(["ask", *base, "--commit-every", "1", source, dest], stdin="m\np\nq\n")
    assert result.returncode == 0, result.stderr
    assert "1 merged, 1 purged, 0 skipped" in result.stdout
    assert "in 2 transactions" in result.stdout
    offset, _ = (await group_offsets(stack.bootstrap, group, source))[0]
    assert offset == 2


async def test_ask_refuses_a_keyless_merge_and_asks_again(stack: Stack, topic_name: str) -> None:
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    base = ["-b", stack.bootstrap, "-g", unique_name("g"), "-c", f"schema.registry.url={stack.registry_root}"]
    base += ["--where", "value.orderNumber:ORD-KEYLESS"]
    result = run(["ask", *base, source, dest], stdin="m\np\n")
    assert result.returncode == 0, result.stderr
    assert "cannot do that" in result.stdout and "keyless" in result.stdout
    assert "0 merged, 1 purged, 0 skipped" in result.stdout


async def test_ask_journal_survives_a_killed_session(stack: Stack, topic_name: str, tmp_path: Path) -> None:
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    args = ["ask", "-b", stack.bootstrap, "-g", unique_name("g"), "--where", "key:ORD00*", source, dest]
    proc = subprocess.Popen(
        [DLQ_TUI, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("m\np\n")
    proc.stdin.flush()
    seen = ""
    while seen.count("Merge, purge or skip?") < 3:
        seen += proc.stdout.read(1)
    proc.kill()  # the SSH session drops before the commit
    proc.wait()
    assert kcat_read(stack.bootstrap, dest) == []

    again = run(args, stdin="")
    assert again.returncode == 0, again.stderr
    assert "restored 2 staged decision(s)" in again.stdout
    assert "1 merged, 1 purged, 0 skipped" in again.stdout
    assert [r.key for r in kcat_read(stack.bootstrap, dest)] == [b"ORD001"]


async def test_ask_again_asks_about_skipped_records(stack: Stack, topic_name: str) -> None:
    """A skip in a run that ended normally never hides the record from the next run (the
    reference tool's issue #1, through the journal this time)."""
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 3, dlq_topic=source, retry_topic=dest, quiet=True)
    args = ["ask", "-b", stack.bootstrap, "-g", unique_name("g"), "--where", "key:ORD00*", source, dest]
    first = run(args, stdin="s\np\ns\n")
    assert first.returncode == 0, first.stderr
    assert "0 merged, 1 purged, 2 skipped" in first.stdout
    second = run(args, stdin="s\ns\n")
    assert second.returncode == 0, second.stderr
    assert "restored" not in second.stdout, "a normal end leaves nothing to restore"
    assert second.stdout.count("Record at offset") == 2, second.stdout
    assert "no unresolved records" not in second.stdout


async def test_dry_run_numbers_equal_the_commit_with_a_withheld_tombstone(
    stack: Stack, topic_name: str
) -> None:
    """One commit plan: `--dry-run` promises exactly what the commit then writes, including a
    tombstone withheld because a newer record with the same key stays undecided."""
    from tests.stack import create_topic

    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await create_topic(stack.bootstrap, source, 1, {"cleanup.policy": "compact"})
    await create_topic(stack.bootstrap, dest, 1)
    await produce(
        stack.bootstrap,
        source,
        [Rec(b"A", b"a-0"), Rec(b"B", b"b-1"), Rec(b"A", b"a-2"), Rec(b"C", b"c-3")],
    )
    base = ["-b", stack.bootstrap, "-g", unique_name("g"), "--where", "offset:0..1"]
    dry = run(["merge-all", *base, "--dry-run", source, dest])
    assert dry.returncode == 0, dry.stderr
    assert "tombstones: 1 to" in dry.stdout, dry.stdout
    assert "1 withheld: a newer record with the same key is undecided" in dry.stdout
    assert "tombstone withheld 0:0 key A" in dry.stdout
    assert "Commit 2 staged decisions in 1 transaction" in dry.stdout
    assert kcat_read(stack.bootstrap, dest) == []

    real = run(["merge-all", *base, source, dest])
    assert real.returncode == 0, real.stderr
    assert "2 merged, 0 purged, 0 skipped; 1 tombstone in 1 transaction" in real.stdout, real.stdout
    assert "1 tombstone withheld" in real.stdout
    tombstones = [r.key for r in kcat_read(stack.bootstrap, source) if r.value is None]
    assert tombstones == [b"B"]
    assert sorted(r.key for r in kcat_read(stack.bootstrap, dest)) == [b"A", b"B"]
