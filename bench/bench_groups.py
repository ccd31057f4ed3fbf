"""Failure groups benchmark: index and summarise 1,000,000 stored records (no broker).

    .venv/bin/python bench/bench_groups.py [--records N]

Records come from every DLQ header convention of the demo (`dlq_tui.demo.conventions`), with ids and
numbers varying in their messages, so most records have a failure text of their own. Timed:

* index: the per-row group index built from nothing (the first `groups` on a loaded DLQ);
* summaries: the group summaries over all rows once indexed (every later refresh);
* baseline: one pass over the rows reading the store's timestamp column (the least any summary does).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlq_tui.demo.conventions import convention_records
from dlq_tui.groups import GroupIndex
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore

PARTITIONS = 6


def make_store(n: int) -> RecordStore:
    """`n` records of every failure kind in turn, generated and stored in batches (as loading does)."""
    store = RecordStore()
    now = 1_767_225_600_000
    row = 0
    first = 1
    while row < n:
        batch: list[RawRecord] = []
        for rec in convention_records(1000, now, first=first):
            if row == n:
                break
            batch.append(
                RawRecord(
                    row % PARTITIONS, row // PARTITIONS, now + row, 0, rec.key, rec.value, tuple(rec.headers)
                )
            )
            row += 1
        store.extend(batch)
        first += 1000
    return store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    args = ap.parse_args()
    store = make_store(args.records)
    flags = bytearray(len(store))

    t = time.perf_counter()
    ts_at = store.timestamp_at
    low = min(ts_at(r) for r in range(len(store)))
    baseline = time.perf_counter() - t
    assert low > 0

    index = GroupIndex(store)
    t = time.perf_counter()
    index.update()
    build = time.perf_counter() - t

    t = time.perf_counter()
    groups = index.summaries(resolved=flags)
    summary = time.perf_counter() - t

    n = len(store)
    print(f"groups over {n:,} records, {len(groups)} groups")
    print(f"  baseline (one pass over the timestamp column): {baseline:.2f} s")
    print(
        f"  index (first groups on a loaded DLQ):           {build:.2f} s  ({build / baseline:.1f}x baseline)"
    )
    print(
        f"  summaries (every later refresh):                {summary:.2f} s  ({summary / baseline:.1f}x baseline)"
    )
    print(f"  first groups total:                             {build + summary:.2f} s")


if __name__ == "__main__":
    main()
