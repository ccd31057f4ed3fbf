"""The local journal: location, persistence of every change, crash tolerance, restore, compaction."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlq_tui.triage.decisions import Decision, StagedBuffer
from dlq_tui.triage.journal import Journal, JournalBusyError, RestoreResult, journal_dir, journal_path
from dlq_tui.triage.records import RecordId

M, P, S = Decision.MERGE, Decision.PURGE, Decision.SKIP
DLQ = ("cluster-AbC123", "payments-consumer", "payments-dead-letter-queue")


@pytest.fixture(autouse=True)
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def journal() -> Iterator[Journal]:
    with Journal(*DLQ) as j:
        yield j


def rids(*pairs: tuple[int, int]) -> list[RecordId]:
    return [RecordId(p, o) for p, o in pairs]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def reopen() -> dict[RecordId, Decision]:
    with Journal(*DLQ) as j:
        return j.load()


def test_location_and_file_name(state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert journal_dir() == state_home / "dlq-tui" / "journal"
    path = journal_path(*DLQ)
    assert path.parent == journal_dir()
    assert path.name.startswith("cluster-AbC123_payments-consumer_payments-dead-letter-queue-")
    assert path.suffix == ".jsonl"
    assert journal_path(*DLQ) == path  # stable
    odd = journal_path("../../etc", "g/../x", "t\0p")
    assert odd.parent == journal_dir() and "/" not in odd.name and "\0" not in odd.name
    assert not odd.name.startswith(".")
    # Names that slug alike still get different files.
    assert journal_path("c", "a b", "t") != journal_path("c", "a/b", "t")
    # An unset or relative XDG_STATE_HOME means ~/.local/state.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")
    assert journal_dir() == tmp_path / "home" / ".local" / "state" / "dlq-tui" / "journal"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert journal_dir() == tmp_path / "home" / ".local" / "state" / "dlq-tui" / "journal"


def test_every_change_is_on_disk_at_once(journal: Journal) -> None:
    assert journal.load() == {}
    buf = StagedBuffer()
    journal.attach(buf)
    assert not journal.path.exists()  # nothing staged, nothing written
    buf.set(rids((0, 12), (0, 13), (0, 14), (0, 15), (0, 40), (3, 7)), M)
    # Written before the call returned, without closing the journal.
    assert lines(journal.path)[-1] == {"op": "set", "d": "merge", "r": {"0": "12-15,40", "3": "7"}}
    buf.undo(rids((0, 13)))
    buf.set(rids((3, 8)), S)
    buf.set(rids((0, 40)), P)
    buf.drop(rids((0, 14)))
    ops = lines(journal.path)
    assert ops[0] == {"dlq_tui_journal": 1, "cluster": DLQ[0], "group": DLQ[1], "topic": DLQ[2]}
    assert [o["op"] for o in ops[1:]] == ["set", "undo", "set", "set", "drop"]
    journal.close()  # like a crash: nothing is written on close
    assert reopen() == dict(buf.items())
    assert reopen() == {
        RecordId(0, 12): M,
        RecordId(0, 15): M,
        RecordId(0, 40): P,
        RecordId(3, 7): M,
        RecordId(3, 8): S,
    }


def test_torn_last_line_is_ignored(journal: Journal) -> None:
    buf = StagedBuffer()
    journal.attach(buf)
    buf.set(rids((0, 1), (0, 2)), M)
    buf.set(rids((0, 3)), P)
    journal.close()
    with open(journal.path, "ab") as f:
        f.write(b'{"op":"set","d":"purge","r":{"0":"4-')  # crash mid-write
    with Journal(*DLQ) as j:
        assert j.load() == {RecordId(0, 1): M, RecordId(0, 2): M, RecordId(0, 3): P}
        assert j.corrupt_lines == 1
    # The load compacted the file: the torn line is gone.
    with Journal(*DLQ) as j:
        j.load()
        assert j.corrupt_lines == 0


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"op":"set","d":"maybe","r":{"0":"1"}}',
        b'{"op":"explode","r":{"0":"1"}}',
        b'{"op":"set","d":"merge","r":{"zero":"1"}}',
        b'{"op":"set","d":"merge","r":{"0":"1-x"}}',
        b'{"op":"set","d":"merge","r":{"0":5}}',
        b'{"op":"set","d":"merge","r":"0:1"}',
        b'{"op":"set","d":"merge"}',
    ],
)
def test_unreadable_lines_are_skipped(journal: Journal, bad: bytes) -> None:
    buf = StagedBuffer()
    journal.attach(buf)
    buf.set(rids((0, 1)), M)
    journal.close()
    with open(journal.path, "ab") as f:
        f.write(bad + b"\n" + b'{"op":"set","d":"skip","r":{"1":"5"}}\n')
    with Journal(*DLQ) as j:
        assert j.load() == {RecordId(0, 1): M, RecordId(1, 5): S}
        assert j.corrupt_lines == 1


def test_another_dlqs_journal_is_not_used(journal: Journal) -> None:
    journal.path.parent.mkdir(parents=True)
    other = {"dlq_tui_journal": 1, "cluster": "x", "group": DLQ[1], "topic": DLQ[2]}
    journal.path.write_text(json.dumps(other) + '\n{"op":"set","d":"merge","r":{"0":"1"}}\n')
    assert journal.load() == {}
    assert not journal.path.exists()


def test_load_compacts(journal: Journal) -> None:
    buf = StagedBuffer()
    journal.attach(buf)
    for o in range(200):
        buf.set(rids((0, o)), M if o % 3 else P)
    buf.undo(rids(*[(0, o) for o in range(100, 150)]))
    journal.close()
    assert len(lines(journal.path)) == 1 + 200 + 1
    expected = dict(buf.items())
    with Journal(*DLQ) as j:
        assert j.load() == expected
        assert [o.get("op") for o in lines(j.path)] == [None, "set", "set"]  # header + one line per decision
    assert reopen() == expected


def test_restore_drops_records_resolved_meanwhile(journal: Journal) -> None:
    first = StagedBuffer()
    journal.attach(first)
    first.set(rids((0, 1), (0, 2), (1, 1)), M)
    first.set(rids((0, 3)), S)
    first.set(rids((1, 2)), P)
    journal.close()

    with Journal(*DLQ) as j:
        assert len(j.load()) == 5
        buf = StagedBuffer()
        resolved = {RecordId(0, 2), RecordId(1, 2)}
        result = j.restore_into(buf, lambda rid: rid in resolved)
        assert result == RestoreResult(restored=3, dropped_as_resolved=2)
        assert dict(buf.items()) == {RecordId(0, 1): M, RecordId(1, 1): M, RecordId(0, 3): S}
        j.attach(buf)
        buf.set(rids((2, 2)), P)
    # The resolved ones are gone from the journal too.
    assert reopen() == {RecordId(0, 1): M, RecordId(1, 1): M, RecordId(0, 3): S, RecordId(2, 2): P}


def test_restore_into_an_attached_buffer_does_not_journal_twice(journal: Journal) -> None:
    first = StagedBuffer()
    journal.attach(first)
    first.set(rids((0, 1), (0, 2)), M)
    journal.close()
    with Journal(*DLQ) as j:
        buf = StagedBuffer()
        j.load()
        j.attach(buf)
        assert j.restore_into(buf, lambda rid: False) == RestoreResult(2, 0)
        assert len(lines(j.path)) == 2  # header + the compact set line
        buf.set(rids((0, 3)), P)
    assert reopen() == {RecordId(0, 1): M, RecordId(0, 2): M, RecordId(0, 3): P}


def test_restore_without_load_loads(journal: Journal) -> None:
    first = StagedBuffer()
    journal.attach(first)
    first.set(rids((0, 1)), M)
    journal.close()
    with Journal(*DLQ) as j:
        buf = StagedBuffer()
        assert j.restore_into(buf, lambda rid: False) == RestoreResult(1, 0)
        assert buf.get(RecordId(0, 1)) is M


def test_discard(journal: Journal) -> None:
    first = StagedBuffer()
    journal.attach(first)
    first.set(rids((0, 1)), M)
    journal.close()
    with Journal(*DLQ) as j:
        assert j.load()
        j.discard()
        assert not j.path.exists()
    assert reopen() == {}
    # Discarding with a buffer attached keeps that buffer's decisions.
    with Journal(*DLQ) as j:
        buf = StagedBuffer()
        j.attach(buf)
        buf.set(rids((4, 4)), P)
        j.discard()
    assert reopen() == {RecordId(4, 4): P}


def test_commit_compacts_and_an_empty_buffer_leaves_no_file(journal: Journal) -> None:
    buf = StagedBuffer()
    journal.attach(buf)
    buf.set(rids((0, 1), (0, 2), (0, 3)), M)
    buf.set(rids((0, 4)), S)
    buf.undo(rids((0, 3)))
    buf.clear_committed(rids((0, 1), (0, 2)))
    assert lines(journal.path)[1:] == [{"op": "set", "d": "skip", "r": {"0": "4"}}]
    buf.undo(rids((0, 4)))
    buf.set(rids((0, 5)), M)
    buf.clear_committed(rids((0, 5)))
    assert not journal.path.exists()
    # Writing again starts a new file with its header.
    buf.set(rids((0, 6)), P)
    assert lines(journal.path)[0]["dlq_tui_journal"] == 1
    journal.close()
    assert reopen() == {RecordId(0, 6): P}


def test_attach_journals_what_the_buffer_already_holds(journal: Journal) -> None:
    buf = StagedBuffer()
    buf.set(rids((0, 1)), M)
    buf.set(rids((0, 2)), S)
    journal.attach(buf)
    journal.close()
    assert reopen() == {RecordId(0, 1): M, RecordId(0, 2): S}


def test_detach_stops_journaling(journal: Journal) -> None:
    buf = StagedBuffer()
    journal.attach(buf)
    buf.set(rids((0, 1)), M)
    journal.detach()
    buf.set(rids((0, 2)), M)
    journal.close()
    assert reopen() == {RecordId(0, 1): M}


def test_a_second_session_on_the_same_dlq_is_refused(journal: Journal) -> None:
    journal.load()
    other = Journal(*DLQ)
    with pytest.raises(JournalBusyError):
        other.load()
    other.close()
    journal.close()
    with Journal(*DLQ) as again:
        again.load()
    # Another DLQ is independent.
    with Journal(DLQ[0], DLQ[1], "other-dlq") as independent:
        independent.load()


def test_a_bulk_decision_is_one_short_line(journal: Journal) -> None:
    buf = StagedBuffer()
    journal.attach(buf)
    buf.set([RecordId(p, o) for p in range(3) for o in range(100_000)], M)
    assert lines(journal.path)[-1] == {
        "op": "set",
        "d": "merge",
        "r": {"0": "0-99999", "1": "0-99999", "2": "0-99999"},
    }
    journal.close()
    assert len(reopen()) == 300_000


def test_write_errors_do_not_break_the_session(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[OSError] = []
    journal.on_error = errors.append
    buf = StagedBuffer()
    journal.attach(buf)
    buf.set(rids((0, 1)), M)

    real_write = os.write
    calls = {"n": 0}

    def torn_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(fd, bytes(data[:7]))  # half a line reaches the disk, then the disk is full
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", torn_write)
    buf.set(rids((0, 2)), P)  # does not raise
    assert buf.get(RecordId(0, 2)) is P
    assert len(errors) == 1 and journal.last_error is errors[0]
    buf.set(rids((0, 3)), S)  # the next write works again
    assert journal.last_error is None
    monkeypatch.setattr(os, "write", real_write)
    journal.close()
    with Journal(*DLQ) as j:
        assert j.load() == {RecordId(0, 1): M, RecordId(0, 3): S}
        assert j.corrupt_lines == 1  # the torn op


def test_fsync_is_called_per_op(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    buf = StagedBuffer()
    journal.attach(buf)
    buf.set(rids((0, 1)), M)
    buf.set(rids((0, 2)), M)
    assert len(synced) == 2
    quiet = Journal(DLQ[0], DLQ[1], "other", fsync=False)
    quiet_buf = StagedBuffer()
    quiet.attach(quiet_buf)
    quiet_buf.set(rids((0, 1)), M)
    quiet.close()
    assert len(synced) == 2
