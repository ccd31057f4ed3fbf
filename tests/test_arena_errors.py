"""The arena when things go wrong: a scan holding the filling chunk while loading grows it, and a
write to the arena file that fails (full disk, too many open files). No broker."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from dlq_tui.triage import arena as arena_module
from dlq_tui.triage.arena import ArenaDigestError, ArenaWriteError, FileArena, MemoryArena, SpillArena
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore


def batch(first: int, n: int = 4) -> list[RawRecord]:
    return [
        RawRecord(0, o, 0, 0, b"k%d" % o, b"value-%08d-" % o + b"x" * 990) for o in range(first, first + n)
    ]


def test_a_scan_holding_the_filling_chunk_does_not_stop_loading() -> None:
    store = RecordStore(arena=MemoryArena(), chunk_size=1 << 20)
    store.extend(batch(0))
    filling = store.chunk_buffer(len(store.arena))
    view = memoryview(filling)  # what numpy holds while a scan thread folds case over it
    try:
        store.extend(batch(4))  # a bytearray exported to a view could not grow: BufferError
    finally:
        view.release()
    assert [store.value_at(r)[:14] for r in (0, 7)] == [b"value-00000000", b"value-00000007"]


@pytest.fixture
def failing_writes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The arena's third write fails with ENOSPC (the disk filled up)."""
    real = os.pwrite
    count = {"writes": 0}

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        count["writes"] += 1
        if count["writes"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(arena_module.os, "pwrite", pwrite)
    return count


def test_a_failed_write_stops_loading_and_refuses_commits(
    failing_writes: dict[str, int], tmp_path: Path
) -> None:
    store = RecordStore(arena=SpillArena(0, tmp_path), chunk_size=4096)
    offset, stored = 0, []
    with pytest.raises(ArenaWriteError, match="No space left on device"):
        for _ in range(40):
            store.extend(batch(offset))
            stored += batch(offset)
            offset += 4
    # It sticks: loading more (the loader restarted on the same store) fails the same way, and
    # no row reads another row's bytes.
    with pytest.raises(ArenaWriteError):
        for _ in range(10):
            store.extend(batch(offset))
            offset += 4
    for row, rec in enumerate(stored):
        assert store.value_at(row) == rec.value
    # A commit checks the rows' chunks first: refused (the engine says "refusing to commit").
    with pytest.raises(ArenaDigestError, match="could not be written"):
        store.verify_rows(range(len(store)))
    # A scan thread handing pages back neither meets nor swallows the error.
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            store.release_pages()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=scan)
    thread.start()
    thread.join()
    assert errors == []
    file = store.arena.file  # type: ignore[attr-defined]
    assert isinstance(file, FileArena)
    fd = file._fd
    store.close()  # frees the file's blocks whatever the writer met
    assert not os.path.exists(f"/proc/self/fd/{fd}")
    assert not any(t.name.startswith("dlq-tui-arena") for t in threading.enumerate())
