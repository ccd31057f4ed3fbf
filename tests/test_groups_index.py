"""The failure-group index is read per arena chunk with numpy (groups.GroupIndex._index_chunk):
built in steps while the store grows, it equals the index built at once, and both agree with the
record-by-record rule (`parse_dlq_headers`)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlq_tui.decode.dlq_headers import HEADERS, parse_dlq_headers
from dlq_tui.groups import GroupIndex
from dlq_tui.triage.arena import MemoryArena
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore

_NAMES = st.sampled_from([*HEADERS, "other", "x-trace"])
_VALUES = st.sampled_from(
    [
        b"",
        b"x",
        b"Order 12 failed",
        b"Order 345 failed",
        b"\xff\xfe",
        b"a@b.cd",
        b"t1",
        b"java.io.IOException",
    ]
)
_HEADERS = st.lists(st.tuples(_NAMES, st.none() | _VALUES), max_size=7).map(tuple)


def _records(headers: list[tuple[tuple[str, bytes | None], ...]]) -> list[RawRecord]:
    return [
        RawRecord(i % 3, i // 3, 1000 + i, 0, None if i % 5 == 0 else b"k%d" % i, b"v" * (i % 7), h)
        for i, h in enumerate(headers)
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(_HEADERS, min_size=1, max_size=40),
    chunk_size=st.sampled_from([16, 64, 256, 4096]),
    steps=st.lists(st.tuples(st.integers(1, 9), st.integers(0, 12)), min_size=1, max_size=12),
)
def test_index_built_in_steps_equals_the_index_built_at_once(
    headers: list[tuple[tuple[str, bytes | None], ...]],
    chunk_size: int,
    steps: list[tuple[int, int]],
) -> None:
    records = _records(headers)
    growing = RecordStore(chunk_size=chunk_size, arena=MemoryArena())
    stepwise = GroupIndex(growing)
    stored = 0
    for batch, index_upto in steps:  # store a batch, index some of what is stored, again
        growing.extend(records[stored : stored + batch])
        stored = len(growing)
        stepwise.update(min(index_upto + len(stepwise), stored))
    growing.extend(records[stored:])
    stepwise.update()

    whole = RecordStore(chunk_size=chunk_size, arena=MemoryArena())
    whole.extend(records)
    at_once = GroupIndex(whole)
    at_once.update()

    expected = [parse_dlq_headers(h).fingerprint().id for h in headers]
    assert [stepwise.group_of(r) for r in range(len(records))] == expected
    assert [at_once.group_of(r) for r in range(len(records))] == expected
    assert stepwise.summaries() == at_once.summaries()


def test_rows_with_many_header_shapes_and_nulls() -> None:
    """Every row a different sequence of header names (one plan each), null values among them,
    over several chunks including the one being filled."""
    names = sorted(HEADERS)
    headers = [
        tuple(
            (names[(i + j) % len(names)], None if (i + j) % 11 == 0 else b"E%d" % (i % 4))
            for j in range(i % 6)
        )
        for i in range(300)
    ]
    store = RecordStore(chunk_size=512, arena=MemoryArena())
    store.extend(_records(headers))
    index = GroupIndex(store)
    index.update()
    assert [index.group_of(r) for r in range(len(headers))] == [
        parse_dlq_headers(h).fingerprint().id for h in headers
    ]
