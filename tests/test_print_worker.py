"""`print --format jsonl` with its worker process (print_worker): the same lines as in one process
over records of every format, each partition in offset order; interrupted or killed, whole lines
only and no record of a partition skipped before the last one printed; `| head` exits quietly."""

from __future__ import annotations

import asyncio
import io
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from dlq_tui.demo.__main__ import seed
from dlq_tui.engine import SessionConfig
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.print_stream import print_streaming
from tests.stack import Rec, Stack, create_topic, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))


def _config(stack: Stack, source: str) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=f"{source}-retry",
        group=unique_name("g"),
        registry_url=stack.registry_url,
        use_journal=False,
        tombstones="never",
    )


def _assert_partition_order(lines: list[str]) -> dict[int, list[int]]:
    offsets: dict[int, list[int]] = {}
    for line in lines:
        obj = json.loads(line)
        offsets.setdefault(obj["partition"], []).append(obj["offset"])
    for p, seen in offsets.items():
        assert seen == sorted(seen), f"partition {p} in offset order"
    return offsets


@pytest.mark.parametrize("where", ["", "error:*Timeout* OR key:ORD-POISON OR value.n:3"])
async def test_worker_prints_the_lines_of_one_process(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    source = unique_name("print-worker")
    await seed(
        stack.bootstrap,
        stack.registry_url,
        30,
        dlq_topic=source,
        retry_topic=f"{source}-retry",
        quiet=True,
        formats=True,
        conventions=1,
    )
    await produce(
        stack.bootstrap,
        source,
        [
            Rec(b"J1", b'{"n": 3, "price": 2.50, "big": 123456789012345678901234567890}', partition=0),
            Rec(b"J2", '{"name": "Müller \\u00e9", "bidi": "\u202e"}'.encode(), partition=1),
            Rec(b"T1", b"plain text", partition=2),
            Rec(b"B1", b"\x00\xff\xfe binary", partition=0),
            Rec(b"D1", b'{"a": 1, "a": 2}', partition=1),
            Rec(b"N1", b'{"deep": [[[[1]]]], "ws": "\\n"}\n', partition=2),
            Rec(b"TOMB", None, partition=0),
        ],
    )
    config = _config(stack, source)
    monkeypatch.setenv("DLQ_TUI_PRINT_WORKERS", "1")
    one = io.StringIO()  # no file descriptor: formatted in this process
    assert await print_streaming(config, where, "jsonl", 0, one) == 0
    path = tmp_path / "out.jsonl"
    with path.open("w") as out:  # a file descriptor: the worker writes it
        assert await print_streaming(config, where, "jsonl", 0, out) == 0
    expected = one.getvalue().splitlines()
    lines = path.read_text().splitlines()
    assert expected and sorted(lines) == sorted(expected), "the same lines, byte for byte"
    _assert_partition_order(lines)
    formats = {json.loads(x)["value_format"] for x in lines}
    if not where:
        assert {"avro", "protobuf", "json", "text", "hex", "null"} <= formats


async def _big_topic(stack: Stack, n: int) -> str:
    source = unique_name("print-worker-int")
    await create_topic(stack.bootstrap, source, 3)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, linger_ms=20, acks="all")
    await producer.start()
    try:
        value = b'{"pad": "' + b"x" * 900 + b'"}'
        sends = [await producer.send(source, value, key=b"K%06d" % i, partition=i % 3) for i in range(n)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return source


def _start(stack: Stack, source: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DLQ_TUI_PRINT_WORKERS": "1"}
    small = ["-c", "max.partition.fetch.bytes=32768", "-c", "fetch.max.bytes=65536"]
    cmd = [
        DLQ_TUI,
        "print",
        "-b",
        stack.bootstrap,
        "-g",
        unique_name("g"),
        *small,
        "--format",
        "jsonl",
        source,
    ]
    # Unbuffered: communicate() reads the pipe itself, so nothing may sit in a reader's buffer.
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0)


def _worker_pid(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _assert_prefixes(lines: list[str], n: int) -> None:
    """Whole lines; in each partition the offsets from 0 without a gap (nothing skipped)."""
    offsets = _assert_partition_order(lines)
    for p, seen in offsets.items():
        assert seen == list(range(len(seen))), f"partition {p}: no record left out before the last"
    assert 0 < len(lines) < n, "stopped part way"


N = 3000


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
async def test_interrupted_or_killed_print_writes_whole_lines_in_order(stack: Stack, how: str) -> None:
    source = await _big_topic(stack, N)
    proc = _start(stack, source)
    assert proc.stdout is not None and proc.stderr is not None
    # The worker blocks on the full stdout pipe while the test reads nothing: print is mid-way.
    first = [proc.stdout.readline() for _ in range(20)]
    worker = os.pidfd_open(_worker_pid(proc.pid))
    os.kill(proc.pid, signal.SIGINT if how == "SIGINT" else signal.SIGKILL)
    rest, err = proc.communicate(timeout=60)  # EOF: the worker has exited too
    lines = [x.decode() for x in first] + rest.decode().splitlines(keepends=True)
    assert all(x.endswith("\n") for x in lines), "no partial line"
    _assert_prefixes([x.rstrip("\n") for x in lines], N)
    assert select.select([worker], [], [], 30)[0], "the worker exits (a pidfd reads once it has)"
    os.close(worker)
    if how == "SIGINT":
        assert proc.returncode == 1 and b"interrupted" in err, err
    else:
        assert proc.returncode == -signal.SIGKILL


async def test_killed_worker_is_reported(stack: Stack) -> None:
    source = await _big_topic(stack, N)
    proc = _start(stack, source)
    assert proc.stdout is not None
    first = [proc.stdout.readline() for _ in range(20)]
    os.kill(_worker_pid(proc.pid), signal.SIGKILL)
    rest, err = proc.communicate(timeout=60)
    lines = [x.decode() for x in first] + rest.decode().splitlines(keepends=True)
    if not lines[-1].endswith("\n"):
        lines.pop()  # killed in the middle of a write: its last line may be cut (as for any program)
    assert all(x.endswith("\n") for x in lines)
    _assert_prefixes([x.rstrip("\n") for x in lines], N)
    assert proc.returncode == 1
    assert b"the print worker died" in err, err


async def test_head_closes_the_pipe_quietly(stack: Stack) -> None:
    source = await _big_topic(stack, N)
    proc = _start(stack, source)
    assert proc.stdout is not None and proc.stderr is not None
    head = [proc.stdout.readline() for _ in range(5)]
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert b"Traceback" not in err, err
    assert all(json.loads(x) for x in head)


def test_bad_worker_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from dlq_tui.kafka.connection import DlqError
    from dlq_tui.print_worker import workers_wanted

    monkeypatch.setenv("DLQ_TUI_PRINT_WORKERS", "two")
    with pytest.raises(DlqError, match="DLQ_TUI_PRINT_WORKERS must be a number"):
        workers_wanted()
    monkeypatch.setenv("DLQ_TUI_PRINT_WORKERS", "0")
    assert workers_wanted() is False
