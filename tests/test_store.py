"""The compact record store: byte-exact round trips, lookups, per-partition order, memory budget."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.triage.records import RawRecord, RecordId
from dlq_tui.triage.store import RecordStore

optional_bytes = st.none() | st.binary(max_size=64)
headers = st.lists(st.tuples(st.text(max_size=12), optional_bytes), max_size=4).map(tuple)


def records(partition_count: int = 3) -> st.SearchStrategy[list[RawRecord]]:
    """Records in offset order per partition, partitions interleaved."""

    @st.composite
    def build(draw: st.DrawFn) -> list[RawRecord]:
        n = draw(st.integers(0, 40))
        next_offset = [draw(st.integers(0, 2**40)) for _ in range(partition_count)]
        out = []
        for _ in range(n):
            p = draw(st.integers(0, partition_count - 1))
            off = next_offset[p]
            next_offset[p] += draw(st.integers(1, 3))  # gaps: markers, compaction
            out.append(
                RawRecord(
                    partition=p,
                    offset=off,
                    timestamp=draw(st.integers(-1, 2**62)),
                    timestamp_type=draw(st.sampled_from([0, 1])),
                    key=draw(optional_bytes),
                    value=draw(optional_bytes),
                    headers=draw(headers),
                )
            )
        return out

    return build()


@settings(max_examples=200)
@given(records(), st.sampled_from([1, 17, 4 << 20]))
def test_round_trip_is_byte_exact(recs: list[RawRecord], chunk_size: int) -> None:
    store = RecordStore(chunk_size=chunk_size)
    assert store.extend(recs) == len(recs)
    assert len(store) == len(recs)
    for i, rec in enumerate(recs):
        assert store.get(i) == rec
        assert store.partition_at(i) == rec.partition
        assert store.offset_at(i) == rec.offset
        assert store.timestamp_at(i) == rec.timestamp
        assert store.timestamp_type_at(i) == rec.timestamp_type
        assert store.key_at(i) == rec.key
        assert store.value_at(i) == rec.value
        assert store.headers_at(i) == rec.headers
        assert store.key_len_at(i) == (-1 if rec.key is None else len(rec.key))
        assert store.value_len_at(i) == (-1 if rec.value is None else len(rec.value))
        assert store.rid_at(i) == rec.rid
        assert store.row_of(rec.rid) == i
    assert list(store) == recs
    raw = sum(
        len(r.key or b"") + len(r.value or b"") + sum(len(n) + len(v or b"") for n, v in r.headers)
        for r in recs
    )
    assert store.raw_bytes() == raw


def test_none_and_empty_are_distinct() -> None:
    store = RecordStore()
    store.append(RawRecord(0, 0, 1, 0, None, b"", (("a", None), ("a", b""), ("ü", b"x"))))
    store.append(RawRecord(0, 1, 1, 1, b"", None))
    assert store.get(0) == RawRecord(0, 0, 1, 0, None, b"", (("a", None), ("a", b""), ("ü", b"x")))
    assert store.get(1) == RawRecord(0, 1, 1, 1, b"", None)
    assert store.get(-1) == store.get(1)
    with pytest.raises(IndexError):
        store.get(2)
    with pytest.raises(IndexError):
        store.get(-3)


def test_row_of_and_partition_helpers() -> None:
    store = RecordStore()
    arrivals = [(0, 10), (1, 5), (0, 12), (1, 6), (2, 100), (0, 15)]
    for p, o in arrivals:
        store.append(RawRecord(p, o, 0, 0, b"k", b"v"))
    assert [store.rid_at(i) for i in range(len(store))] == [RecordId(p, o) for p, o in arrivals]
    assert store.row_of(RecordId(0, 12)) == 2
    assert store.row_of(RecordId(0, 11)) is None
    assert store.row_of(RecordId(7, 0)) is None
    assert RecordId(2, 100) in store and RecordId(2, 101) not in store
    assert store.partitions() == [0, 1, 2]
    assert store.partition_size(0) == 3 and store.partition_size(9) == 0
    assert store.first_offset(0) == 10 and store.last_offset(0) == 15 and store.last_offset(9) is None
    assert list(store.partition_offsets(0)) == [10, 12, 15]
    assert list(store.partition_offsets(0, 11, 15)) == [12]
    assert list(store.partition_rows(0)) == [0, 2, 5]
    assert list(store.partition_rows(1, 6)) == [3]
    assert list(store.partition_offsets(9)) == []


def test_out_of_order_and_duplicate_records() -> None:
    store = RecordStore()
    for o in (10, 20, 30):
        store.append(RawRecord(0, o, 0, 0, None, str(o).encode()))
    # A re-delivered record is not stored twice.
    assert store.append(RawRecord(0, 20, 0, 0, None, b"20")) == 1
    assert store.extend([RawRecord(0, 30, 0, 0, None, b"30"), RawRecord(0, 10, 0, 0, None, b"10")]) == 0
    assert len(store) == 3
    # A record older than the last one is inserted in offset order (rows keep arrival order).
    row = store.append(RawRecord(0, 15, 0, 0, None, b"15"))
    assert row == 3
    assert list(store.partition_offsets(0)) == [10, 15, 20, 30]
    assert list(store.partition_rows(0)) == [0, 3, 1, 2]
    assert store.row_of(RecordId(0, 15)) == 3
    assert store.value_at(3) == b"15"


def test_rows_never_straddle_chunks() -> None:
    store = RecordStore(chunk_size=10)
    recs = [RawRecord(0, i, 0, 0, b"key-%d" % i, b"v" * (i * 7), (("h", b"x" * i),)) for i in range(50)]
    store.extend(recs)
    assert [store.get(i) for i in range(50)] == recs


def _small_record(i: int) -> RawRecord:
    return RawRecord(
        partition=i % 6,
        offset=i // 6,
        timestamp=1_700_000_000_000 + i,
        timestamp_type=0,
        key=b"ORD%08d" % i,
        value=b'{"order":%d,"reason":"wrong product"}' % i,
        headers=(("kafka_dlt-exception-fqcn", b"java.lang.IllegalStateException"),),
    )


def test_memory_within_raw_bytes_plus_200_per_record() -> None:
    n = 200_000
    recs = [_small_record(i) for i in range(n)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = RecordStore()
        store.extend(recs)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    raw = store.raw_bytes()
    assert raw == sum(len(r.key or b"") + len(r.value or b"") + 24 + 31 for r in recs)
    budget = raw + 200 * n
    assert store.nbytes() <= budget
    assert grown <= budget
    # Far inside the budget, in fact: the columns cost well under 100 bytes per record.
    assert store.nbytes() - raw < 100 * n
    assert store.get(n - 1) == recs[-1]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 40),
            st.one_of(st.none(), st.binary(max_size=8)),
            st.one_of(st.none(), st.binary(max_size=8)),
            st.lists(
                st.tuples(st.sampled_from(["a", "b", "ü"]), st.one_of(st.none(), st.binary(max_size=4))),
                max_size=3,
            ),
        ),
        max_size=60,
    ),
    st.integers(1, 64),
)
def test_extend_is_the_same_as_append(items: list[Any], chunk: int) -> None:
    """The inlined batch path stores exactly what record-by-record appends store (order, dedupe,
    out-of-order offsets, chunk boundaries)."""
    records = [RawRecord(p, o, 1000 + o, o % 2, k, v, tuple(h)) for p, o, k, v, h in items]
    one, batch = RecordStore(chunk_size=chunk), RecordStore(chunk_size=chunk)
    for r in records:
        one.append(r)
    batch.extend(records)
    assert list(batch) == list(one)
    assert batch.raw_bytes() == one.raw_bytes()
    for r in records:
        assert batch.row_of(r.rid) == one.row_of(r.rid)


@settings(max_examples=200)
@given(
    records(),
    st.lists(st.integers(1, 12), min_size=1, max_size=8),
    st.lists(st.integers(0, 40), max_size=4),
    st.sampled_from([1, 64, 4 << 20]),
)
def test_batches_with_redelivered_and_late_records_equal_appends(
    recs: list[RawRecord], sizes: list[int], again: list[int], chunk_size: int
) -> None:
    """`extend` per batch (the fast path, or per record when a batch re-delivers or goes back in a
    partition) stores exactly what `append` one by one does."""
    stream = list(recs)
    for i in again:  # re-delivered records (a reader retry), later in the stream
        if recs:
            stream.insert(min(len(stream), i + 1), recs[i % len(recs)])
    if len(stream) > 3:  # one record late: out of order in its partition
        stream.append(stream.pop(1))
    one_by_one = RecordStore(chunk_size=chunk_size)
    rows = [one_by_one.append(r) for r in stream]
    batched = RecordStore(chunk_size=chunk_size)
    at, k = 0, 0
    while at < len(stream):
        n = sizes[k % len(sizes)]
        before = len(batched)
        assert batched.extend(stream[at : at + n]) == len(batched) - before
        at, k = at + n, k + 1
    assert len(batched) == len(one_by_one) == len(set(rows))
    assert list(batched) == list(one_by_one)
    assert [batched.row_of(r.rid) for r in stream] == [one_by_one.row_of(r.rid) for r in stream]
    assert batched.raw_bytes() == one_by_one.raw_bytes()
    for p in one_by_one.partitions():
        assert batched.partition_offsets(p) == one_by_one.partition_offsets(p)
        assert batched.partition_rows(p) == one_by_one.partition_rows(p)
