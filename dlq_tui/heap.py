"""Handing the heap's free memory back to the system once a scan is done (issue 9).

A filter over a million rows allocates and frees ~100 MB of numpy arrays (row bounds, case-folded
chunks, hit lists). glibc's malloc raises its mmap threshold after the first such array is freed
(up to 32 MiB), so later ones come from its heaps, and a heap is only shrunk from its top: the
freed memory stays in the process's RSS. Worse, scans run in worker threads and `warm()` in
another, each with a malloc arena of its own, so after the first filter typed while `warm()` ran
the process kept ~100 MB of free heap for good (RssAnon 254 -> 355 MB at 1M records).

`give_back()` calls glibc's ``malloc_trim(0)``, which returns the free pages of every arena
(``madvise``, also in the middle of a heap). Elsewhere (macOS, musl without it) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable

__all__ = ["give_back", "trim_available"]


def _find_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process runs on
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_trim = _find_trim()
_lock = threading.Lock()  # one trim at a time: a second one at once would find nothing to do


def trim_available() -> bool:
    """Whether this process's C library can hand free heap memory back (glibc)."""
    return _trim is not None


def give_back() -> bool:
    """Return the heap's free memory to the system; True if the C library released some. Cheap
    (a few ms after a scan at 1M rows); call it when a scan is done, from any thread."""
    if _trim is None or not _lock.acquire(blocking=False):
        return False
    try:
        return bool(_trim(0))
    finally:
        _lock.release()
