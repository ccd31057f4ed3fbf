"""Where the record store keeps payload bytes: full chunks out of the Python heap.

The store fills one chunk at a time in a ``bytearray`` (in the heap). A full chunk is *frozen*:

* ``FileArena`` (the default) appends it to an anonymous temporary file and maps that stretch of
  the file read-only. The file is created mode 0600 in ``$XDG_CACHE_HOME/dlq-tui`` (a directory of
  mode 0700) and unlinked at once: no other process can open it by name, and the kernel frees it
  when the process exits, also on a crash or ``kill -9``. The page cache then holds what fits in
  memory and the rest stays on disk; the process's resident memory is the columns plus the pages
  it last touched.
* ``MemoryArena`` keeps frozen chunks as ``bytes`` in the heap (no disk; used when the cache
  directory cannot be written, or asked for with ``DLQ_TUI_ARENA=memory``).

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
import zlib
from pathlib import Path
from typing import Protocol

__all__ = [
    "Arena",
    "ArenaDigestError",
    "FileArena",
    "MemoryArena",
    "arena_dir",
    "default_arena",
]

Buffer = bytes | mmap.mmap


class ArenaDigestError(RuntimeError):
    """A frozen chunk's bytes no longer match the digest taken when it was loaded."""


class Arena(Protocol):
    """Frozen chunks of the record store, by number."""

    def freeze(self, chunk: bytearray) -> Buffer:
        """Keep `chunk` (which the caller then drops) and return a read-only buffer of it."""
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

    def freeze(self, chunk: bytearray) -> Buffer:
        data = bytes(chunk)
        self._chunks.append(data)
        self._digests.append(zlib.crc32(data))
        return data

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
        self._maps: list[mmap.mmap] = []
        self._offsets: list[int] = []
        self._digests: list[int] = []

    def freeze(self, chunk: bytearray) -> Buffer:
        n = len(chunk)
        start = self._size
        view = memoryview(chunk)
        written = 0
        while written < n:
            written += os.pwrite(self._fd, view[written:], start + written)
        view.release()
        # The next chunk starts on a page boundary: mmap offsets must be multiples of it.
        self._size = start + -(-n // mmap.ALLOCATIONGRANULARITY) * mmap.ALLOCATIONGRANULARITY
        mapped = _map_read_only(self._fd, n, start) if n else mmap.mmap(-1, 1)
        self._maps.append(mapped)
        self._offsets.append(start)
        self._digests.append(zlib.crc32(chunk))
        return mapped

    def verify(self, index: int) -> None:
        if zlib.crc32(self._maps[index]) != self._digests[index]:
            raise ArenaDigestError(
                f"record bytes in the local arena file changed since they were loaded (chunk {index})"
            )

    def nbytes_heap(self) -> int:
        return 0

    def release_pages(self, index: int | None = None) -> None:
        for m in self._maps if index is None else self._maps[index : index + 1]:
            m.madvise(mmap.MADV_DONTNEED)

    def location(self, index: int) -> tuple[str, int, int] | None:
        if self._fd < 0:
            return None
        return f"/proc/{os.getpid()}/fd/{self._fd}", self._offsets[index], len(self._maps[index])

    def file_size(self) -> int:
        return self._size

    def close(self) -> None:
        """Close the file. Chunks already mapped stay readable (a screen may still paint rows of a
        closed session); the kernel frees the file's blocks when the last mapping goes."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)


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


def default_arena() -> Arena:
    """A `FileArena` in the cache directory, or a `MemoryArena` when ``DLQ_TUI_ARENA=memory`` or
    the directory cannot be used."""
    if os.environ.get("DLQ_TUI_ARENA", "").strip().lower() == "memory":
        return MemoryArena()
    try:
        return FileArena()
    except OSError:
        return MemoryArena()
