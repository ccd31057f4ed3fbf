"""Safe-redrive benchmarks against the real local stack, each next to its baseline from the same run
(the machine is shared and noisy: read the ratios).

    .venv/bin/python -m bench.bench_redrive [--records N] [--rate R] [--rate-records M]

- @origin: the engine commits N merges to `@origin` (two origin topics named by Spring DLT
  headers) versus the same N merges to one plain DESTINATION, on two copies of the same DLQ.
- baseline for both: aiokafka alone producing the same records in one transaction, to one topic and
  to the two origin topics.
- rate: a commit of M merges with `max_rate=R`: the measured rate (records / commit time).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.bench_engine import BOOTSTRAP, PARTITIONS, make_topics, name
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.redrive import ORIGIN
from dlq_tui.triage.decisions import Decision


def headers(origin: str) -> list[tuple[str, bytes]]:
    return [
        ("kafka_dlt-original-topic", origin.encode()),
        ("kafka_dlt-original-partition", (1).to_bytes(4, "big")),
        ("kafka_dlt-original-offset", (12345).to_bytes(8, "big")),
        ("kafka_dlt-exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
        (
            "kafka_dlt-exception-message",
            b"Listener failed; nested exception is java.net.SocketTimeoutException",
        ),
    ]


async def fill(topic: str, n: int, origins: list[str]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=20, max_batch_size=512 * 1024, acks=1)
    await producer.start()
    try:
        hs = [headers(o) for o in origins]
        futures = []
        for i in range(n):
            key = f"ORD{i:08d}".encode()
            value = b'{"orderNumber":"' + key + b'","reason":"wrong product"}'
            futures.append(
                await producer.send(topic, value, key=key, partition=i % PARTITIONS, headers=hs[i % 2])
            )
            if len(futures) >= 20_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def timed_commit(source: str, dest: str, max_rate: float | None = None) -> tuple[float, int, int]:
    """(seconds of the commit, merged, transactions)."""
    session = TriageSession(
        SessionConfig(
            kafka=KafkaSettings(bootstrap_servers=BOOTSTRAP),
            source=source,
            destination=dest,
            group=name("g"),
            use_journal=False,
            tombstones="never",
            max_rate=max_rate,
        )
    )
    await session.open()
    try:
        await session.load_all()
        session.decide(session.visible_rows(), Decision.MERGE)
        t0 = time.perf_counter()
        report = await session.commit()
        return time.perf_counter() - t0, report.merged, report.transactions
    finally:
        await session.close()


async def bare(source: str, dests: list[str]) -> float:
    """aiokafka alone: read the DLQ, then produce every record (key, value, headers, timestamp) in one
    transaction, to `dests[0]`, or to its origin topic (a header lookup, no parsing) when given two."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, isolation_level="read_committed")
    await consumer.start()
    records = []
    try:
        tps = [TopicPartition(source, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for batch in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    producer = AIOKafkaProducer(**KafkaSettings(bootstrap_servers=BOOTSTRAP).producer_kwargs(name("bare")))
    t0 = time.perf_counter()
    await producer.start()
    try:
        await producer.begin_transaction()
        futures = []
        for r in records:
            topic = dests[0] if len(dests) == 1 else dict(r.headers)["kafka_dlt-original-topic"].decode()
            futures.append(
                await producer.send(
                    topic, r.value, key=r.key, headers=list(r.headers), timestamp_ms=r.timestamp
                )
            )
        await asyncio.gather(*futures)
        await producer.commit_transaction()
    finally:
        await producer.stop()
    return time.perf_counter() - t0


async def main(records: int, rate: float, rate_records: int) -> None:
    origins = [name("origin-a"), name("origin-b")]
    dlq_plain, dlq_origin, retry = name("dlq-plain"), name("dlq-origin"), name("retry")
    await make_topics(dlq_plain, dlq_origin, retry, *origins)
    await fill(dlq_plain, records, origins)
    await fill(dlq_origin, records, origins)

    plain_s, plain_n, _ = await timed_commit(dlq_plain, retry)
    origin_s, origin_n, _ = await timed_commit(dlq_origin, ORIGIN)
    print(
        f"commit {records:,} merges, plain DESTINATION: {plain_s:.2f}s ({plain_n / plain_s:,.0f}/s)  [baseline]"
    )
    print(
        f"commit {records:,} merges, @origin (2 topics):  {origin_s:.2f}s ({origin_n / origin_s:,.0f}/s)  "
        f"ratio {origin_s / plain_s:.2f}x the baseline's time"
    )
    bare_plain = await bare(dlq_plain, [retry])
    bare_origin = await bare(dlq_origin, origins)
    print(
        f"aiokafka alone, same records in one transaction: to one topic {bare_plain:.2f}s, "
        f"to the two origin topics {bare_origin:.2f}s (ratio {bare_origin / bare_plain:.2f}x); "
        f"dlq-tui / aiokafka: plain {plain_s / bare_plain:.2f}x, @origin {origin_s / bare_origin:.2f}x"
    )

    dlq_rate, retry_rate = name("dlq-rate"), name("retry-rate")
    await make_topics(dlq_rate, retry_rate)
    await fill(dlq_rate, rate_records, origins)
    rate_s, rate_n, transactions = await timed_commit(dlq_rate, retry_rate, max_rate=rate)
    print(
        f"--max-rate {rate:g}: {rate_n:,} merges in {rate_s:.2f}s = {rate_n / rate_s:,.0f}/s "
        f"({transactions} transactions; cap {rate:g}/s; uncapped rate above: {plain_n / plain_s:,.0f}/s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--rate-records", type=int, default=10_000)
    a = parser.parse_args()
    asyncio.run(main(a.records, a.rate, a.rate_records))
