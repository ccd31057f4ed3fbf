"""Both cores for word scans: worker processes search frozen arena chunks in place.

A frozen chunk of a `FileArena` is a stretch of an (unlinked) file that any process of the same
user can map through ``/proc/<pid>/fd/<fd>``. A worker maps it, folds its case and returns where a
word occurs; the caller maps hits to rows. Threads would not help: the search holds the GIL.
Workers start on first use (``forkserver``: a clean process, not a copy of the app) and import
only this module and numpy.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import re
import struct
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from dlq_tui.triage.arena import Buffer

__all__ = ["WordPool", "chunk_flags", "find_word", "row_flag", "scan_workers"]

# Plain flags of rows (dlq_tui.scan explains what plain means)
UNKNOWN, PLAIN_ASCII, PLAIN_UNICODE, NOT_PLAIN = 0, 1, 2, 3
_LETTERS3 = re.compile(rb"[A-Za-z]{3}")
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\\]|\xc2[\x80-\x9f]")
_HDR_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")
# Bytes a plain key or value may hold when ASCII (no controls but TAB, LF, CR, ESC; no backslash),
# and a plain ASCII header value (no ESC; backslashes are fine: headers are not parsed).
_KV_OK = bytes(sorted({*range(0x20, 0x7F), 0x09, 0x0A, 0x0D, 0x1B} - {0x5C}))
_HDR_OK = bytes(sorted({*range(0x20, 0x7F), 0x09, 0x0A, 0x0D}))
_HDR = struct.Struct("<Ii")
_HDR_SIZE = _HDR.size


def scan_workers() -> int:
    """Worker processes for scans: ``DLQ_TUI_SCAN_WORKERS`` (default 0: scan in the app's own
    process). On the shared 2-core bench machine workers were slower (see docs/performance.md);
    on an idle multi-core bastion they spread the search over the cores."""
    try:
        return max(0, int(os.environ.get("DLQ_TUI_SCAN_WORKERS", "0")))
    except ValueError:
        return 0


MIN_CHUNKS = 4
"""Fewer frozen chunks than this are searched in the calling process (starting workers costs more)."""


def find_word(path: str, offset: int, length: int, word: bytes) -> bytes:
    """Offsets in ``path[offset:offset + length]`` where `word` (lower-case ASCII letters)
    occurs, ignoring ASCII case; as int64 bytes. Runs in a worker process."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), length, access=mmap.ACCESS_READ, offset=offset) as m:
        folded = np.bitwise_or(np.frombuffer(m, np.uint8), 0x20).tobytes()
    hits: list[int] = []
    find = folded.find
    i = find(word)
    while i >= 0:
        hits.append(i)
        i = find(word, i + 1)
    return np.asarray(hits, np.int64).tobytes()


def row_flag(buf: Buffer | bytearray, p: int, klen: int, vlen: int, count: int, widths: list[int]) -> int:
    """The plain flag of one row stored at `p` of `buf` (`RecordStore.layout_at`); `widths` per
    header name id: `dlq_tui.scan.header_kind` (0 text, 4/8 an integer of that width, 9 one of 1 to 8
    bytes, -1 never plain)."""
    klen, vlen = max(klen, 0), max(vlen, 0)
    kv = buf[p : p + klen + vlen]
    if klen and vlen and kv[klen - 1 : klen].isalpha() and kv[klen : klen + 1].isalpha():
        return NOT_PLAIN  # stored back to back: letters would run from key into value
    ascii_only = kv.isascii()
    if ascii_only:
        if kv.translate(None, _KV_OK):  # a control byte or a backslash
            return NOT_PLAIN
    else:
        for data in (kv[:klen], kv[klen:]):
            if _BINARY.search(data) is not None:
                return NOT_PLAIN
            try:
                data.decode()
            except UnicodeDecodeError:
                return NOT_PLAIN
    h = p + klen + vlen
    for _ in range(count):
        nid, n = _HDR.unpack_from(buf, h)
        h += _HDR_SIZE
        width = widths[nid]
        if width < 0:
            return NOT_PLAIN  # names the schema the key or value is decoded with
        if n < 0:
            continue
        if n > 0xFFFF:
            return NOT_PLAIN  # its stored length could spell letters
        value = buf[h : h + n]
        h += n
        if width:
            # Shown as a number: fine unless the width is wrong (hex and a note) or its raw
            # bytes spell a word themselves (they are in the bytes the scan searches).
            if (n != width if width != 9 else not 1 <= n <= 8) or _LETTERS3.search(value) is not None:
                return NOT_PLAIN
            continue
        if value.isascii():
            if value.translate(None, _HDR_OK):
                return NOT_PLAIN
            continue
        ascii_only = False
        if _HDR_BINARY.search(value) is not None:
            return NOT_PLAIN
        try:
            value.decode()
        except UnicodeDecodeError:
            return NOT_PLAIN
    return PLAIN_ASCII if ascii_only else PLAIN_UNICODE


def chunk_flags(path: str, offset: int, length: int, layout: bytes, widths: list[int]) -> bytes:
    """`row_flag` of rows stored in one frozen chunk; `layout` is int64 rows of (start, key
    length, value length, header count). Runs in a worker process."""
    rows = np.frombuffer(layout, np.int64).reshape(-1, 4).tolist()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), length, access=mmap.ACCESS_READ, offset=offset) as m:
        out = bytes(row_flag(m, p, k, v, c, widths) for p, k, v, c in rows)
    return out


class WordPool:
    """A small process pool for `find_word` and `chunk_flags` (default: one worker per CPU, at
    most 2: the bastion's cores are shared with the app's own event loop)."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or max(1, min(2, os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, path: str, offset: int, length: int, word: bytes) -> Future[bytes]:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(self._workers, mp_context=context)
        return self._pool.submit(find_word, path, offset, length, word)

    def submit_flags(
        self, path: str, offset: int, length: int, layout: bytes, widths: list[int]
    ) -> Future[bytes]:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(self._workers, mp_context=context)
        return self._pool.submit(chunk_flags, path, offset, length, layout, widths)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
