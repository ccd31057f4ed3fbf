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


def _positions(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)


def _any_in(positions: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether any of the sorted `positions` lies in [lo, hi), per range."""
    return np.searchsorted(positions, hi) > np.searchsorted(positions, lo)


def _is_letter(b: np.ndarray) -> np.ndarray:
    folded = b | 0x20
    return (folded >= 0x61) & (folded <= 0x7A)


def _segment_bytes(
    data: np.ndarray, lo: np.ndarray, hi: np.ndarray, kv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per byte range ``[lo, hi)``: (holds a byte a plain text may not hold, holds a non-ASCII
    byte). `kv` marks key/value ranges (ESC fine, backslash not) against header values (the other
    way round). Ranges must not overlap. Most ranges are printable ASCII: three reductions over
    the chunk (min, max, any backslash) clear them; only a chunk with other ranges pays for
    finding its control bytes."""
    m = len(lo)
    bad = np.zeros(m, bool)
    non_ascii = np.zeros(m, bool)
    full = np.flatnonzero(hi > lo)
    if not len(full):
        return bad, non_ascii
    order = full[np.argsort(lo[full], kind="stable")]
    idx = np.empty(2 * len(order), np.int64)
    idx[0::2] = lo[order]
    idx[1::2] = hi[order]
    if idx[-1] >= len(data):
        idx = idx[:-1]  # the last range runs to the end of the chunk
    low = np.minimum.reduceat(data, idx)[0::2]
    high = np.maximum.reduceat(data, idx)[0::2]
    backslash = np.logical_or.reduceat(data == 0x5C, idx)[0::2] & kv[order]
    odd = np.flatnonzero((low < 0x20) | (high >= 0x7F) | backslash)
    if len(odd):
        rows = order[odd]
        control = (data < 0x20) & (data != 0x09) & (data != 0x0A) & (data != 0x0D)
        control |= data == 0x7F
        bad_hdr = _positions(control)  # not printable in a text header
        bad_kv = _positions((control & (data != 0x1B)) | (data == 0x5C))  # ESC is fine, a backslash not
        r_lo, r_hi, r_kv = lo[rows], hi[rows], kv[rows]
        bad[rows] = np.where(r_kv, _any_in(bad_kv, r_lo, r_hi), _any_in(bad_hdr, r_lo, r_hi))
        non_ascii[rows] = high[odd] >= 0x80
    return bad, non_ascii


def chunk_flags_np(
    buf: Buffer | bytearray,
    starts: np.ndarray,
    klens: np.ndarray,
    vlens: np.ndarray,
    counts: np.ndarray,
    widths: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """`row_flag` for many rows of one chunk at once: (flags, rows that need `row_flag` because
    they hold non-ASCII bytes). Flags of those rows are left UNKNOWN. Headers are walked for all
    rows at once; the bytes of keys, values and text header values are then classified per
    range (`_segment_bytes`)."""
    data = np.frombuffer(bytes(buf) if isinstance(buf, bytearray) else buf, np.uint8)
    n = len(starts)
    kl = np.maximum(klens, 0).astype(np.int64)
    vl = np.maximum(vlens, 0).astype(np.int64)
    starts = starts.astype(np.int64)
    kv_end = starts + kl + vl
    not_plain = np.zeros(n, bool)
    both = np.flatnonzero((kl > 0) & (vl > 0))
    if len(both):
        at = starts[both] + kl[both]
        not_plain[both] |= _is_letter(data[at - 1]) & _is_letter(data[at])
    seg_row, seg_lo, seg_hi = [np.arange(n)], [starts], [kv_end]
    h = kv_end.copy()
    for k in range(int(counts.max()) if n else 0):
        act = np.flatnonzero(counts > k)
        idx = h[act]

        def byte(i: int, idx: np.ndarray = idx) -> np.ndarray:
            out: np.ndarray = data[idx + i].astype(np.int64)
            return out

        nid = byte(0) | byte(1) << 8 | byte(2) << 16 | byte(3) << 24
        raw_len = byte(4) | byte(5) << 8 | byte(6) << 16 | byte(7) << 24
        ln = np.where(raw_len >= 1 << 31, raw_len - (1 << 32), raw_len)
        vs = idx + 8
        ve = vs + np.maximum(ln, 0)
        w = widths[nid]
        present = ln >= 0
        bad = (w < 0) | (present & (ln > 0xFFFF))
        integer = np.flatnonzero(present & (w > 0))
        if len(integer):
            iw, iln, ivs = w[integer], ln[integer], vs[integer]
            wrong = np.where(iw == 9, (iln < 1) | (iln > 8), iln != iw)
            # Three letters in a row among its (at most 8 read) bytes spell a word.
            window = np.minimum(iln, 8)
            cols = np.arange(8)
            inside = cols[None, :] < window[:, None]
            gathered = data[np.minimum(ivs[:, None] + cols[None, :], len(data) - 1)]
            letters = _is_letter(gathered) & inside
            spelled = (letters[:, :-2] & letters[:, 1:-1] & letters[:, 2:]).any(axis=1)
            bad[integer] |= wrong | spelled | (iln > 8)
        text = np.flatnonzero(present & (w == 0))
        seg_row.append(act[text])
        seg_lo.append(vs[text])
        seg_hi.append(ve[text])
        not_plain[act] |= bad
        h[act] = ve
    rows, lo, hi = (np.concatenate(x) for x in (seg_row, seg_lo, seg_hi))
    is_kv = np.zeros(len(rows), bool)
    is_kv[:n] = True
    bad_bytes, non_ascii = _segment_bytes(data, lo, hi, is_kv)
    not_plain |= np.bincount(rows[bad_bytes], minlength=n) > 0
    slow = np.bincount(rows[non_ascii], minlength=n) > 0
    flags = np.full(n, PLAIN_ASCII, np.uint8)
    flags[slow] = UNKNOWN
    flags[not_plain] = NOT_PLAIN
    return flags, np.flatnonzero(slow & ~not_plain)
