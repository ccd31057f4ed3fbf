"""The staged-decision buffer: set/undo/drop/commit, counts, order, listeners."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dlq_tui.triage.decisions import Change, ChangeKind, Decision, StagedBuffer
from dlq_tui.triage.records import RecordId

M, P, S = Decision.MERGE, Decision.PURGE, Decision.SKIP


def rids(*pairs: tuple[int, int]) -> list[RecordId]:
    return [RecordId(p, o) for p, o in pairs]


def test_set_get_and_counts() -> None:
    buf = StagedBuffer()
    assert len(buf) == 0 and not buf
    assert buf.set(rids((0, 1), (0, 2), (1, 7)), M) == 3
    assert buf.set(rids((0, 2), (2, 9)), P) == 2
    assert buf.set(rids((0, 1)), M) == 0  # unchanged
    assert buf.set(rids((1, 8), (1, 8)), S) == 1  # duplicates count once
    assert len(buf) == 5 and buf
    assert buf.get(RecordId(0, 2)) is P
    assert buf.get(RecordId(0, 3)) is None
    assert buf.get(RecordId(5, 0)) is None
    assert RecordId(1, 7) in buf and (1, 7) in buf and RecordId(1, 6) not in buf and "x" not in buf
    assert buf.counts() == {M: 2, P: 2, S: 1}
    assert buf.count(M) == 2
    assert buf.partition_counts(0) == {M: 1, P: 1, S: 0}
    assert buf.partition_counts(1) == {M: 1, P: 0, S: 1}
    assert buf.partition_counts(9) == {M: 0, P: 0, S: 0}
    assert buf.partitions() == [0, 1, 2]


def test_items_and_writes_are_sorted_and_writes_leave_out_skips() -> None:
    buf = StagedBuffer()
    buf.set(rids((1, 5), (0, 9), (1, 2)), M)
    buf.set(rids((0, 3)), S)
    buf.set(rids((0, 1)), P)
    assert list(buf.items()) == [
        (RecordId(0, 1), P),
        (RecordId(0, 3), S),
        (RecordId(0, 9), M),
        (RecordId(1, 2), M),
        (RecordId(1, 5), M),
    ]
    assert buf.writes() == [
        (RecordId(0, 1), P),
        (RecordId(0, 9), M),
        (RecordId(1, 2), M),
        (RecordId(1, 5), M),
    ]
    assert list(buf.partition_items(0)) == [(1, P), (3, S), (9, M)]
    assert list(buf.partition_items(7)) == []
    assert not Decision.SKIP.resolves and Decision.MERGE.resolves and Decision.PURGE.resolves


def test_undo_drop_and_clear_committed() -> None:
    buf = StagedBuffer()
    buf.set(rids((0, 1), (0, 2), (0, 3), (1, 1)), M)
    assert buf.undo(rids((0, 1), (0, 9))) == 1
    assert buf.drop(rids((0, 2), (4, 4))) == [RecordId(0, 2)]
    assert buf.clear_committed(rids((0, 3), (1, 1))) == 2
    assert len(buf) == 0
    assert buf.counts() == {M: 0, P: 0, S: 0}
    assert buf.partitions() == []
    assert buf.partition_counts(0) == {M: 0, P: 0, S: 0}


def test_listeners_hear_each_actual_change() -> None:
    buf = StagedBuffer()
    heard: list[Change] = []
    buf.add_listener(heard.append)
    buf.set(rids((0, 1), (0, 2)), M)
    buf.set(rids((0, 1), (0, 3)), M)  # only (0, 3) changes
    buf.set(rids((0, 1)), M)  # nothing changes: no event
    buf.set(rids((0, 2)), S)
    buf.undo(rids((0, 2), (0, 99)))
    buf.drop(rids((0, 3)))
    buf.clear_committed(rids((0, 1)))
    buf.undo([])
    assert heard == [
        Change(ChangeKind.SET, (RecordId(0, 1), RecordId(0, 2)), M),
        Change(ChangeKind.SET, (RecordId(0, 3),), M),
        Change(ChangeKind.SET, (RecordId(0, 2),), S),
        Change(ChangeKind.UNDO, (RecordId(0, 2),)),
        Change(ChangeKind.DROP, (RecordId(0, 3),)),
        Change(ChangeKind.COMMIT, (RecordId(0, 1),)),
    ]
    buf.remove_listener(heard.append)
    buf.remove_listener(heard.append)  # not registered: fine
    buf.set(rids((5, 5)), P)
    assert len(heard) == 6


def test_plain_tuples_are_accepted_and_reported_as_record_ids() -> None:
    buf = StagedBuffer()
    heard: list[Change] = []
    buf.add_listener(heard.append)
    buf.set([(0, 1)], M)  # type: ignore[list-item]
    assert heard[0].rids == (RecordId(0, 1),) and type(heard[0].rids[0]) is RecordId


ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "undo", "drop", "commit"]),
        st.lists(st.tuples(st.integers(0, 2), st.integers(0, 6)), max_size=6),
        st.sampled_from(list(Decision)),
    ),
    max_size=40,
)


@given(ops)
def test_buffer_matches_a_plain_dict(operations: list[tuple[str, list[tuple[int, int]], Decision]]) -> None:
    buf = StagedBuffer()
    model: dict[RecordId, Decision] = {}
    replayed: dict[RecordId, Decision] = {}

    def listen(change: Change) -> None:
        for rid in change.rids:
            if change.kind is ChangeKind.SET:
                assert change.decision is not None
                replayed[rid] = change.decision
            else:
                del replayed[rid]

    buf.add_listener(listen)
    for op, pairs, decision in operations:
        ids = rids(*pairs)
        if op == "set":
            buf.set(ids, decision)
            model.update(dict.fromkeys(ids, decision))
        else:
            getattr(buf, {"undo": "undo", "drop": "drop", "commit": "clear_committed"}[op])(ids)
            for rid in ids:
                model.pop(rid, None)
    assert dict(buf.items()) == model
    assert replayed == model  # listeners saw every change
    assert len(buf) == len(model)
    for d in Decision:
        assert buf.count(d) == sum(1 for v in model.values() if v is d)
        for p in range(3):
            assert buf.partition_counts(p)[d] == sum(
                1 for r, v in model.items() if v is d and r.partition == p
            )
