"""The group index and group summaries over a record store (no broker)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlq_tui.decode.dlq_headers import HEADERS, parse_dlq_headers
from dlq_tui.demo.conventions import FAILURE_KINDS, convention_records
from dlq_tui.groups import GroupIndex
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import Header, RawRecord
from dlq_tui.triage.store import RecordStore


def _store(headers: list[tuple[Header, ...]], partitions: int = 3) -> RecordStore:
    store = RecordStore()
    store.extend(
        RawRecord(i % partitions, i // partitions, 1000 + i, 0, b"k%d" % i, b"v", h)
        for i, h in enumerate(headers)
    )
    return store


def test_one_group_per_failure_kind_of_the_demo_conventions() -> None:
    records = convention_records(5, 2_000_000)
    store = _store([tuple(r.headers) for r in records])
    index = GroupIndex(store)
    groups = index.summaries()
    assert len(groups) == len(FAILURE_KINDS)
    assert all(g.count == 5 and g.undecided == 5 for g in groups)
    by_convention = {g.convention: g for g in groups}
    assert set(by_convention) == set(FAILURE_KINDS)
    assert (
        by_convention["karafka"].kind == "origin" and by_convention["karafka"].origin_topic == "legacy-orders"
    )
    assert by_convention[""].kind == "none"
    assert by_convention["scst"].message == (
        "error occurred in message handler [bean <str>]; amount <n> exceeds limit <n>"
    )
    # the same ids as the record-by-record rule (the filter's group:ID on a decoded record)
    for row, rec in enumerate(records):
        assert index.group_of(row) == parse_dlq_headers(rec.headers).fingerprint().id


def test_summary_counts_times_partitions_and_order() -> None:
    a = (("kafka_dlt-exception-fqcn", b"A"), ("kafka_dlt-exception-message", b"id 1"))
    a2 = (("kafka_dlt-exception-fqcn", b"A"), ("kafka_dlt-exception-message", b"id 22"))
    b = (("__connect.errors.exception.class.name", b"B"),)
    store = _store([a, b, a2, a, b, a2, a])  # rows 0..6, partitions 0,1,2,0,1,2,0
    index = GroupIndex(store)
    resolved = bytearray(7)
    resolved[3] = 1
    decisions = {0: {0: Decision.MERGE, 1: Decision.PURGE}, 2: {0: Decision.SKIP}, 1: {0: Decision.PURGE}}
    # rows: (p0,o0)=row0 a merge; (p0,o1)=row3 a resolved (its purge does not count); (p2,o0)=row2 a2 skip
    groups = index.summaries(resolved=resolved, decisions=decisions)
    assert [g.count for g in groups] == [5, 2]
    ga, gb = groups
    assert (ga.exception, ga.message, ga.convention) == ("A", "id <n>", "spring")
    assert (ga.resolved, ga.decided, ga.undecided) == (1, 2, 2)
    assert (ga.merge, ga.purge, ga.skip) == (1, 0, 1)
    assert (ga.first_timestamp, ga.last_timestamp) == (1000, 1006)
    assert ga.partitions == (0, 2)
    assert (gb.count, gb.decided, gb.partitions, gb.convention) == (2, 1, (1,), "connect")
    # over some rows only
    sub = index.summaries([1, 2], resolved=resolved, decisions=decisions)
    assert [(g.id, g.count) for g in sub] == sorted([(ga.id, 1), (gb.id, 1)], key=lambda t: t[0])
    assert list(index.rows_of(ga.id)) == [0, 2, 3, 5, 6]
    assert list(index.rows_of(ga.id, [6, 1, 0])) == [6, 0]
    assert list(index.rows_of("0000000000")) == []


def test_index_grows_with_the_store() -> None:
    store = _store([(("source_topic", b"t"),)])
    index = GroupIndex(store)
    assert [g.count for g in index.summaries()] == [1]
    store.append(RawRecord(0, 99, 5, 0, None, None, (("source_topic", b"t"),)))
    store.append(RawRecord(0, 100, 6, 0, None, None, ()))
    assert [g.count for g in index.summaries(index_all=False)] == [1], "only what is indexed"
    groups = index.summaries()
    assert sorted((g.kind, g.count) for g in groups) == [("none", 1), ("origin", 2)]
    assert len(index) == 3
    assert index.update() == 0


_VALUES = st.sampled_from([b"", b"x", b"Order 12 failed", b"Order 345 failed", b"\xff\xfe", b"a@b.cd", b"t1"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from([*HEADERS, "other"]), st.none() | _VALUES), max_size=6),
        min_size=1,
        max_size=8,
    )
)
def test_fast_index_agrees_with_the_full_parse(records: list[list[tuple[str, bytes | None]]]) -> None:
    store = _store([tuple(h) for h in records])
    index = GroupIndex(store)
    conventions: dict[str, set[str]] = {}
    for row, headers in enumerate(records):
        info = parse_dlq_headers(headers)
        assert index.group_of(row) == info.fingerprint().id, headers
        conventions.setdefault(info.fingerprint().id, set()).update([info.source] if info.source else [])
    assert {g.id: set(g.conventions) for g in index.summaries()} == conventions


def test_docs_list_every_convention_and_show_the_table() -> None:
    from pathlib import Path

    from dlq_tui.decode.dlq_headers import CONVENTIONS

    docs = Path(__file__).resolve().parent.parent / "docs"
    text = (docs / "groups.md").read_text()
    for convention in CONVENTIONS:
        assert f"| `{convention}` — " in text, convention
    assert (docs / "img" / "groups.svg").read_text().lstrip().startswith("<svg")


async def test_engine_groups_on_the_memory_engine() -> None:
    """Groups through the engine (the same code as on Kafka): decisions, the group filter, and
    what a commit changes."""
    from dlq_tui.memory_engine import MemoryEngine
    from dlq_tui.triage.filter import parse

    records = [
        RawRecord(i % 2, i // 2, 5000 + i, 0, b"k%d" % i, b"v", tuple(r.headers))
        for i, r in enumerate(convention_records(3, 5000))
    ]
    engine = MemoryEngine(records)
    await engine.open()
    await engine.load_all()
    groups = await engine.groups_async()
    assert len(groups) == len(FAILURE_KINDS) and all(g.count == 3 for g in groups)
    streams = next(g for g in groups if g.convention == "streams")
    rows = engine.group_rows(streams.id)
    assert len(rows) == 3
    assert list(engine.match(parse(f"group:{streams.id}"), engine.visible_rows())) == list(rows)
    assert list(engine.match(parse("origin:shipments"), engine.visible_rows())) == list(rows)

    engine.decide(rows[:2], Decision.PURGE)
    after = {g.id: g for g in await engine.groups_async()}
    assert (after[streams.id].decided, after[streams.id].purge, after[streams.id].undecided) == (2, 2, 1)

    await engine.commit()
    after = {g.id: g for g in await engine.groups_async()}
    assert after[streams.id].count == 1, "resolved records leave the default view"
    everything = {g.id: g for g in engine.groups(range(engine.row_count()))}
    assert (everything[streams.id].count, everything[streams.id].resolved) == (3, 2)
    await engine.close()
