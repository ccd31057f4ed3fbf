"""The resolution model codec: metadata text, committed-offset advance over gaps, size splitting."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.triage.resolution import (
    METADATA_PREFIX,
    PartitionResolution,
    RangeSet,
    _Known,
    format_metadata,
    format_ranges,
    parse_metadata,
    parse_ranges,
)

# -- RangeSet and the text codec -------------------------------------------------------------------


def test_rangeset_normalises_overlapping_and_adjacent() -> None:
    rs = RangeSet([(5, 7), (1, 2), (3, 3), (4, 4), (10, 12), (11, 20)])
    assert rs.ranges == [(1, 7), (10, 20)]
    assert len(rs) == 2
    assert rs.count() == 7 + 11
    assert 7 in rs and 8 not in rs and 0 not in rs and 20 in rs and 21 not in rs
    assert rs.above(6).ranges == [(6, 7), (10, 20)]
    assert rs.above(8).ranges == [(10, 20)]
    assert not rs.above(21)
    assert RangeSet.of([3, 1, 2, 9]).ranges == [(1, 3), (9, 9)]


def test_rangeset_rejects_bad_ranges() -> None:
    with pytest.raises(ValueError):
        RangeSet([(5, 4)])
    with pytest.raises(ValueError):
        RangeSet([(-1, 4)])


def test_format_examples() -> None:
    assert format_metadata([12, 13, 14, 15, 40]) == "dlqtui1:12-15,40"
    assert format_metadata(RangeSet([(12, 15), (40, 40)])) == "dlqtui1:12-15,40"
    assert format_metadata([]) == ""
    assert format_ranges([7]) == "7"


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "dlqtui1:",
        "something else entirely",
        "dlqtui2:1-3",
        "DLQTUI1:1-3",
        "dlqtui1:5-3",
        "dlqtui1:1,x",
        "dlqtui1:1,,2",
        "dlqtui1:1,",
        "dlqtui1:-1",
        "dlqtui1: 1",
        "dlqtui1:+1",
        "dlqtui1:1_000",
        "dlqtui1:١٢",  # Arabic-Indic digits: str.isdigit() would accept them
        "dlqtui1:" + "9" * 5000,  # past int()'s digit limit
        "dlqtui1:99999999999999999999",  # above int64
        "dlqtui1:1-2-3",
    ],
)
def test_parse_foreign_or_corrupt_metadata_is_empty(text: str | None) -> None:
    assert parse_metadata(text) == RangeSet()


def test_parse_is_lenient_about_order_and_overlap() -> None:
    assert parse_metadata("dlqtui1:40,12-15,14-16").ranges == [(12, 16), (40, 40)]
    assert parse_ranges("3") == RangeSet.of([3])
    assert parse_ranges("a") is None


offsets_sets = st.frozensets(st.integers(0, 2**63 - 1), max_size=40) | st.frozensets(
    st.integers(0, 300), max_size=120
)


@given(offsets_sets)
def test_format_parse_round_trip(offsets: frozenset[int]) -> None:
    text = format_metadata(offsets)
    assert frozenset(parse_metadata(text).offsets()) == offsets
    assert text == "" or text.startswith(METADATA_PREFIX)
    assert format_metadata(parse_metadata(text)) == text


@given(st.text())
def test_parse_never_raises(text: str) -> None:
    parse_metadata(text)
    parse_metadata(METADATA_PREFIX + text)


# -- resolve(): the reference model --------------------------------------------------------------


@dataclass
class Case:
    committed: int
    existing: RangeSet
    known: list[int]
    known_start: int
    known_end: int
    to_resolve: list[int]

    def state(self) -> PartitionResolution:
        return PartitionResolution(self.committed, self.existing)

    def potential(self, x: int) -> bool:
        """Whether offset x may hold a record."""
        return not (self.known_start <= x < self.known_end) or x in self.known

    @property
    def bound(self) -> int:
        return (
            max([self.committed, self.known_end, *self.known, *self.to_resolve, *self.existing.offsets()]) + 3
        )


@st.composite
def cases(draw: st.DrawFn, base: int = 0) -> Case:
    width = 40
    known_start = base + draw(st.integers(0, 12))
    known_end = draw(st.integers(known_start, base + width))
    known = sorted(draw(st.sets(st.integers(known_start, max(known_start, known_end - 1)))))
    known = [o for o in known if o < known_end]
    committed = base + draw(st.integers(0, width))
    existing = RangeSet(
        draw(
            st.lists(
                st.tuples(st.integers(base, base + width), st.integers(0, 4)).map(
                    lambda t: (t[0], t[0] + t[1])
                ),
                max_size=6,
            )
        )
    ).above(committed)
    candidates = sorted({*known, *range(base, known_start), *range(known_end, base + width + 5)})
    to_resolve = draw(st.lists(st.sampled_from(candidates), max_size=25)) if candidates else []
    return Case(committed, existing, known, known_start, known_end, to_resolve)


def resolve(case: Case, offsets: list[int] | None = None) -> PartitionResolution:
    return case.state().resolve(
        case.to_resolve if offsets is None else offsets,
        known=case.known,
        known_start=case.known_start,
        known_end=case.known_end,
    )


@settings(max_examples=400)
@given(cases())
def test_resolve_matches_the_model(case: Case) -> None:
    old = case.state()
    new = resolve(case)
    t = set(case.to_resolve)

    def resolved_after(x: int) -> bool:
        return old.is_resolved(x) or x in t

    # Monotonic, and no record changes state except those resolved now.
    assert new.committed >= old.committed
    for x in range(case.bound):
        if case.potential(x):
            assert new.is_resolved(x) == resolved_after(x), x
        if old.is_resolved(x) and case.potential(x):
            assert new.is_resolved(x)
    # The committed offset is the first offset >= the old one that may hold an unresolved record.
    expected = next(
        x for x in range(old.committed, case.bound) if case.potential(x) and not resolved_after(x)
    )
    assert new.committed == expected
    # Ranges start and end on resolved offsets and are merged whenever nothing unresolved separates them.
    ranges = new.resolved_above.ranges
    for a, b in ranges:
        assert a > new.committed
        assert resolved_after(a) and resolved_after(b)
    for (_, b1), (a2, _) in pairwise(ranges):
        assert any(case.potential(x) and not resolved_after(x) for x in range(b1 + 1, a2))
    # What is committed reads back as the same state.
    assert PartitionResolution.from_commit(new.committed, new.metadata) == new
    # Resolving is idempotent.
    assert resolve(case, case.to_resolve) == new
    again = new.resolve([], known=case.known, known_start=case.known_start, known_end=case.known_end)
    assert again == new


def test_resolve_skips_offsets_without_records() -> None:
    # 12 is a transaction marker; 16..19 hold nothing either (the reader read up to 20).
    known = [10, 11, 13, 14, 15]
    state = PartitionResolution(10)

    def res(offsets: list[int], end: int = 16) -> PartitionResolution:
        return state.resolve(offsets, known=known, known_start=10, known_end=end)

    assert res([10, 11]) == PartitionResolution(13)
    assert res([11, 13]).committed == 10
    assert res([11, 13]).metadata == "dlqtui1:11-13"  # spans the marker at 12
    assert res([11, 14]).metadata == "dlqtui1:11,14"  # 13 is an unresolved record
    assert res([10, 11, 13, 14, 15]) == PartitionResolution(16)
    assert res([10, 11, 13, 14, 15], end=20) == PartitionResolution(20)
    assert res([10, 11, 14, 15]) == PartitionResolution(13, RangeSet([(14, 15)]))


def test_resolve_does_not_assume_anything_outside_the_known_stretch() -> None:
    # The group's committed offset (5) is below where the reader started (10): 5..9 may hold records.
    state = PartitionResolution(5)
    new = state.resolve([10, 11], known=[10, 11, 12], known_start=10, known_end=13)
    assert new.committed == 5
    assert new.metadata == "dlqtui1:10-11"
    # Past the known end, another session's ranges carry the committed offset only when they touch it.
    other = PartitionResolution(10, RangeSet([(20, 25)]))
    done = other.resolve(range(10, 16), known=list(range(10, 16)), known_start=10, known_end=16)
    assert done == PartitionResolution(16, RangeSet([(20, 25)]))
    touching = PartitionResolution(10, RangeSet([(16, 25)]))
    done = touching.resolve(range(10, 16), known=list(range(10, 16)), known_start=10, known_end=16)
    assert done == PartitionResolution(26)


def test_resolve_rejects_an_offset_the_reader_saw_no_record_at() -> None:
    with pytest.raises(ValueError, match="no record"):
        PartitionResolution(0).resolve([2], known=[0, 1, 3], known_start=0, known_end=4)


def test_resolution_trims_ranges_below_committed() -> None:
    state = PartitionResolution.from_commit(10, "dlqtui1:3-12,20")
    assert state.resolved_above.ranges == [(10, 12), (20, 20)]
    assert state.is_resolved(0) and state.is_resolved(11) and not state.is_resolved(13)
    with pytest.raises(ValueError):
        PartitionResolution(-1)


# -- splitting a commit to fit offset.metadata.max.bytes ------------------------------------------


@settings(max_examples=300)
@given(cases(base=985), st.integers(0, 60))
def test_prefix_sizes_match_resolve(case: Case, max_bytes: int) -> None:
    state = case.state()
    req = sorted(set(case.to_resolve))
    kn = _Known(case.known, case.known_start, case.known_end)
    sizes = state._prefix_sizes(req, kn)
    brute = [len(resolve(case, req[:k]).metadata) for k in range(len(req) + 1)]
    assert sizes == brute

    fit = state.fit(
        case.to_resolve,
        known=case.known,
        known_start=case.known_start,
        known_end=case.known_end,
        max_bytes=max_bytes,
    )
    best = max((k for k, size in enumerate(brute) if size <= max_bytes), default=0)
    assert fit.included == req[:best]
    assert fit.remaining == req[best:]
    assert fit.resolution == resolve(case, req[:best])


def test_fit_splits_scattered_decisions_into_complete_commits() -> None:
    known = list(range(100_000, 102_000))
    state = PartitionResolution(100_000)
    evens = list(range(100_001, 102_000, 2))  # every other record: one range per record
    fit = state.fit(evens, known=known, known_start=100_000, known_end=102_000, max_bytes=4096)
    assert fit.included and fit.remaining
    assert fit.included + fit.remaining == evens
    assert len(fit.resolution.metadata) <= 4096
    # Past the limit by one more decision.
    longer = state.resolve(
        evens[: len(fit.included) + 1], known=known, known_start=100_000, known_end=102_000
    )
    assert len(longer.metadata) > 4096
    # Once the holes are decided too, everything fits in one commit and the offset advances.
    rest = fit.resolution.fit(
        [*fit.remaining, *range(100_000, 102_000, 2)], known=known, known_start=100_000, known_end=102_000
    )
    assert rest.remaining == []
    assert rest.resolution == PartitionResolution(102_000)


def test_fit_when_nothing_fits() -> None:
    state = PartitionResolution(0)
    fit = state.fit([1, 3], known=[0, 1, 2, 3], known_start=0, known_end=4, max_bytes=5)
    assert fit.included == []
    assert fit.remaining == [1, 3]
    assert fit.resolution == state
