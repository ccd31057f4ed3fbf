"""RecordStore benchmark: append rate and memory per record at 1M records.

Plain script, prints figures (no assertions):

    .venv/bin/python bench/bench_store.py [--records N] [--value-size B] [--tracemalloc]

Records look like a Spring Kafka DLQ's: a short key, a JSON value and four `kafka_dlt-*` headers,
spread over 6 partitions, generated in batches of 10k (as the reader delivers them); only the
store's work is timed.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlq_tui.triage.records import RawRecord, RecordId
from dlq_tui.triage.store import RecordStore

PARTITIONS = 6
BATCH = 10_000


def batch(start: int, n: int, value_size: int) -> list[RawRecord]:
    pad = b"x" * max(0, value_size - 40)
    out = []
    for i in range(start, start + n):
        out.append(
            RawRecord(
                partition=i % PARTITIONS,
                offset=i // PARTITIONS,
                timestamp=1_700_000_000_000 + i,
                timestamp_type=0,
                key=b"ORD%08d" % i,
                value=b'{"order":%d,"reason":"wrong","pad":"%s"}' % (i, pad),
                headers=(
                    ("kafka_dlt-original-topic", b"order-canceled"),
                    ("kafka_dlt-original-partition", (i % PARTITIONS).to_bytes(4, "big")),
                    ("kafka_dlt-original-offset", i.to_bytes(8, "big")),
                    ("kafka_dlt-exception-fqcn", b"java.lang.IllegalStateException"),
                ),
            )
        )
    return out


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--value-size", type=int, default=64)
    ap.add_argument("--tracemalloc", action="store_true", help="also measure allocations (slow)")
    args = ap.parse_args()
    n = args.records

    if args.tracemalloc:
        tracemalloc.start()
    gc.collect()
    traced_before = tracemalloc.get_traced_memory()[0] if args.tracemalloc else 0
    store = RecordStore()
    spent = 0.0
    for start in range(0, n, BATCH):
        recs = batch(start, min(BATCH, n - start), args.value_size)
        t0 = time.perf_counter()
        store.extend(recs)
        spent += time.perf_counter() - t0
        del recs
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced_before if args.tracemalloc else 0
    if args.tracemalloc:
        tracemalloc.stop()

    raw = store.raw_bytes()
    nbytes = store.nbytes()
    print(f"records             {len(store):,}")
    note = " (under tracemalloc: not representative)" if args.tracemalloc else ""
    print(f"append              {n / spent:,.0f} records/s ({spent:.2f} s){note}")
    print(f"raw bytes           {raw / n:.1f} B/record ({raw / 2**20:.1f} MiB)")
    names = sum(len(name) for name, _ in batch(0, 1, 0)[0].headers)  # interned, stored once
    print(f"store nbytes        {nbytes / 2**20:.1f} MiB = raw + {(nbytes - raw) / n:.1f} B/record")
    print(f"  overhead over key/value/header-value bytes: {(nbytes - raw + names * n) / n:.1f} B/record")
    if args.tracemalloc:
        print(f"traced growth       {traced / 2**20:.1f} MiB = raw + {(traced - raw) / n:.1f} B/record")
    print(f"peak RSS (process)  {rss_mib():.0f} MiB")

    rng = random.Random(1)
    probes = [RecordId(rng.randrange(PARTITIONS), rng.randrange(n // PARTITIONS)) for _ in range(200_000)]
    t0 = time.perf_counter()
    for rid in probes:
        store.row_of(rid)
    dt = time.perf_counter() - t0
    print(f"row_of              {len(probes) / dt:,.0f} lookups/s")
    rows = [rng.randrange(n) for _ in range(200_000)]
    t0 = time.perf_counter()
    for i in rows:
        store.value_at(i)
    dt = time.perf_counter() - t0
    print(f"value_at            {len(rows) / dt:,.0f} /s")
    t0 = time.perf_counter()
    for i in rows:
        store.get(i)
    dt = time.perf_counter() - t0
    print(f"get (materialize)   {len(rows) / dt:,.0f} /s")
    t0 = time.perf_counter()
    for p in range(PARTITIONS):
        store.partition_offsets(p)
    dt = time.perf_counter() - t0
    print(f"partition_offsets   all partitions in {dt * 1000:.1f} ms")


if __name__ == "__main__":
    main()
