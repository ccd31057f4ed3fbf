"""Process faults on real `dlq-tui` subprocesses against the private broker: `kill -9`, SIGHUP,
SIGTERM and SIGINT while loading and at each commit fault point (the process stands there through
the test-only DLQ_TUI_PAUSE_AT). After each: read_committed readers see nothing of the batch, no
transaction stays open (at once after a signal; a killed process's transaction is aborted by the
restart's InitProducerId), the restart commits every decided record exactly once (counted by key and
payload digest in the destination, tombstones by key in the source), and `ask` restores its journal."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faultkit import (
    PrivateStack,
    Proc,
    by_key_and_digest,
    dlq_tui_env,
    record_figure,
    run_dlq_tui,
    wait_no_open_transaction,
)
from tests.stack import Rec, create_topic, kcat_read, produce, unique_name

N = 120
SIGNALS = {"KILL": signal.SIGKILL, "HUP": signal.SIGHUP, "TERM": signal.SIGTERM, "INT": signal.SIGINT}


def _records() -> list[Rec]:
    return [
        Rec(f"key-{i:04d}".encode(), f"payload {i} ".encode() * (i % 7 + 1), partition=i % 2)
        for i in range(N)
    ]


async def _dlq(bootstrap: str, name: str, records: list[Rec]) -> tuple[str, str]:
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(bootstrap, source, 2, {"cleanup.policy": "compact"})
    await create_topic(bootstrap, dest, 2)
    await produce(bootstrap, source, records)
    return source, dest


def _expected(records: list[Rec], merged: set[bytes]) -> Counter[tuple[bytes | None, str]]:
    return Counter((r.key, hashlib.sha256(r.value or b"").hexdigest()) for r in records if r.key in merged)


def assert_exactly_once(
    bootstrap: str, source: str, dest: str, records: list[Rec], merged: set[bytes]
) -> None:
    assert by_key_and_digest(kcat_read(bootstrap, dest)) == _expected(records, merged), (
        "each merge exactly once"
    )
    tombstones = Counter(r.key for r in kcat_read(bootstrap, source) if r.value is None)
    assert tombstones == Counter(r.key for r in records), "each decided record tombstoned exactly once"


def assert_nothing_visible(bootstrap: str, source: str, dest: str, records: list[Rec]) -> None:
    assert kcat_read(bootstrap, dest) == []
    assert [r.value for r in kcat_read(bootstrap, source)] == [r.value for r in sorted(records, key=_pos)]


def _pos(r: Rec) -> tuple[int, int]:
    return (r.partition, int(r.key[4:]) if r.key else 0)


@pytest.mark.parametrize("point", ["loading", "produced", "offsets-sent"])
@pytest.mark.parametrize("how", list(SIGNALS))
async def test_merge_all_killed_or_signalled(
    private_stack: PrivateStack, tmp_path: Path, topic_name: str, point: str, how: str
) -> None:
    bootstrap = private_stack.bootstrap
    records = _records()
    source, dest = await _dlq(bootstrap, topic_name, records)
    group = unique_name("g")
    args = ["merge-all", "-b", bootstrap, "-g", group, source, dest]
    env = dlq_tui_env(tmp_path / "state")

    proc = Proc(args, {**env, "DLQ_TUI_PAUSE_AT": point})
    await asyncio.to_thread(proc.wait_stderr, f"paused at {point}")
    proc.kill(SIGNALS[how])
    signalled = time.monotonic()
    code = await asyncio.to_thread(proc.wait, 60)
    exited = time.monotonic() - signalled
    assert code != 0, proc.output()
    assert "Traceback" not in proc.output(), proc.output()
    if how != "KILL":
        record_figure("exit_after_signal_seconds", round(exited, 2))
        # The process aborted its transaction before it exited: nothing stays open.
        await asyncio.to_thread(wait_no_open_transaction, bootstrap, [source, dest], 10)
    assert_nothing_visible(bootstrap, source, dest, records)

    again = await asyncio.to_thread(run_dlq_tui, args, env)
    assert again.popen.returncode == 0, again.output()
    if how == "KILL" and point != "loading":
        # The restart's InitProducerId aborted the killed process's transaction.
        record_figure("open_transaction_after_kill_seconds", round(time.monotonic() - signalled, 2))
    await asyncio.to_thread(wait_no_open_transaction, bootstrap, [source, dest], 10)
    assert_exactly_once(bootstrap, source, dest, records, {r.key for r in records if r.key})


@pytest.mark.parametrize("how", ["KILL", "HUP"])
async def test_ask_cut_off_in_its_commit_restores_the_journal(
    private_stack: PrivateStack, tmp_path: Path, topic_name: str, how: str
) -> None:
    """An SSH session dropped (SIGHUP) or the process killed while `ask` commits: the next `ask`
    offers the journaled merges and purges and commits them once."""
    bootstrap = private_stack.bootstrap
    records = _records()[:10]
    source, dest = await _dlq(bootstrap, topic_name, records)
    group = unique_name("g")
    args = ["ask", "-b", bootstrap, "-g", group, source, dest]
    env = dlq_tui_env(tmp_path / "state")
    answers = b"".join(b"m\n" if i % 2 == 0 else b"p\n" for i in range(len(records)))

    proc = Proc(args, {**env, "DLQ_TUI_PAUSE_AT": "offsets-sent"}, stdin=answers)
    await asyncio.to_thread(proc.wait_stderr, "paused at offsets-sent")
    journals = list((tmp_path / "state" / "dlq-tui" / "journal").glob("*"))
    assert [oct(j.stat().st_mode & 0o777) for j in journals if j.suffix != ".lock"] == ["0o600"]
    proc.kill(SIGNALS[how])
    await asyncio.to_thread(proc.wait, 60)
    assert_nothing_visible(bootstrap, source, dest, records)

    again = await asyncio.to_thread(run_dlq_tui, args, env, b"")
    assert again.popen.returncode == 0, again.output()
    out = bytes(again.stdout).decode()
    assert f"restored {len(records)} staged decision(s)" in out, again.output()
    assert "5 merged, 5 purged" in out, again.output()
    await asyncio.to_thread(wait_no_open_transaction, bootstrap, [source, dest], 10)
    # `ask` shows records in arrival order (partitions interleave), so which five were merged is
    # read back; each must be byte-identical to its original and there exactly once.
    merged_keys = {r.key for r in kcat_read(bootstrap, dest) if r.key}
    assert len(merged_keys) == 5
    assert_exactly_once(bootstrap, source, dest, records, merged_keys)
