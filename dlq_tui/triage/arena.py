"""Where the record store keeps payload bytes: in memory up to a budget, the rest out of the heap.

The store fills one chunk at a time in a ``bytearray`` (in the heap). A full chunk is *frozen*:

* ``SpillArena`` (the default, `default_arena`) keeps frozen chunks in memory (a ``MemoryArena``)
  while they fit in its memory budget (``--memory-budget``, `DEFAULT_MEMORY_BUDGET`); the first
  chunk that does not fit opens a ``FileArena`` and it and every later chunk go there. A DLQ
  smaller than the budget never touches the disk; a bigger one holds at most the budget in memory.
* ``FileArena`` appends a chunk to an anonymous temporary file and maps that stretch of
  the file read-only. The file is created mode 0600 in ``$XDG_CACHE_HOME/dlq-tui`` (a directory of
  mode 0700) and unlinked at once: no other process can open it by name, and the kernel frees it
  when the process exits, also on a crash or ``kill -9``. The page cache then holds what fits in
  memory and the rest stays on disk; the process's resident memory is the columns plus the pages
  it last touched.
  The file is written by one background thread (``os.pwrite`` and ``zlib.crc32`` release the
  GIL), so that loading goes on while the previous chunk is written; until then the chunk is
  read from its heap copy.
* ``MemoryArena`` keeps frozen chunks as ``bytes`` in the heap (no disk; also what a
  ``SpillArena`` does when the cache directory cannot be written).

Each frozen chunk gets a CRC-32 of its bytes, taken from the heap copy before it is written.
`verify` recomputes it from the mapping: what a commit copies to Kafka is exactly what was loaded
(and shown). CRC-32 detects corruption and accidental change of the file; it is not a defence
against an attacker who can write to this user's files (who could change the process too).
"""

from __future__ import annotations

import mmap
import os
import resource
import sys
import tempfile
import threading
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "Arena",
    "ArenaDigestError",
    "FileArena",
    "MemoryArena",
    "SpillArena",
    "arena_dir",
    "default_arena",
]

Buffer = bytes | mmap.mmap

DEFAULT_MEMORY_BUDGET = 32 << 20
"""Payload bytes kept in memory before chunks spill to the arena file (32 MiB: a DLQ of up to
~25,000 records of 1 KB never touches the disk; at 1M x 1 KB the app's peak stays under 400 MB)."""
_PENDING_WRITES = 2
"""Chunks (4 MB each) that may wait for the arena file's writer before loading waits for it."""


class ArenaDigestError(RuntimeError):
    """A frozen chunk's bytes no longer match the digest taken when it was loaded."""


class Arena(Protocol):
    """Frozen chunks of the record store, by number."""

    def freeze(self, chunk: bytes | bytearray) -> Buffer | bytearray:
        """Keep `chunk` (which the caller then drops and never changes) and return a buffer of
        it; `settle` may later give a better one for the same chunk."""
        ...

    def settle(self, frozen: list[Buffer | bytearray]) -> None:
        """Replace in `frozen` (the caller's list of what `freeze` returned, by chunk number) the
        buffers of chunks whose final place is ready."""
        ...

    def verify(self, index: int) -> None:
        """Raise `ArenaDigestError` if frozen chunk `index` changed since it was frozen."""
        ...

    def nbytes_heap(self) -> int:
        """Bytes of frozen chunks held in the Python heap."""
        ...

    def release_pages(self, index: int | None = None) -> None:
        """Unmap what scans paged in of frozen chunk `index` (None: all); it stays in the page
        cache. Keeps the process's RSS to what it holds, not what it last read."""
        ...

    def location(self, index: int) -> tuple[str, int, int] | None:
        """(path another process of this user can open, offset, length) of frozen chunk `index`,
        or None when the chunk is not in a file."""
        ...

    def close(self) -> None: ...


def arena_dir() -> Path:
    """``$XDG_CACHE_HOME/dlq-tui`` (an unset or relative XDG_CACHE_HOME means ``~/.cache``)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "dlq-tui"


class MemoryArena:
    """Frozen chunks as exact-size ``bytes`` in the heap."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._digests: list[int] = []

    def freeze(self, chunk: bytes | bytearray) -> Buffer | bytearray:
        data = chunk if isinstance(chunk, bytes) else bytes(chunk)
        self._chunks.append(data)
        self._digests.append(zlib.crc32(data))
        return data

    def settle(self, frozen: list[Buffer | bytearray]) -> None:
        pass

    def __len__(self) -> int:
        return len(self._chunks)

    def verify(self, index: int) -> None:
        if zlib.crc32(self._chunks[index]) != self._digests[index]:
            raise ArenaDigestError(f"record bytes changed in memory (chunk {index})")

    def nbytes_heap(self) -> int:
        return sum(len(c) for c in self._chunks)

    def location(self, index: int) -> tuple[str, int, int] | None:
        return None

    def release_pages(self, index: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class FileArena:
    """Frozen chunks in an unlinked, memory-mapped temporary file (see the module docstring)."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or arena_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="arena-", dir=directory)  # mode 0600
        os.unlink(path)
        self.directory = directory
        self._fd = fd
        self._size = 0
        self._maps: list[mmap.mmap | None] = []
        self._offsets: list[int] = []
        self._lengths: list[int] = []
        self._digests: list[int] = []
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[int, Future[None]]] = deque()

    def __len__(self) -> int:
        return len(self._offsets)

    def freeze(self, chunk: bytes | bytearray) -> Buffer | bytearray:
        n = len(chunk)
        start = self._size
        # The next chunk starts on a page boundary: mmap offsets must be multiples of it.
        self._size = start + -(-n // mmap.ALLOCATIONGRANULARITY) * mmap.ALLOCATIONGRANULARITY
        index = len(self._offsets)
        self._offsets.append(start)
        self._lengths.append(n)
        self._maps.append(None)
        self._digests.append(0)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="dlq-tui-arena")
        while len(self._pending) >= _PENDING_WRITES:  # bounded memory: wait for the oldest
            self._pending[0][1].result()
            self.settle([])
        future = self._writer.submit(self._write, index, chunk)
        with self._lock:
            self._pending.append((index, future))
        return chunk  # read from the heap copy until `settle` swaps in the mapping

    def _write(self, index: int, chunk: bytes | bytearray) -> None:
        """In the writer thread: digest, write and map chunk `index`."""
        digest = zlib.crc32(chunk)
        start, n = self._offsets[index], len(chunk)
        view = memoryview(chunk)
        written = 0
        while written < n:
            written += os.pwrite(self._fd, view[written:], start + written)
        view.release()
        mapped = _map_read_only(self._fd, n, start) if n else mmap.mmap(-1, 1)
        with self._lock:
            self._digests[index] = digest
            self._maps[index] = mapped

    def _wait(self, index: int | None = None) -> None:
        """Wait until chunk `index` (None: every chunk) is written; raise the writer's error. (Any
        thread: only `freeze` and `settle`, on the store's thread, take from the queue.)"""
        with self._lock:
            pending = list(self._pending)
        for i, future in pending:
            if index is None or i <= index:
                future.result()

    def _mapping(self, index: int) -> mmap.mmap:
        self._wait(index)
        mapped = self._maps[index]
        assert mapped is not None
        return mapped

    def settle(self, frozen: list[Buffer | bytearray], first: int = 0) -> None:
        """Swap in the mappings of written chunks (`frozen[first + i]` is chunk i)."""
        done = []
        with self._lock:
            while self._pending and self._pending[0][1].done():
                done.append(self._pending.popleft()[1])
            maps = list(self._maps)
        for future in done:
            future.result()  # the writer's error, if any
        for i in range(min(len(maps), len(frozen) - first)):
            m = maps[i]
            if m is not None and frozen[first + i] is not m:
                frozen[first + i] = m

    def verify(self, index: int) -> None:
        if zlib.crc32(self._mapping(index)) != self._digests[index]:
            raise ArenaDigestError(
                f"record bytes in the local arena file changed since they were loaded (chunk {index})"
            )

    def nbytes_heap(self) -> int:
        with self._lock:
            return sum(self._lengths[i] for i, future in self._pending if not future.done())

    def release_pages(self, index: int | None = None) -> None:
        with self._lock:
            maps = list(self._maps) if index is None else self._maps[index : index + 1]
        for m in maps:
            if m is not None:
                m.madvise(mmap.MADV_DONTNEED)

    def location(self, index: int) -> tuple[str, int, int] | None:
        if self._fd < 0:
            return None
        self._wait(index)
        return f"/proc/{os.getpid()}/fd/{self._fd}", self._offsets[index], self._lengths[index]

    def file_size(self) -> int:
        self._wait()
        return self._size

    def close(self) -> None:
        """Close the file. Chunks already mapped stay readable (a screen may still paint rows of a
        closed session); the kernel frees the file's blocks when the last mapping goes."""
        if self._fd >= 0:
            self._wait()
            if self._writer is not None:
                self._writer.shutdown()
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)


class SpillArena:
    """Frozen chunks in memory while they fit in `memory_budget` bytes, then in a `FileArena`
    opened at the first chunk that does not fit (see the module docstring). Budget 0: every
    chunk goes to the file."""

    def __init__(self, memory_budget: int = DEFAULT_MEMORY_BUDGET, directory: Path | None = None) -> None:
        if memory_budget < 0:
            raise ValueError("memory_budget must be >= 0")
        self.memory_budget = memory_budget
        self._directory = directory
        self._memory = MemoryArena()
        self._memory_bytes = 0
        self._file: FileArena | None = None
        self.spill_error: str | None = None
        """Why chunks beyond the budget stayed in memory (the arena file could not be created)."""

    @property
    def file(self) -> FileArena | None:
        """The arena file, once a chunk spilled."""
        return self._file

    def memory_chunks(self) -> int:
        """Frozen chunks held in memory (chunks 0 .. n-1; later ones are in the file)."""
        return len(self._memory)

    def freeze(self, chunk: bytes | bytearray) -> Buffer | bytearray:
        if self._file is None and (
            self.spill_error is not None or self._memory_bytes + len(chunk) <= self.memory_budget
        ):
            self._memory_bytes += len(chunk)
            return self._memory.freeze(chunk)
        if self._file is None:
            try:
                self._file = FileArena(self._directory)
            except OSError as exc:
                self.spill_error = f"cannot create the arena file: {exc}"
                return self.freeze(chunk)
        return self._file.freeze(chunk)

    def settle(self, frozen: list[Buffer | bytearray]) -> None:
        if self._file is not None:
            self._file.settle(frozen, len(self._memory))

    def _split(self, index: int) -> tuple[MemoryArena | FileArena, int]:
        n = len(self._memory)
        if index < n:
            return self._memory, index
        assert self._file is not None
        return self._file, index - n

    def verify(self, index: int) -> None:
        arena, i = self._split(index)
        arena.verify(i)

    def nbytes_heap(self) -> int:
        return self._memory.nbytes_heap() + (self._file.nbytes_heap() if self._file else 0)

    def release_pages(self, index: int | None = None) -> None:
        if self._file is None:
            return
        if index is None:
            self._file.release_pages()
        elif index >= len(self._memory):
            self._file.release_pages(index - len(self._memory))

    def location(self, index: int) -> tuple[str, int, int] | None:
        arena, i = self._split(index)
        return arena.location(i)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


FD_HEADROOM = 256
"""Open files kept free for everything else (broker connections, the journal, the registry)."""
_FD_STEP = 32
_maps_until_check = 0


def _map_read_only(fd: int, length: int, offset: int) -> mmap.mmap:
    """A read-only mapping of `length` bytes of `fd` from `offset`.

    Before Python 3.13 every `mmap.mmap` keeps a duplicate of the file descriptor open for its
    lifetime: one open file per 4 MB chunk, ~2,600 at 10M x 1 KB, past the usual soft limit of 1024
    (``ulimit -n``). There, the soft limit is raised towards the hard limit as the arena grows (as
    the Go runtime does at start); 3.13+ maps without the duplicate."""
    global _maps_until_check
    if sys.version_info >= (3, 13):
        return mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=offset, trackfd=False)
    if _maps_until_check <= 0:  # counting open files costs a directory listing: every 32 maps
        ensure_open_files(_FD_STEP)
        _maps_until_check = _FD_STEP
    _maps_until_check -= 1
    return mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=offset)


def ensure_open_files(more: int) -> None:
    """Make room for `more` open files plus `FD_HEADROOM` under RLIMIT_NOFILE, raising the soft
    limit (doubling it, at most to the hard limit) when needed. Raises OSError (EMFILE) with what to
    do when the hard limit does not allow it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return
    try:
        used = len(os.listdir("/proc/self/fd"))
    except OSError:
        return  # not Linux: leave the limit alone
    need = used + more + FD_HEADROOM
    if need <= soft:
        return
    new = max(need, 2 * soft)
    if hard != resource.RLIM_INFINITY:
        new = min(new, hard)
    if new < need:
        raise OSError(
            24,
            f"the local arena needs more open files than this process may have (ulimit -n: {soft}, "
            f"hard limit {hard}, {used} open): raise the limit (ulimit -n) or set DLQ_TUI_ARENA=memory",
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def default_arena(memory_budget: int | None = None) -> Arena:
    """A `SpillArena` with `memory_budget` (default `DEFAULT_MEMORY_BUDGET`) over the cache
    directory; ``DLQ_TUI_ARENA=memory`` keeps every chunk in memory (no budget, no disk)."""
    if os.environ.get("DLQ_TUI_ARENA", "").strip().lower() == "memory":
        return MemoryArena()
    return SpillArena(DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget)
