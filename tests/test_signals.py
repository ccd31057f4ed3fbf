"""SIGHUP, SIGTERM and SIGINT during a commit (issue 13.2), sent to a real `dlq-tui merge-all`
process that stands inside its open transaction (DLQ_TUI_PAUSE_AT): the process aborts the
transaction and exits; the last stable offsets reach the high watermarks within seconds, and
read_committed readers see nothing of the batch. Also: Ctrl-C twice leaves no asyncio noise."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.stack import Rec, Stack, create_topic, kcat_read, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))


async def open_transaction(bootstrap: str, topic: str) -> bool:
    """Whether a transaction holds `topic`'s partition 0 open (last stable offset < high watermark)."""
    stable, high = await offsets(bootstrap, topic)
    return stable < high


async def offsets(bootstrap: str, topic: str) -> tuple[int, int]:
    tp = TopicPartition(topic, 0)
    out = []
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation)
        await consumer.start()
        try:
            out.append((await consumer.end_offsets([tp]))[tp])
        finally:
            await consumer.stop()
    return out[0], out[1]


def start_paused(stack: Stack, source: str, dest: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DLQ_TUI_PAUSE_AT": "produced", "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [DLQ_TUI, "merge-all", "-b", stack.bootstrap, "-g", unique_name("g"), source, dest],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    while True:  # until the commit stands in its open transaction
        line = proc.stderr.readline()
        assert line, "dlq-tui ended before it paused"
        if "paused at produced" in line:
            return proc


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
async def test_signal_mid_commit_aborts_the_transaction(
    stack: Stack, tmp_path: Path, sig: signal.Signals
) -> None:
    name = unique_name(f"sig-{sig.name}")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source, config={"cleanup.policy": "compact"})
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(50)])
    proc = await asyncio.to_thread(start_paused, stack, source, dest, tmp_path)
    try:
        # The batch is written but not committed: the transaction is open on both topics.
        assert await open_transaction(stack.bootstrap, dest)
        assert await open_transaction(stack.bootstrap, source)
        sent = time.monotonic()
        proc.send_signal(sig)
        _out, err = await asyncio.to_thread(proc.communicate, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert "interrupted" in err and "aborted" in err
    assert "Traceback" not in err and "Task was destroyed" not in err
    # The abort happened before the exit: no transaction is open, well within the 60 s timeout.
    deadline = sent + 15
    while await open_transaction(stack.bootstrap, dest) or await open_transaction(stack.bootstrap, source):
        assert time.monotonic() < deadline, "a transaction stayed open after the signal"
        await asyncio.sleep(0.2)
    assert kcat_read(stack.bootstrap, dest) == []
    assert [r.value for r in kcat_read(stack.bootstrap, source)] == [f"v{i}".encode() for i in range(50)]


async def test_second_ctrl_c_leaves_no_asyncio_noise(stack: Stack, tmp_path: Path) -> None:
    name = unique_name("sigint-twice")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(b"k", b"v")])
    proc = await asyncio.to_thread(start_paused, stack, source, dest, tmp_path)
    try:
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        _out, err = await asyncio.to_thread(proc.communicate, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert "interrupted" in err
    for noise in ("Task was destroyed", "Traceback", "Exception ignored", "never retrieved"):
        assert noise not in err, err
    deadline = time.monotonic() + 15
    while await open_transaction(stack.bootstrap, dest):
        assert time.monotonic() < deadline, "a transaction stayed open after two Ctrl-C"
        await asyncio.sleep(0.2)
    assert kcat_read(stack.bootstrap, dest) == []


async def test_ctrl_c_at_the_ask_prompt_works_the_first_time(stack: Stack, tmp_path: Path) -> None:
    name = unique_name("ask-ctrl-c")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(b"k", b"v")])
    proc = subprocess.Popen(
        [DLQ_TUI, "ask", "-b", stack.bootstrap, "-g", unique_name("g"), source, dest],
        stdin=subprocess.PIPE,  # kept open: the prompt waits for an answer
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert proc.stdout is not None

    def until_prompt() -> bytes:
        seen = b""
        assert proc.stdout is not None
        while b"Merge, purge or skip?" not in seen:
            chunk = proc.stdout.read1(4096)
            assert chunk, seen
            seen += chunk
        return seen

    try:
        await asyncio.to_thread(until_prompt)
        proc.send_signal(signal.SIGINT)  # once
        _out, err = await asyncio.to_thread(proc.communicate, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert b"interrupted" in err and b"Traceback" not in err


async def test_sighup_during_an_ask_commit_keeps_the_decisions_in_the_journal(
    stack: Stack, tmp_path: Path
) -> None:
    name = unique_name("ask-hup")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(b"k1", b"v1"), Rec(b"k2", b"v2")])
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    cmd = [DLQ_TUI, "ask", "-b", stack.bootstrap, "-g", unique_name("g"), source, dest]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "DLQ_TUI_PAUSE_AT": "produced"},
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write("m\nm\n")
    proc.stdin.close()  # end of input: ask commits what was decided

    def until_paused() -> None:
        assert proc.stderr is not None
        while "paused at produced" not in (line := proc.stderr.readline()):
            assert line, "ask ended before it paused"

    try:
        await asyncio.to_thread(until_paused)
        proc.send_signal(signal.SIGHUP)
        await asyncio.to_thread(proc.wait, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert kcat_read(stack.bootstrap, dest) == []
    # The next session restores both decisions from the journal and commits them, once.
    again = await asyncio.to_thread(
        subprocess.run, cmd, input="", capture_output=True, text=True, env=env, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert "restored 2 staged decision(s)" in again.stdout
    assert sorted(r.value or b"" for r in kcat_read(stack.bootstrap, dest)) == [b"v1", b"v2"]


async def test_sigterm_outside_a_commit_ends_at_once(stack: Stack, tmp_path: Path) -> None:
    """At the ask prompt (no commit running) SIGTERM ends dlq-tui at once, exit 1, quietly."""
    name = unique_name("ask-term")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(b"k", b"v")])
    proc = subprocess.Popen(
        [DLQ_TUI, "ask", "-b", stack.bootstrap, "-g", unique_name("g"), source, dest],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )

    def until_prompt() -> None:
        seen = b""
        assert proc.stdout is not None
        while b"Merge, purge or skip?" not in seen:
            chunk = proc.stdout.read1(4096)
            assert chunk, seen
            seen += chunk

    try:
        await asyncio.to_thread(until_prompt)
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.to_thread(proc.communicate, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert b"interrupted by SIGTERM" in err
    for noise in (b"Traceback", b"Task was destroyed", b"Exception ignored"):
        assert noise not in err, err
