"""Broker faults on the private broker (never the shared one): killed and restarted while loading
and while committing; a TCP proxy between dlq-tui and the broker adding latency, resetting
connections and going silent (blackhole) mid-commit. Loading resumes where it was; a commit
completes or aborts within its bound; afterwards nothing is visible of an aborted batch, no
transaction stays open once the next commit ran, and every decided record lands exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.committer import CommitError, Committer, WaitBounds
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from tests.faultkit import (
    PrivateStack,
    TcpProxy,
    by_key_and_digest,
    produce_many,
    record_figure,
    wait_no_open_transaction,
)
from tests.stack import create_topic, kcat_read, unique_name

BOUNDS = WaitBounds(init=20.0, request=10.0, abort=5.0, notice=1.0)
COMMIT_BOUND = 90.0
"""No commit may take longer than this in these tests, whatever the broker does."""


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _records(n: int, partitions: int) -> list[tuple[int, bytes, bytes]]:
    return [
        (i % partitions, f"key-{i:06d}".encode(), f"payload {i} ".encode() * (i % 5 + 1)) for i in range(n)
    ]


async def _dlq(
    bootstrap: str, name: str, records: list[tuple[int, bytes, bytes]], partitions: int
) -> tuple[str, str]:
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(bootstrap, source, partitions, {"cleanup.policy": "compact"})
    await create_topic(bootstrap, dest, partitions)
    await produce_many(bootstrap, source, records)
    return source, dest


def _session(bootstrap: str, source: str, dest: str, group: str) -> TriageSession:
    # A short transaction timeout (as `-p transaction.timeout.ms=15000` gives): a transaction that
    # no client can end is aborted by the coordinator sooner, which keeps the suite quick.
    kafka = KafkaSettings(bootstrap_servers=bootstrap, producer={"transaction_timeout_ms": 15_000})
    cfg = SessionConfig(kafka=kafka, source=source, destination=dest, group=group)
    return TriageSession(cfg, committer=Committer(cfg.kafka, BOUNDS))


def _assert_exactly_once(
    bootstrap: str, source: str, dest: str, records: list[tuple[int, bytes, bytes]], merged: set[bytes]
) -> None:
    expected = Counter((k, hashlib.sha256(v).hexdigest()) for _, k, v in records if k in merged)
    assert by_key_and_digest(kcat_read(bootstrap, dest)) == expected, "every merge exactly once"
    tombstones = Counter(r.key for r in kcat_read(bootstrap, source) if r.value is None)
    assert tombstones == Counter(k for _, k, _ in records), "every decided record tombstoned once"


def _assert_nothing_visible(bootstrap: str, source: str, dest: str, n: int) -> None:
    assert kcat_read(bootstrap, dest) == []
    assert len(kcat_read(bootstrap, source)) == n


def _decide(session: TriageSession) -> set[bytes]:
    """Merge every other record, purge the rest; returns the merged keys."""
    rows = list(session.visible_rows())
    session.decide(rows[::2], Decision.MERGE)
    session.decide(rows[1::2], Decision.PURGE)
    return {k for r in rows[::2] if (k := session.store.key_at(r)) is not None}


async def test_broker_killed_while_loading_resumes_where_it_was(
    private_stack: PrivateStack, kafka_proxy: TcpProxy, topic_name: str
) -> None:
    bootstrap = private_stack.bootstrap
    records = _records(30_000, 3)
    source, dest = await _dlq(bootstrap, topic_name, records, 3)
    session = _session(bootstrap, source, dest, unique_name("g"))
    await session.open()
    try:
        loader = session.load()
        first = await anext(loader)
        assert 0 < len(first) < len(records), "the snapshot takes more than one batch"
        await asyncio.to_thread(private_stack.kill_kafka)
        rest = asyncio.create_task(_drain(loader))
        await asyncio.to_thread(private_stack.start_kafka)
        await asyncio.wait_for(rest, 120)
        assert len(session.store) == len(records), "every record loaded once, none twice"
        assert {session.store.key_at(r) for r in range(len(session.store))} == {k for _, k, _ in records}
        merged = _decide(session)
        report = await asyncio.wait_for(session.commit(), COMMIT_BOUND)
        assert report.merged + report.purged == len(records)
    finally:
        await session.close()
    wait_no_open_transaction(bootstrap, [source, dest])
    _assert_exactly_once(bootstrap, source, dest, records, merged)


async def _drain(loader: object) -> None:
    async for _ in loader:  # type: ignore[attr-defined]
        pass


async def _fault_then_recover(
    private_stack: PrivateStack,
    topic_name: str,
    bootstrap_for_session: str,
    fault: Callable[[], Awaitable[None]],
    recover: Callable[[], Awaitable[None]],
    point: str = "produced",
) -> None:
    """Commit with a fault injected at `point`; the commit completes or aborts within its bound.
    After `recover`, a second commit (if needed) and the invariants."""
    bootstrap = private_stack.bootstrap
    records = _records(600, 2)
    source, dest = await _dlq(bootstrap, topic_name, records, 2)
    session = _session(bootstrap_for_session, source, dest, unique_name("g"))
    await session.open()
    try:
        await session.load_all()
        merged = _decide(session)
        staged = dict(session.buffer.items())
        injected = False

        async def hook(stage: str) -> None:
            nonlocal injected
            if stage == point and not injected:
                injected = True
                await fault()

        started = time.monotonic()
        try:
            await asyncio.wait_for(session.commit(fault=hook), COMMIT_BOUND)
            completed = True
        except CommitError as exc:
            completed = False
            error = str(exc)
            assert dict(session.buffer.items()) == staged, f"buffer intact after: {exc}"
        record_figure("commit_under_fault_seconds", round(time.monotonic() - started, 2))
        await recover()
        if not completed:
            # Once the broker is back, the transaction ends (committed by the producer still
            # retrying it, or aborted by the coordinator's timeout or the next InitProducerId).
            wait_no_open_transaction(bootstrap, [source, dest], 45)
            visible = kcat_read(bootstrap, dest)
            if "not confirmed" in error:  # the commit said its outcome is unknown: all or nothing
                assert len(visible) in (0, len(merged)), "all or nothing of the batch"
            else:  # the commit said it aborted: that must stay true
                assert visible == [], f"reported as not written ({error}), yet visible"
                _assert_nothing_visible(bootstrap, source, dest, len(records))
            again = await asyncio.wait_for(session.commit(), COMMIT_BOUND)
            if visible:  # what landed is skipped, not written twice
                assert (again.merged, again.purged, len(again.dropped)) == (0, 0, len(records))
        assert not session.has_writes()
    finally:
        await session.close()
    wait_no_open_transaction(bootstrap, [source, dest])
    _assert_exactly_once(bootstrap, source, dest, records, merged)


@pytest.mark.parametrize("point", ["produced", "offsets-sent"])
async def test_broker_killed_while_committing(
    private_stack: PrivateStack, kafka_proxy: TcpProxy, topic_name: str, point: str
) -> None:
    async def kill() -> None:
        await asyncio.to_thread(private_stack.kill_kafka)

    async def restart() -> None:
        await asyncio.to_thread(private_stack.start_kafka)

    await _fault_then_recover(private_stack, topic_name, private_stack.bootstrap, kill, restart, point)


async def test_connections_reset_mid_commit(
    private_stack: PrivateStack, kafka_proxy: TcpProxy, topic_name: str
) -> None:
    async def reset() -> None:
        kafka_proxy.reset()

    async def nothing() -> None:
        return None

    await _fault_then_recover(private_stack, topic_name, private_stack.proxied_bootstrap, reset, nothing)


async def test_path_goes_silent_mid_commit(
    private_stack: PrivateStack, kafka_proxy: TcpProxy, topic_name: str
) -> None:
    async def blackhole() -> None:
        kafka_proxy.set("blackhole")

    async def heal() -> None:
        kafka_proxy.set("pass")

    await _fault_then_recover(
        private_stack, topic_name, private_stack.proxied_bootstrap, blackhole, heal, "offsets-sent"
    )


async def test_commit_through_a_slow_path(
    private_stack: PrivateStack, kafka_proxy: TcpProxy, topic_name: str
) -> None:
    """Every chunk delayed 30 ms each way: slower, still exactly once."""

    async def slow() -> None:
        kafka_proxy.set("pass", latency=0.03)

    async def heal() -> None:
        kafka_proxy.set("pass")

    await _fault_then_recover(private_stack, topic_name, private_stack.proxied_bootstrap, slow, heal)
