"""Engine benchmarks against the real local stack, each next to its baseline measured in the same run
(the machine is shared and noisy: read the ratios).

    .venv/bin/python -m bench.bench_engine [--commit N] [--load N] [--skip-load]

- commit: the engine commits N merge decisions (N merges + N tombstones) in one transaction,
  versus aiokafka alone producing the same 2N records in one transaction with the same offsets sent
  to it: once with `send` per record (the issue's baseline), once with its batch API
  (`create_batch`/`send_batch`, the client's fastest path, which the engine's commit uses). The
  same records (the engine's staged views), headers and producer settings; nothing is read back.
- load: the engine opens and loads an N-record DLQ (snapshot to the last stable offset, records into
  the compact store), versus a bare aiokafka read_committed fetch loop over the same topic; also
  the time to the first batch (first rows on screen) and memory per record.
- filter: a value-field filter (decoding Avro... here JSON values) over the loaded records.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import OffsetAndMetadata

from dlq_tui.demo.__main__ import wait_for_leaders
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.filter import parse

BOOTSTRAP = os.environ.get("DLQ_TUI_TEST_BOOTSTRAP", "127.0.0.1:9092")
PARTITIONS = 3
HEADERS = [
    ("kafka_dlt-original-topic", b"order-canceled"),
    ("kafka_dlt-original-partition", (1).to_bytes(4, "big")),
    ("kafka_dlt-original-offset", (12345).to_bytes(8, "big")),
    ("kafka_dlt-exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
    ("kafka_dlt-exception-message", b"Listener failed; nested exception is java.net.SocketTimeoutException"),
]


def name(prefix: str) -> str:
    return f"bench-{prefix}-{uuid.uuid4().hex[:8]}"


async def make_topics(*topics: str, compact: bool = False) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        config = {"cleanup.policy": "compact"} if compact else {}
        await admin.create_topics([NewTopic(t, PARTITIONS, 1, topic_configs=config) for t in topics])
    finally:
        await admin.close()
    await wait_for_leaders(BOOTSTRAP, list(topics))


async def fill(topic: str, n: int) -> int:
    """N DLQ-like records (key, JSON value ~120 B, five headers); returns raw payload bytes."""
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=20, max_batch_size=512 * 1024, acks=1)
    await producer.start()
    raw = 0
    try:
        futures = []
        for i in range(n):
            key = f"ORD{i:08d}".encode()
            value = json.dumps(
                {"orderNumber": key.decode(), "reason": ["wrong product", "too late", "duplicate"][i % 3]}
            ).encode()
            raw += len(key) + len(value) + sum(len(k) + len(v) for k, v in HEADERS)
            futures.append(
                await producer.send(topic, value, key=key, partition=i % PARTITIONS, headers=HEADERS)
            )
            if len(futures) >= 20_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return raw


def session_config(source: str, dest: str | None, group: str) -> SessionConfig:
    return SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=BOOTSTRAP),
        source=source,
        destination=dest,
        group=group,
        use_journal=False,
        tombstones="always",
    )


async def bare_transaction(source: str, dest: str, group: str, writes: list[Any]) -> float:
    """aiokafka alone: the same merges and tombstones, one transaction, the same offsets."""
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        transactional_id=f"bench-{group}",
        acks="all",
        linger_ms=5,
        max_batch_size=1024 * 1024,
    )
    t0 = time.perf_counter()
    await producer.start()
    try:
        await producer.begin_transaction()
        futures = []
        last: dict[int, int] = {}
        for record, _ in writes:
            futures.append(
                await producer.send(
                    dest,
                    record.value,
                    key=record.key,
                    headers=list(record.headers),
                    timestamp_ms=record.timestamp,
                )
            )
            futures.append(await producer.send(source, None, key=record.key, partition=record.partition))
            last[record.partition] = record.offset
        await asyncio.gather(*futures)
        await producer.send_offsets_to_transaction(
            {TopicPartition(source, p): OffsetAndMetadata(o + 1, "") for p, o in last.items()}, group
        )
        await producer.commit_transaction()
    finally:
        await producer.stop()
    return time.perf_counter() - t0


async def bare_batch_transaction(source: str, dest: str, group: str, writes: list[Any]) -> float:
    """aiokafka alone at its fastest: the same merges and tombstones in one transaction, through its
    batch API (create_batch/send_batch per partition, the default partitioner on the key)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        transactional_id=f"bench-{group}",
        acks="all",
        linger_ms=5,
        max_batch_size=1024 * 1024,
    )
    partitioner = DefaultPartitioner()
    t0 = time.perf_counter()
    await producer.start()
    try:
        await producer.begin_transaction()
        dest_partitions = sorted(await producer.partitions_for(dest))
        await producer.partitions_for(source)
        batches: dict[tuple[str, int], Any] = {}
        futures = []

        async def append(topic: str, partition: int, **record: Any) -> None:
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = producer.create_batch()
            if batch.append(**record) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[(topic, partition)] = producer.create_batch()
                batch.append(**record)

        last: dict[int, int] = {}
        for record, _ in writes:
            key = record.key
            await append(
                dest,
                partitioner(key, dest_partitions, dest_partitions),
                timestamp=record.timestamp,
                key=key,
                value=record.value,
                headers=list(record.headers),
            )
            await append(source, record.partition, timestamp=None, key=key, value=None, headers=[])
            last[record.partition] = record.offset
        for (topic, partition), batch in batches.items():
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
        await producer.send_offsets_to_transaction(
            {TopicPartition(source, p): OffsetAndMetadata(o + 1, "") for p, o in last.items()}, group
        )
        await producer.commit_transaction()
    finally:
        await producer.stop()
    return time.perf_counter() - t0


async def bench_commit(n: int, rounds: int) -> None:
    engine_times, bare_times, batch_times = [], [], []
    for _ in range(rounds):
        source, dest = name("commit-src"), name("commit-dst")
        await make_topics(source, dest, compact=False)
        await fill(source, n)
        # Baseline on its own copy of the decisions, so both write the same records.
        session = TriageSession(session_config(source, dest, name("g")))
        await session.open()
        await session.load_all()
        session.decide(session.visible_rows(), Decision.MERGE)
        writes, _ = session.staged_writes()
        t0 = time.perf_counter()
        report = await session.commit()
        engine_times.append(time.perf_counter() - t0)
        # The baseline writes the same records afterwards (its tombstones must not be in the
        # source while the engine commits: they would be new records past the snapshot).
        bare_times.append(await bare_transaction(source, dest, name("gb"), writes))
        batch_times.append(await bare_batch_transaction(source, dest, name("gc"), writes))
        assert report.merged == n and report.tombstones == n
        await session.close()
    e, b, c = (statistics.median(t) for t in (engine_times, bare_times, batch_times))
    print(
        f"commit {n:,} merges (+{n:,} tombstones, one transaction): engine {e:.2f}s, aiokafka alone {b:.2f}s "
        f"(send per record), ratio {e / b:.2f}x; aiokafka batch API {c:.2f}s, ratio {e / c:.2f}x  (median of {rounds})"
    )


async def bare_fetch(topic: str) -> tuple[float, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        isolation_level="read_committed",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    t0 = time.perf_counter()
    await consumer.seek_to_beginning(*tps)
    end = await consumer.end_offsets(tps)
    count = 0
    while True:
        batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
        count += sum(len(v) for v in batch.values())
        if all([await consumer.position(tp) >= end[tp] for tp in tps]):
            break
    elapsed = time.perf_counter() - t0
    await consumer.stop()
    return elapsed, count


async def bench_load(n: int, rounds: int) -> None:
    source = name("load")
    await make_topics(source)
    raw = await fill(source, n)
    engine_times, bare_times, first_rows = [], [], []
    session: TriageSession | None = None
    for _ in range(rounds):
        bt, count = await bare_fetch(source)
        bare_times.append(bt)
        assert count == n, count
        if session is not None:
            await session.close()
        session = TriageSession(session_config(source, None, name("g")))
        gc.collect()
        t0 = time.perf_counter()
        await session.open()
        first = None
        async for _rows in session.load():
            if first is None:
                first = time.perf_counter() - t0
        engine_times.append(time.perf_counter() - t0)
        first_rows.append(first or 0.0)
        assert len(session.store) == n
    e, b = statistics.median(engine_times), statistics.median(bare_times)
    assert session is not None
    print(
        f"load {n:,} records: engine {e:.2f}s ({n / e:,.0f}/s), bare aiokafka fetch loop {b:.2f}s ({n / b:,.0f}/s); engine speed = {b / e:.0%} of bare (target >= 60%)"
    )
    print(f"first batch of rows after {statistics.median(first_rows) * 1000:.0f} ms (target < 1 s)")
    store = session.store.nbytes()
    print(
        f"memory: store {store / 1e6:.1f} MB for {raw / 1e6:.1f} MB of keys, values and headers as produced: "
        f"{(store - raw) / n:+.0f} B/record (target: raw + at most 200 B/record; header names are stored once)"
    )
    await bench_filter(session)
    await session.close()


async def bench_filter(session: TriageSession) -> None:
    rows = session.visible_rows()
    for text in ("value.reason:wrong*", "partition:1 offset:>=1000", "timeout"):
        flt = parse(text)
        t0 = time.perf_counter()
        matched = session.match(flt, rows)
        elapsed = time.perf_counter() - t0
        print(f"filter {text!r} over {len(rows):,} records: {elapsed:.2f}s, {len(matched):,} matches")


async def main(args: Any) -> None:
    print(f"# dlq-tui engine benchmark, broker {BOOTSTRAP}")
    if args.commit:
        await bench_commit(args.commit, args.rounds)
    if args.load:
        await bench_load(args.load, args.rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--commit", type=int, default=10_000)
    parser.add_argument("--load", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
