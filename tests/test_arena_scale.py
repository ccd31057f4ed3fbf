"""The store and its file arena at incident scale, in small: offsets above 2^31 and 2^32, arena
file positions above 4 GB (a sparse file), and more frozen chunks than the usual open-file limit
(1024) allows mappings on Python < 3.13, where every `mmap` keeps a duplicate descriptor."""

from __future__ import annotations

import mmap
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlq_tui.triage.arena import FileArena
from dlq_tui.triage.records import RawRecord, RecordId
from dlq_tui.triage.store import RecordStore

ROOT = Path(__file__).resolve().parent.parent

# Fills a store whose arena has ~1,200 chunks under a soft open-file limit of (open now + 100),
# then reads every record back. Prints the chunk count and the soft limit at the end.
MANY_CHUNKS = """
import os, resource, sys, tempfile
from pathlib import Path
from dlq_tui.triage.arena import FileArena
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.store import RecordStore

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
low = len(os.listdir("/proc/self/fd")) + 100
resource.setrlimit(resource.RLIMIT_NOFILE, (low, low if sys.argv[1] == "hard" else hard))
base = 3 * 2**31
with tempfile.TemporaryDirectory() as d:
    store = RecordStore(chunk_size=4096, arena=FileArena(Path(d)))
    def rec(i):
        return RawRecord(i % 3, base + i, 1_700_000_000_000 + i, 0, b"key-%d" % i, bytes([i % 251]) * 4100,
                         (("h", b"%d" % i),))
    for start in range(0, 1200, 100):
        store.extend([rec(i) for i in range(start, start + 100)])
    for i in range(1200):
        assert store.get(i) == rec(i), i
        assert store.row_of(store.rid_at(i)) == i
    store.verify_rows(range(1200))
    print(store.chunk_location(1199) is not None, resource.getrlimit(resource.RLIMIT_NOFILE)[0] > low)
"""


def run_many_chunks(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MANY_CHUNKS), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_more_chunks_than_the_open_file_limit_are_stored_and_read_back() -> None:
    result = run_many_chunks("soft")
    assert result.returncode == 0, result.stderr[-2000:]
    located, raised = result.stdout.split()
    assert located == "True"
    # Before 3.13 the soft limit had to be raised (one descriptor per mapping); after, not.
    assert raised == ("True" if sys.version_info < (3, 13) else "False")


@pytest.mark.skipif(
    sys.version_info >= (3, 13),
    reason="only Python < 3.13 keeps an open file per mapped chunk (3.13+ maps with trackfd=False)",
)
def test_a_hard_open_file_limit_that_is_too_low_says_what_to_do() -> None:
    result = run_many_chunks("hard")
    assert result.returncode != 0
    assert "ulimit -n" in result.stderr
    assert "DLQ_TUI_ARENA=memory" in result.stderr


def test_offsets_above_2_to_the_32_round_trip(tmp_path: Path) -> None:
    store = RecordStore(chunk_size=1024, arena=FileArena(tmp_path))
    offsets = [2**31 - 1, 2**31, 2**32 + 5, 2**40, 2**63 - 2]
    records = [RawRecord(7, o, 1, 0, b"k", b"v%d" % o, ()) for o in offsets]
    store.extend(records)
    assert [store.offset_at(i) for i in range(len(offsets))] == offsets
    assert [store.row_of(RecordId(7, o)) for o in offsets] == list(range(len(offsets)))
    assert list(store.partition_offsets(7, 2**31, 2**41)) == offsets[1:4]
    assert list(store.partition_rows(7, 2**32)) == [2, 3, 4]
    assert store.last_offset(7) == 2**63 - 2
    assert list(store) == records


def test_arena_file_positions_above_4_gib(tmp_path: Path) -> None:
    arena = FileArena(tmp_path)
    # Start the file at 5 GiB: a sparse file (a hole, no disk blocks), as if 5 GiB were loaded.
    arena._size = 5 << 30
    chunk = bytearray(b"payload above four gigabytes " * 200)
    frozen = [arena.freeze(bytearray(chunk))]
    location = arena.location(0)  # waits for the writer
    assert location is not None
    path, offset, length = location
    assert (offset, length) == (5 << 30, len(chunk))
    arena.settle(frozen)
    assert isinstance(frozen[0], mmap.mmap)  # the mapping, at an offset above 4 GiB
    assert frozen[0][:] == bytes(chunk)
    with open(path, "rb") as f:  # what a scan worker reads through /proc/<pid>/fd/<n>
        f.seek(offset)
        assert f.read(length) == bytes(chunk)
    arena.verify(0)
    arena.release_pages(0)
    assert frozen[0][:] == bytes(chunk)
    arena.close()
