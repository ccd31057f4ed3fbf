"""One measured process of `bench.bench_scale` (run as a subprocess so that its RSS is its own):

    python -m bench.scale_child engine TOPIC N     # the engine: open, load, filters, live count
    python -m bench.scale_child aiokafka TOPIC N   # the baseline: a bare aiokafka getmany loop

Prints one JSON object of figures on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

BOOTSTRAP = os.environ.get("DLQ_TUI_TEST_BOOTSTRAP", "127.0.0.1:9092")
PARTITIONS = 3  # the bench's topics (bench_scale.PARTITIONS)


def memory() -> dict[str, float]:
    """This process's memory from /proc/self/status, in MB: peak and current RSS, and the current
    RSS split into anonymous (heap) and file-backed (mapped arena pages, reclaimable) parts."""
    out: dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[name] = int(rest.split()[0]) / 1024
    return out


async def bare(topic: str, n: int) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        isolation_level="read_committed",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    t0 = time.perf_counter()
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    end = await consumer.end_offsets(tps)
    count = 0
    first = None
    while True:
        batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
        count += sum(len(v) for v in batch.values())
        if first is None and count:
            first = time.perf_counter() - t0
        if all([await consumer.position(tp) >= end[tp] for tp in tps]):
            break
    elapsed = time.perf_counter() - t0
    await consumer.stop()
    return {"records": count, "seconds": elapsed, "first_rows": first, **memory()}


class LoopProbe:
    """How long the event loop is blocked while the engine loads (the app loads on its UI loop: a
    stall is a keypress waiting), and the peak anonymous (heap) RSS, sampled every 10 ms."""

    TICK = 0.01

    def __init__(self) -> None:
        self.stalls: list[float] = []
        self.peak_anon = 0.0

    async def run(self) -> None:
        n = 0
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.TICK)
            self.stalls.append(max(0.0, time.perf_counter() - t - self.TICK))
            n += 1
            if n % 50 == 0:
                self.peak_anon = max(self.peak_anon, memory()["RssAnon"])

    def summary(self) -> dict[str, float]:
        s = sorted(self.stalls) or [0.0]
        return {
            "p50": s[len(s) // 2],
            "p99": s[min(len(s) - 1, round(0.99 * (len(s) - 1)))],
            "max": s[-1],
            "samples": len(s),
            "peak_anon": max(self.peak_anon, memory()["RssAnon"]),
        }


async def engine(topic: str, n: int, filters: list[str]) -> dict[str, Any]:
    from dlq_tui.engine import SessionConfig, TriageSession
    from dlq_tui.kafka.connection import KafkaSettings
    from dlq_tui.triage.filter import parse

    config = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=BOOTSTRAP),
        source=topic,
        group=f"bench-scale-{os.getpid()}-{time.time_ns()}",
        use_journal=False,
    )
    session = TriageSession(config)
    t0 = time.perf_counter()
    probe = LoopProbe()
    probing = asyncio.create_task(probe.run())
    await session.open()
    first = None
    async for _ in session.load():
        if first is None:
            first = time.perf_counter() - t0
    loaded = time.perf_counter() - t0
    probing.cancel()
    out: dict[str, Any] = {"records": len(session.store), "seconds": loaded, "first_rows": first}
    out["after_load"] = memory()
    out["load_stalls"] = probe.summary()
    if not filters:  # load only
        await session.close()
        return out
    rows = session.visible_rows()
    # As the app: `warm()` starts in a thread once the table says loaded, and the user types the
    # first filter at once; the app counts (and applies) it with `match_with_unknown`.
    t = time.perf_counter()
    warm = asyncio.create_task(_timed(session.warm()))
    first_match = await asyncio.to_thread(session.match_with_unknown, parse(filters[0]), rows)
    out["first_filter"] = {
        "text": filters[0],
        "seconds": time.perf_counter() - t,
        "matches": len(first_match.matched),
        "warm_seconds": await warm,
        "peak_mb": memory()["VmHWM"],
    }
    out["bare_search"] = _bare_search(session.store)
    timings: dict[str, Any] = {}
    for text in filters:
        flt = parse(text)
        t = time.perf_counter()
        matched = session.match_with_unknown(flt, rows).matched
        timings[text] = {
            "seconds": time.perf_counter() - t,
            "matches": len(matched),
            "peak_mb": memory()["VmHWM"],
        }
    out["filters"] = timings
    # The live count while typing a bare word: each prefix is a new count over the rows (the app
    # counts from 3 letters above 200k rows; 1-2 letters are measured at 400k only).
    word = "timeout"
    out["live_count"] = {"word": word}
    for label, subset in (("all", rows), ("400k", rows[:400_000])):
        per_key: list[float | None] = []
        for i in range(1, len(word) + 1):
            if i < 3 and label == "all" and len(rows) > 400_000:
                per_key.append(None)
                continue
            k = time.perf_counter()
            session.match_with_unknown(parse(word[:i]), subset)
            per_key.append(time.perf_counter() - k)
        out["live_count"][label] = {"rows": len(subset), "per_key": per_key, "peak_mb": memory()["VmHWM"]}
    groups = _groups_hook(session, rows)
    if groups is not None:
        out["groups"] = groups
    out["after_filters"] = memory()
    await session.close()
    return out


def _bare_search(store: Any) -> float:
    """The filters' baseline in the same run: one case fold and one `bytes.count` of a word over
    every arena chunk (the least a byte scan in one Python process does), in seconds."""
    from dlq_tui.scan import fold_case

    chunks = (store.positions()[-1] >> 32) + 1 if len(store) else 0
    t = time.perf_counter()
    for c in range(chunks):
        fold_case(store.chunk_buffer(c)).count(b"timeout")
        store.release_pages(c)
    return time.perf_counter() - t


async def _timed(step: Any) -> float:
    t = time.perf_counter()
    await step
    return time.perf_counter() - t


def _groups_hook(session: Any, rows: Any) -> dict[str, Any] | None:
    """Failure groups over the loaded rows (`TriageSession.groups`, from wip/groups), the first
    time (the group index is filled) and again."""
    compute = getattr(session, "groups", None)
    if compute is None:
        return None
    t = time.perf_counter()
    groups = compute(rows)
    first = time.perf_counter() - t
    t = time.perf_counter()
    compute(rows)
    return {"seconds": first, "again": time.perf_counter() - t, "groups": len(groups)}


def main() -> None:
    role, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    filters = sys.argv[4:] or [
        "timeout",
        "value.reason:wrong*",
        "value.reason:*product",  # the same field again, the same rows: its decoded-field cache
        "error:*Timeout*",
        "key:ORD0000001*",
    ]
    if role == "engine-load":
        role, filters = "engine", []
    if role == "aiokafka":
        result = asyncio.run(bare(topic, n))
    elif role == "engine":
        result = asyncio.run(engine(topic, n, filters))
    else:
        raise SystemExit(f"unknown role {role!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
