"""The engine stores a big fetch in slices and lets the event loop run between them (the app loads
on its UI loop: keys are handled between slices)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from dlq_tui.engine import LOAD_SLICE, load_slices
from dlq_tui.memory_engine import MemoryEngine
from dlq_tui.triage.records import RawRecord, RecordLike


def records(n: int) -> list[RecordLike]:
    return [
        RawRecord(i % 2, 2**31 + i // 2, 1_700_000_000_000 + i, 0, b"k%d" % i, b"v%d" % i) for i in range(n)
    ]


async def test_slices_cover_each_batch_in_order_and_keep_empty_batches() -> None:
    batches: list[Sequence[RecordLike]] = [records(2 * LOAD_SLICE + 7), [], records(3)]

    async def source() -> AsyncIterator[Sequence[RecordLike]]:
        for b in batches:
            yield b

    got = [list(s) async for s in load_slices(source())]
    assert [len(s) for s in got] == [LOAD_SLICE, LOAD_SLICE, 7, 0, 3]
    assert [r for s in got for r in s] == [r for b in batches for r in b]


async def test_the_event_loop_runs_between_slices_of_one_fetch() -> None:
    ticks = 0
    seen: list[int] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def one_big_fetch() -> AsyncIterator[Sequence[RecordLike]]:
        yield records(4 * LOAD_SLICE)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    async for _ in load_slices(one_big_fetch()):
        seen.append(ticks)
    task.cancel()
    assert len(seen) == 4
    assert seen == sorted(set(seen))  # the ticker ran between every two slices


async def test_engine_load_yields_slices_and_stores_every_record() -> None:
    recs = records(3 * LOAD_SLICE + 11)
    engine = MemoryEngine(recs, batch_size=len(recs))  # one fetch holds everything
    await engine.open()
    ranges = [r async for r in engine.load()]
    assert all(len(r) <= LOAD_SLICE for r in ranges)
    assert [r.start for r in ranges[1:]] == [r.stop for r in ranges[:-1]]
    assert ranges[-1].stop == len(recs) == engine.row_count()
    assert [engine.record(i) for i in range(len(recs))] == recs
    assert engine.unresolved_count() == len(recs)
