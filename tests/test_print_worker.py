"""`print --format jsonl` split by partition among worker processes (print_worker): the same lines
as one process over records of every format, each partition in the same order, resolved records
left out and the filter's unknown count summed, whatever the number of partitions; errors said
once; interrupted or killed, whole lines only and no record of a partition skipped before the last
one printed; `| head` exits quietly."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from dlq_tui.demo.__main__ import seed
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.print_stream import print_streaming
from dlq_tui.print_worker import print_split
from dlq_tui.start import parse_start
from dlq_tui.triage.decisions import Decision
from tests.stack import Rec, Stack, create_topic, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
TWO_CPUS = pytest.mark.skipif(
    (os.cpu_count() or 1) < 2,
    reason="print splits by partition only with 2+ CPUs (with one it runs in one process, tested by test_print_stream)",
)


def _config(stack: Stack, source: str, group: str | None = None) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=f"{source}-retry",
        group=group or unique_name("g"),
        registry_url=stack.registry_url,
        use_journal=False,
        tombstones="never",
    )


def _by_partition(lines: list[str]) -> dict[int, list[str]]:
    """Each partition's lines in the order printed."""
    parts: dict[int, list[str]] = {}
    for line in lines:
        parts.setdefault(json.loads(line)["partition"], []).append(line)
    return parts


def _assert_partition_order(lines: list[str]) -> dict[int, list[int]]:
    offsets: dict[int, list[int]] = {}
    for line in lines:
        obj = json.loads(line)
        offsets.setdefault(obj["partition"], []).append(obj["offset"])
    for p, seen in offsets.items():
        assert seen == sorted(seen), f"partition {p} in offset order"
    return offsets


async def _one_process(
    config: SessionConfig, where: str, capsys: pytest.CaptureFixture[str]
) -> tuple[list[str], str]:
    out = io.StringIO()  # no file descriptor: one process
    capsys.readouterr()
    assert await print_streaming(config, where, "jsonl", 0, out) == 0
    return out.getvalue().splitlines(), capsys.readouterr().err


async def _split(
    config: SessionConfig, where: str, n: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[list[str], str]:
    path = tmp_path / f"split-{n}.jsonl"
    capsys.readouterr()
    with path.open("wb") as out:
        assert await print_split(config, where, out.fileno(), n) == 0
    return path.read_text().splitlines(), capsys.readouterr().err


def _assert_same(split: list[str], one: list[str]) -> None:
    assert one, "something is printed"
    assert sorted(split) == sorted(one), "the same lines, byte for byte"
    assert _by_partition(split) == _by_partition(one), "each partition in the same order"
    _assert_partition_order(split)


def _unreasoned(err: str) -> str:
    return re.sub(r"\(.*\)", "(...)", err)


WHERE_UNKNOWN = "error:*Timeout* OR key:ORD-POISON OR value.n:3"


@pytest.mark.parametrize("where", ["", WHERE_UNKNOWN])
async def test_split_prints_the_lines_of_one_process(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    source = unique_name("print-split")
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
            Rec(b"D1", b'{"a": 1, "a": 2}', partition=1),
            Rec(b"N1", b'{"deep": [[[[1]]]], "ws": "\\n"}\n', partition=2),
            Rec(b"TOMB", None, partition=0),
            # Undecodable where `value.n` looks, in every partition: unknown to the filter.
            *(Rec(b"B%d" % i, b"\x00\xff\xfe binary %d" % i, partition=i % 3) for i in range(6)),
        ],
    )
    group = unique_name("g")
    config = _config(stack, source, group)
    # Resolve some records first: every worker must leave them out.
    first = TriageSession(config)
    await first.open()
    await first.load_all()
    picked = {b"J1", b"T1", b"D1", b"B0", b"B4"}
    resolved = [r for r in first.visible_rows() if first.store.get(r).key in picked]
    resolved_ids = {(first.partition_at(r), first.offset_at(r)) for r in resolved}
    first.decide(resolved, Decision.PURGE)
    await first.commit()
    await first.close()

    one, one_err = await _one_process(config, where, capsys)
    for n in (2, 3):
        lines, err = await _split(config, where, n, tmp_path, capsys)
        _assert_same(lines, one)
        # The same lines, once; the reason named is the first met, which depends on arrival.
        assert _unreasoned(err) == _unreasoned(one_err)
    printed = {(json.loads(x)["partition"], json.loads(x)["offset"]) for x in one}
    assert len(resolved_ids) == len(picked) and not printed & resolved_ids, "resolved records are left out"
    if where:
        assert "left out" in one_err, "some records are unknown to the filter (summed over workers)"
    else:
        formats = {json.loads(x)["value_format"] for x in one}
        assert {"avro", "protobuf", "json", "text", "hex"} <= formats, "records of every kind"


@pytest.mark.parametrize("partitions", [1, 5])
async def test_split_over_one_or_five_partitions(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], partitions: int
) -> None:
    source = unique_name("print-split-parts")
    await create_topic(stack.bootstrap, source, partitions)
    await create_topic(stack.bootstrap, f"{source}-retry", 1)
    await produce(
        stack.bootstrap,
        source,
        [Rec(b"k%d" % i, b'{"i": %d}' % i, partition=i % partitions) for i in range(60)],
    )
    config = _config(stack, source)
    one, one_err = await _one_process(config, "", capsys)
    assert len(one) == 60 and not one_err
    lines, err = await _split(config, "", 2, tmp_path, capsys)
    _assert_same(lines, one)
    assert not err
    # --from: each worker starts its partitions there; the note speaks of all, once.
    start = parse_start("p0:5" if partitions == 1 else "p0:5,p3:2")
    config = dataclasses.replace(config, start=start)
    one, one_err = await _one_process(config, "", capsys)
    assert len(one) == (55 if partitions == 1 else 12 - 5 + 12 - 2)
    lines, err = await _split(config, "", 2, tmp_path, capsys)
    _assert_same(lines, one)
    assert err == one_err and err.count("dlq-tui: from ") == 1, err


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


def _start(stack: Stack, source: str, workers: str = "2") -> subprocess.Popen[bytes]:
    env = {**os.environ, "DLQ_TUI_PRINT_WORKERS": workers}
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


def _worker_pids(pid: int) -> list[int]:
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert len(children) == 2, children
    return children


def _assert_prefixes(lines: list[str], n: int) -> None:
    """Whole lines; in each partition the offsets from 0 without a gap (nothing skipped)."""
    offsets = _assert_partition_order(lines)
    for p, seen in offsets.items():
        assert seen == list(range(len(seen))), f"partition {p}: no record left out before the last"
    assert 0 < len(lines) < n, "stopped part way"


N = 3000


@TWO_CPUS
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
async def test_interrupted_or_killed_print_writes_whole_lines_in_order(stack: Stack, how: str) -> None:
    source = await _big_topic(stack, N)
    proc = _start(stack, source)
    assert proc.stdout is not None and proc.stderr is not None
    # The worker blocks on the full stdout pipe while the test reads nothing: print is mid-way.
    first = [proc.stdout.readline() for _ in range(20)]
    workers = [os.pidfd_open(pid) for pid in _worker_pids(proc.pid)]
    os.kill(proc.pid, getattr(signal, how))
    rest, err = proc.communicate(timeout=60)  # EOF: the worker has exited too
    lines = [x.decode() for x in first] + rest.decode().splitlines(keepends=True)
    assert all(x.endswith("\n") for x in lines), "no partial line"
    _assert_prefixes([x.rstrip("\n") for x in lines], N)
    for worker in workers:
        assert select.select([worker], [], [], 30)[0], "the workers exit (a pidfd reads once one has)"
        os.close(worker)
    if how != "SIGKILL":
        assert proc.returncode == 1 and b"interrupted" in err, err
    else:
        assert proc.returncode == -signal.SIGKILL


@TWO_CPUS
async def test_killed_worker_is_reported(stack: Stack) -> None:
    source = await _big_topic(stack, N)
    proc = _start(stack, source)
    assert proc.stdout is not None
    first = [proc.stdout.readline() for _ in range(20)]
    os.kill(_worker_pids(proc.pid)[0], signal.SIGKILL)
    rest, err = proc.communicate(timeout=60)
    lines = [x.decode() for x in first] + rest.decode().splitlines(keepends=True)
    if not lines[-1].endswith("\n"):
        lines.pop()  # killed in the middle of a write: its last line may be cut (as for any program)
    assert all(x.endswith("\n") for x in lines)
    _assert_prefixes([x.rstrip("\n") for x in lines], N)
    assert proc.returncode == 1
    assert err.count(b"the print worker died") == 1, err


@TWO_CPUS
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


JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";'


@TWO_CPUS
@pytest.mark.parametrize(
    ("failure", "says"),
    [
        ("unknown topic", b"does not exist"),
        ("unreachable broker", b"cannot reach the Kafka cluster"),
        ("missing ACL", b"not authorized"),
    ],
)
async def test_an_error_is_said_once(stack: Stack, failure: str, says: bytes) -> None:
    source = unique_name("print-split-err")
    connect = ["-b", stack.bootstrap]
    if failure == "unreachable broker":
        connect = ["-b", "127.0.0.1:1"]
    elif failure == "missing ACL":  # alice has no ACLs
        await create_topic(stack.bootstrap, source, 3)
        connect = ["-b", stack.sasl_bootstrap, "-c", "security.protocol=SASL_PLAINTEXT"]
        connect += ["-c", "sasl.mechanism=PLAIN", "-c", f"sasl.jaas.config={JAAS}"]
    said = {}
    for workers in ("0", "2"):
        cmd = [DLQ_TUI, "print", *connect, "-g", unique_name("g"), "--format", "jsonl", source]
        env = {**os.environ, "DLQ_TUI_PRINT_WORKERS": workers}
        proc = subprocess.run(cmd, capture_output=True, env=env, timeout=120, check=False)
        assert proc.returncode == 1 and not proc.stdout
        said[workers] = proc.stderr
    assert said["2"] == said["0"], "the one-process message, once"
    assert said["2"].count(b"dlq-tui:") == 1 and says in said["2"], said


def test_bad_worker_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from dlq_tui.kafka.connection import DlqError
    from dlq_tui.print_worker import workers_wanted

    for bad in ("two", "-1"):
        monkeypatch.setenv("DLQ_TUI_PRINT_WORKERS", bad)
        with pytest.raises(DlqError, match="DLQ_TUI_PRINT_WORKERS must be a whole number"):
            workers_wanted()
    for one in ("0", "1"):
        monkeypatch.setenv("DLQ_TUI_PRINT_WORKERS", one)
        assert workers_wanted() == 0, "one process"
    cpus = os.cpu_count() or 1
    monkeypatch.setenv("DLQ_TUI_PRINT_WORKERS", "64")
    assert workers_wanted() == (min(64, cpus) if cpus >= 2 else 0), "at most one per CPU"
    monkeypatch.delenv("DLQ_TUI_PRINT_WORKERS")
    assert workers_wanted() == (2 if cpus >= 2 else 0), "two by default"
