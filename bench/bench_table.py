"""Benchmark of keypress-to-repaint in the app at 1k, 1M and 10M rows (issue 9: p99 <= 16 ms at
10M rows, and the same at 1k).

Plain script, prints figures, asserts nothing:

    .venv/bin/python bench/bench_table.py [--sizes 1000,1000000,10000000] [--size 120x40] [--presses 200]

For each size the whole app (`DlqApp`, headless through `run_test`) runs on an engine whose store
is real: `TriageSession`'s `RecordStore` and arena, the resolution and tombstone flags and the
failure-group index, filled through the app's own loader from a generated reader (no Kafka). The
records are small (a ~90-byte JSON value, a 13-byte key and the Spring DLT headers of the bench's
DLQ, offsets above 2^31) so that 10M of them load in minutes; the columns and the code paths are
those of a real DLQ. Measurement starts once everything is loaded and the engine's warm-up (filter
classification, group index) is done.

Per key, p50 / p99 over `--presses` presses, in milliseconds, from `pilot.press(key)` to the last
`render_line` of the record table that the key caused (key handling, our action, Textual's
screen update and our rendering of the dirty lines):

- ``cursor``: j and k (8 down, 3 up);
- ``page``: pagedown and pageup;
- ``G``: the last row (and ``g`` back to the top between two, reported apart);
- ``m``: merge the cursor row, which stages the decision and moves to the next open row.

Each also as the CPU time the app's process spent in that interval (``time.process_time``, all
threads): on the shared bench machine the wall time includes waiting for a core, the CPU time is
the app's own work. Also the app's RSS once loaded, and how long the load and the warm-up took (the synthetic reader
is far faster than Kafka: read those as the app's own cost, not a load rate).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from textual.strip import Strip

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench.memcap, run as a script

from bench.memcap import MemoryCap, parse_size
from dlq_tui.kafka.reader import PartitionProgress
from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.records import RawRecord, RecordLike
from dlq_tui.tui.app import DlqApp
from dlq_tui.tui.widgets.triage_table import TriageTable

PARTITIONS = 3
BASE_OFFSET = 3_000_000_000  # above 2^31: offsets of a long-lived topic
BASE_TS = 1_793_610_000_000
BATCH = 10_000
HEADERS = (
    ("kafka_dlt-original-topic", b"order-canceled"),
    ("kafka_dlt-original-partition", (1).to_bytes(4, "big")),
    ("kafka_dlt-original-offset", (12345).to_bytes(8, "big")),
    ("kafka_dlt-exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
    ("kafka_dlt-exception-message", b"Listener failed; nested exception is java.net.SocketTimeoutException"),
)
REASONS = (b"wrong product", b"too late", b"duplicate")


def records(start: int, stop: int) -> list[RecordLike]:
    """Records `start`..`stop` of the synthetic DLQ: record i in partition i % 3."""
    out: list[RecordLike] = []
    for i in range(start, stop):
        key = b"ORD%010d" % i
        value = b'{"orderNumber": "%s", "reason": "%s", "customer": "C%d"}' % (key, REASONS[i % 3], i % 9973)
        out.append(
            RawRecord(i % PARTITIONS, BASE_OFFSET + i // PARTITIONS, BASE_TS + i, 0, key, value, HEADERS)
        )
    return out


class SyntheticReader:
    """The reader's interface (`SnapshotReader`) over generated records, in batches of `BATCH`."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._next = 0
        self.progress = {
            p: PartitionProgress(
                p, BASE_OFFSET, BASE_OFFSET + (n - p + PARTITIONS - 1) // PARTITIONS, BASE_OFFSET
            )
            for p in range(PARTITIONS)
        }

    @property
    def snapshot_done(self) -> bool:
        return self._next >= self.n

    async def batches(self, *, follow: bool = False) -> AsyncIterator[list[RecordLike]]:
        while self._next < self.n:
            stop = min(self.n, self._next + BATCH)
            batch = records(self._next, stop)
            self._next = stop
            for p, prog in self.progress.items():
                prog.position = BASE_OFFSET + (stop - p + PARTITIONS - 1) // PARTITIONS
                prog.records = prog.position - BASE_OFFSET
            yield batch
            await asyncio.sleep(0)

    async def end_offsets(self) -> dict[int, int]:
        return {p: prog.end for p, prog in self.progress.items()}

    async def close(self) -> None:
        return None


class SyntheticEngine(MemoryEngine):
    """`MemoryEngine` (so `TriageSession` with its real store) reading `SyntheticReader`."""

    def __init__(self, n: int) -> None:
        super().__init__(
            [], partitions=range(PARTITIONS), committed=dict.fromkeys(range(PARTITIONS), BASE_OFFSET)
        )
        self.n = n
        self.warmed = asyncio.Event()

    async def open(self) -> None:
        await super().open()
        self._reader = SyntheticReader(self.n)  # type: ignore[assignment]

    async def warm(self) -> None:
        await super().warm()
        self.warmed.set()


def pct(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms  max {ordered[-1] * 1000:7.2f} ms  (n={len(ordered)})"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def bench(
    n: int, size: tuple[int, int], presses: int, say: Callable[[str], None]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    engine = SyntheticEngine(n)
    app = DlqApp(engine)
    out: dict[str, list[float]] = {"cursor": [], "page": [], "G": [], "g (top)": [], "m": []}
    cpu: dict[str, list[float]] = {k: [] for k in out}
    rng = random.Random(n)
    t0 = time.perf_counter()
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one(TriageTable)
        while table.row_count < n:
            await pilot.pause(0.05)
        loaded = time.perf_counter() - t0
        await engine.warmed.wait()
        await pilot.pause()
        warmed = time.perf_counter() - t0
        gc.collect()
        say(f"  loaded in the app {loaded:.1f} s, warmed {warmed:.1f} s; RSS {rss_mb():,.0f} MB")
        table.focus()
        await pilot.pause()

        last_paint = last_cpu = 0.0
        original = table.render_line

        def timed(y: int) -> Strip:
            nonlocal last_paint, last_cpu
            strip = original(y)
            last_paint, last_cpu = time.perf_counter(), time.process_time()
            return strip

        table.render_line = timed  # type: ignore[method-assign]
        height = table.scrollable_content_region.height

        async def press(key: str, into: str) -> None:
            nonlocal last_paint
            last_paint = 0.0
            start, start_cpu = time.perf_counter(), time.process_time()
            await pilot.press(key)
            await pilot.pause()
            if last_paint:
                out[into].append(last_paint - start)
                cpu[into].append(last_cpu - start_cpu)

        async def place(index: int) -> None:
            table.cursor = index
            await pilot.pause()

        await place(n // 2)
        for key in (["j"] * 8 + ["k"] * 3) * (presses // 11 + 1):
            if table.cursor > n - 2 * height:
                await place(n // 2)
            await press(key, "cursor")
            if len(out["cursor"]) >= presses:
                break
        await place(rng.randrange(2 * height, max(2 * height + 1, n - 4 * height)))
        for i in range(presses):
            if table.cursor > n - 3 * height:
                await place(2 * height)
            await press("pagedown" if i % 2 == 0 else "pageup", "page")
        for _ in range(max(10, presses // 4)):
            await press("G", "G")
            await press("g", "g (top)")
        await place(rng.randrange(0, max(1, n - presses - 1)))
        for _ in range(presses):
            if table.cursor >= n - 2:
                await place(0)
            await press("m", "m")
        await app.shutdown(0)
    del app, engine
    gc.collect()
    return out, cpu


async def bench_kafka(topic: str, size: tuple[int, int], presses: int) -> None:
    """The app on a real `TriageSession` over `topic`: time to first rows and to loaded, RSS, and
    keypress to repaint while it loads (j/k every 0.1 s), while it warms up, and after."""
    from dlq_tui.engine import SessionConfig, TriageSession
    from dlq_tui.kafka.connection import KafkaSettings

    config = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=os.environ.get("DLQ_TUI_TEST_BOOTSTRAP", "127.0.0.1:9092")),
        source=topic,
        group=f"bench-table-{os.getpid()}-{time.time_ns()}",
        use_journal=False,
    )
    app = DlqApp(TriageSession(config))
    phases = ("loading", "warming up", "loaded")
    wall: dict[str, list[float]] = {p: [] for p in phases}
    cpu: dict[str, list[float]] = {p: [] for p in phases}
    t0 = time.perf_counter()
    async with app.run_test(size=size) as pilot:
        screen: Any = app.screen
        table: TriageTable = screen.query_one(TriageTable)
        while table.row_count == 0:
            if screen.state == "failed":
                raise SystemExit(f"cannot open {topic}")
            await pilot.pause(0.02)
        first_rows = time.perf_counter() - t0
        table.focus()
        moved: tuple[float, float] | None = None
        want = -1
        original = table.render_line

        def timed(y: int) -> Strip:
            # The first repaint that shows the cursor where the key put it (rows that arrive
            # meanwhile repaint the table too).
            nonlocal moved
            strip = original(y)
            if moved is None and table.cursor == want:
                moved = (time.perf_counter(), time.process_time())
            return strip

        table.render_line = timed  # type: ignore[method-assign]

        async def press(key: str, phase: str) -> None:
            nonlocal moved, want
            index = table.cursor
            want = {"j": index + 1, "k": index - 1, "pagedown": index + 2, "G": -2}.get(key, index)
            moved = None
            start, start_cpu = time.perf_counter(), time.process_time()
            await pilot.press(key)
            await pilot.pause()
            if key != "j" and key != "k":
                return
            if moved is not None:
                wall[phase].append(moved[0] - start)
                cpu[phase].append(moved[1] - start_cpu)

        i = 0
        while screen.state != "loaded":
            await press("j" if i % 4 != 3 else "k", "loading")
            i += 1
            await pilot.pause(0.1)
        loaded = time.perf_counter() - t0
        print(
            f"  first rows {first_rows * 1000:.0f} ms, loaded {loaded:.1f} s, {table.row_count:,} rows; "
            f"RSS {rss_mb():,.0f} MB",
            flush=True,
        )
        warm = asyncio.create_task(app.workers.wait_for_complete())
        while not warm.done():
            await press("j" if i % 4 != 3 else "k", "warming up")
            i += 1
            await pilot.pause(0.1)
        print(f"  warmed up (filter classes, failure groups) {time.perf_counter() - t0:.1f} s", flush=True)
        for _ in range(presses):
            await press("j" if i % 4 != 3 else "k", "loaded")
            i += 1
        print(f"  RSS {rss_mb():,.0f} MB, peak {peak_mb():,.0f} MB", flush=True)
        await app.shutdown(0)
    for phase in phases:
        print(f"  cursor while {phase:<11} wall {pct(wall[phase])}", flush=True)
        print(f"  {'':<19} CPU  {pct(cpu[phase])}", flush=True)


def peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,1000000,10000000")
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--kafka", metavar="TOPIC", help="instead: the app on a real session over TOPIC")
    parser.add_argument("--memory-limit", help="run inside a memory cgroup of this size (e.g. 4G; root)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    cap = None
    if args.memory_limit:
        cap = MemoryCap.create(parse_size(args.memory_limit), f"dlq-tui-bench-table-{os.getpid()}")
        cap.enter()
        print(f"in {cap.describe()}", flush=True)
    if args.kafka:
        await bench_kafka(args.kafka, (width, height), args.presses)
        if cap is not None:
            print(
                f"  memory cgroup: peak charged {cap.peak() >> 20:,} MB, OOM kills {cap.oom_kills()}",
                flush=True,
            )
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    await bench(1_000, (width, height), 20, lambda _: None)  # warm-up (imports, style caches), not reported
    for n in sizes:
        print(f"{n:>11,} rows, {width}x{height}, the app on a real store", flush=True)
        wall, cpu = await bench(n, (width, height), args.presses, lambda s: print(s, flush=True))
        for name, samples in wall.items():
            print(f"  {name:<8} wall {pct(samples)}", flush=True)
            print(f"  {'':<8} CPU  {pct(cpu[name])}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
