"""Compact columnar storage for up to millions of DLQ records.

Per record the store keeps the raw bytes and a fixed ~41 bytes of columns, plus 12 bytes of
per-partition offset index and 8 bytes per header, instead of one Python object per field:

* the key, value and header values of a row are packed back to back into an *arena*: a list of
  byte chunks. The chunk being filled is a ``bytearray``; once it passes ``chunk_size`` it is
  frozen by the `Arena` (`dlq_tui.triage.arena`): by default written to an unlinked, memory-mapped
  temporary file, so payloads live in the page cache and on disk, not in the Python heap. Each
  frozen chunk carries a digest; `verify_rows` checks it before a commit copies the bytes. A row
  never straddles two chunks.
* ``array.array`` columns hold partition, offset, timestamp, timestamp type, the row's arena
  position (``chunk << 32 | position in chunk``), key length, value length (-1 for None) and
  header count.
* a header is encoded as ``<name id: u32><value length: i32, -1 for None><value bytes>``; header
  names are interned in a small table (DLQ records repeat the same few names on every record).
* ``row_of`` uses per-partition offset/row arrays searched with ``bisect``: records arrive in
  offset order per partition, so appending keeps them sorted; the rare out-of-order record is
  inserted in place.

Rows keep arrival order (partitions interleaved). Rows are never removed: what is resolved or
hidden is a view over the rows. The store is not thread-safe: one writer (the reader's batches,
applied on the UI's event loop) and readers on the same thread.
"""

from __future__ import annotations

import contextlib
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, pairwise
from operator import attrgetter, itemgetter

import numpy as np

from dlq_tui.triage.arena import Arena, ArenaWriteError, Buffer, default_arena
from dlq_tui.triage.records import Header, RawRecord, RecordId, RecordLike

__all__ = ["RecordStore"]

_HDR = struct.Struct("<Ii")
_HDR_SIZE = _HDR.size
_POS_BITS = 32
_POS_MASK = (1 << _POS_BITS) - 1
DEFAULT_CHUNK_SIZE = 4 << 20
_FIELDS = tuple(
    map(attrgetter, ("partition", "offset", "timestamp", "timestamp_type", "key", "value", "headers"))
)
_PREFIX_CACHE_LIMIT = 1 << 16
_NAME = itemgetter(0)
_VALUE = itemgetter(1)


def _lengths(items: Sequence[bytes | None]) -> tuple[list[int], Sequence[bytes]]:
    """Each item's length (-1 for None), and the items with None as b"" (to join)."""
    try:
        return list(map(len, items)), items  # type: ignore[arg-type,return-value]
    except TypeError:  # a None among them
        return [-1 if x is None else len(x) for x in items], [b"" if x is None else x for x in items]


class _PartitionIndex:
    """Offsets of one partition's rows, sorted, and the matching row numbers."""

    __slots__ = ("offsets", "rows")

    def __init__(self) -> None:
        self.offsets = array("q")
        self.rows = array("i")

    def find(self, offset: int) -> int | None:
        offsets = self.offsets
        n = len(offsets)
        if n and offsets[n - 1] == offset:
            return self.rows[n - 1]
        i = bisect_left(offsets, offset)
        if i < n and offsets[i] == offset:
            return self.rows[i]
        return None


class RecordStore:
    """Append-only columnar record store. See the module docstring for the layout."""

    def __init__(self, *, chunk_size: int = DEFAULT_CHUNK_SIZE, arena: Arena | None = None) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._chunk_size = chunk_size
        self._arena: Arena = arena if arena is not None else default_arena()
        self._frozen: list[Buffer | bytearray] = []
        self._cur = bytearray()
        self._partition = array("i")
        self._offset = array("q")
        self._timestamp = array("q")
        self._ts_type = array("b")
        self._pos = array("q")
        self._key_len = array("i")
        self._value_len = array("i")
        self._header_count = array("i")
        self._parts: dict[int, _PartitionIndex] = {}
        self._name_ids: dict[str, int] = {}
        self._prefix_cache: dict[tuple[str, int], bytes] = {}
        self._names: list[str] = []
        self._raw_bytes = 0

    @property
    def arena(self) -> Arena:
        """Where frozen chunks are kept."""
        return self._arena

    # -- writing --------------------------------------------------------------------------------

    def append(self, rec: RecordLike) -> int:
        """Store one record and return its row. A record already stored (same partition and
        offset, e.g. re-delivered after a reader retry) is not stored twice: its row is returned."""
        part = self._parts.get(rec.partition)
        if part is None:
            part = self._parts[rec.partition] = _PartitionIndex()
        in_order = not part.offsets or rec.offset > part.offsets[-1]
        if not in_order:
            existing = part.find(rec.offset)
            if existing is not None:
                return existing

        row = len(self._offset)
        cur = self._cur
        pos = len(cur)
        chunk = len(self._frozen)
        key = rec.key
        value = rec.value
        raw = 0
        if key is not None:
            cur += key
            raw += len(key)
        if value is not None:
            cur += value
            raw += len(value)
        headers = rec.headers
        if headers:
            name_ids = self._name_ids
            pack = _HDR.pack
            for name, hvalue in headers:
                nid = name_ids.get(name)
                if nid is None:
                    nid = name_ids[name] = len(self._names)
                    self._names.append(name)
                if hvalue is None:
                    cur += pack(nid, -1)
                else:
                    cur += pack(nid, len(hvalue))
                    cur += hvalue
                    raw += len(hvalue)
                raw += len(name)
        self._raw_bytes += raw

        self._partition.append(rec.partition)
        self._offset.append(rec.offset)
        self._timestamp.append(rec.timestamp)
        self._ts_type.append(rec.timestamp_type)
        self._pos.append(chunk << _POS_BITS | pos)
        self._key_len.append(-1 if key is None else len(key))
        self._value_len.append(-1 if value is None else len(value))
        self._header_count.append(len(headers))

        if in_order:
            part.offsets.append(rec.offset)
            part.rows.append(row)
        else:
            i = bisect_left(part.offsets, rec.offset)
            part.offsets.insert(i, rec.offset)
            part.rows.insert(i, row)

        if len(cur) >= self._chunk_size:
            self._frozen.append(self._arena.freeze(cur))
            self._cur = bytearray()
        return row

    def extend(self, batch: Iterable[RecordLike]) -> int:
        """Append a batch; return how many new rows were stored.

        The same as `append` per record, done per batch for the common case (each partition's
        offsets ascending and above those stored, as the reader delivers them): the fields are
        pulled out with C-level `map`s, the batch's bytes joined once per arena chunk and the
        columns extended from whole arrays, so that no Python code runs per record or header.
        Anything else (a re-delivered or out-of-order record) takes `append` per record.
        """
        records = batch if isinstance(batch, (list, tuple)) else list(batch)
        if not records:
            return 0
        self._arena.settle(self._frozen)
        parts, offs, tss, tts, keys, vals, hdrs = (list(map(get, records)) for get in _FIELDS)
        runs = self._ordered_runs(parts, offs)
        if runs is None:
            before = len(self._offset)
            for rec in records:
                self.append(rec)
            return len(self._offset) - before
        n = len(records)
        klens, key_bytes = _lengths(keys)
        vlens, value_bytes = _lengths(vals)
        hcounts = list(map(len, hdrs))
        flat = list(chain.from_iterable(hdrs))
        if flat:
            hnames = list(map(_NAME, flat))
            hvals_t = list(map(_VALUE, flat))
            hlens, hvals = _lengths(hvals_t)
            prefixes = self._prefixes_of(hnames, hlens)
            self._raw_bytes += sum(map(len, hnames))
        else:
            hlens, hvals, prefixes = [], (), []
        # Per record: key, value, then (prefix, value) per header, in one flat list of pieces.
        pieces = self._pieces(n, key_bytes, value_bytes, hcounts, prefixes, hvals)

        a_klen, a_vlen, a_hcount = array("i", klens), array("i", vlens), array("i", hcounts)
        np_klen = np.frombuffer(a_klen, dtype=np.int32).astype(np.int64)
        np_vlen = np.frombuffer(a_vlen, dtype=np.int32).astype(np.int64)
        np_hcount = np.frombuffer(a_hcount, dtype=np.int32).astype(np.int64)
        hsize = np.maximum(np.frombuffer(array("q", hlens), dtype=np.int64), 0) + _HDR_SIZE
        hcum = np.zeros(len(hsize) + 1, dtype=np.int64)
        np.cumsum(hsize, out=hcum[1:])
        hend = np.cumsum(np_hcount)
        payload = np.maximum(np_klen, 0) + np.maximum(np_vlen, 0)
        size = payload + hcum[hend] - hcum[hend - np_hcount]
        self._raw_bytes += int(payload.sum()) + int(hcum[-1]) - _HDR_SIZE * len(hsize)
        end = np.cumsum(size)  # each row's end in the batch's bytes
        start = end - size
        piece_at = 2 * np.arange(n + 1, dtype=np.int64)
        piece_at[1:] += 2 * hend

        pos = np.empty(n, dtype=np.int64)
        chunk_size = self._chunk_size
        a = 0
        while a < n:
            cur = self._cur
            filled = len(cur)
            # The chunk ends with the first row that takes it to chunk_size or more.
            b = int(np.searchsorted(end, start[a] + chunk_size - filled, side="left")) + 1
            b = min(max(b, a + 1), n)
            pos[a:b] = (len(self._frozen) << _POS_BITS) + filled - start[a] + start[a:b]
            data = b"".join(pieces[piece_at[a] : piece_at[b]])
            if filled + len(data) >= chunk_size:
                if filled:
                    cur += data
                    self._frozen.append(self._arena.freeze(cur))
                else:
                    self._frozen.append(self._arena.freeze(data))
                self._cur = bytearray()
            else:
                cur += data
            a = b

        self._partition.extend(parts)
        self._offset.extend(offs)
        self._timestamp.extend(tss)
        self._ts_type.extend(tts)
        self._pos.frombytes(pos.tobytes())
        self._key_len.extend(a_klen)
        self._value_len.extend(a_vlen)
        self._header_count.extend(a_hcount)
        row0 = len(self._offset) - n
        for partition, lo, hi in runs:
            part = self._parts.get(partition)
            if part is None:
                part = self._parts[partition] = _PartitionIndex()
            part.offsets.extend(offs[lo:hi])
            part.rows.extend(range(row0 + lo, row0 + hi))
        return n

    def _ordered_runs(self, parts: Sequence[int], offs: Sequence[int]) -> list[tuple[int, int, int]] | None:
        """The batch's runs of one partition as (partition, first, end), if every run's offsets
        ascend and start above what is stored of its partition; else None."""
        np_parts = np.frombuffer(array("q", parts), dtype=np.int64)
        np_offs = np.frombuffer(array("q", offs), dtype=np.int64)
        bounds = [0, *(np.flatnonzero(np_parts[1:] != np_parts[:-1]) + 1).tolist(), len(parts)]
        if len(np_offs) > 1:
            rising = np_offs[1:] > np_offs[:-1]
        runs = []
        last: dict[int, int] = {}
        for lo, hi in pairwise(bounds):
            p = parts[lo]
            if hi - lo > 1 and not rising[lo : hi - 1].all():
                return None
            top = last.get(p)
            if top is None:
                known = self._parts.get(p)
                top = known.offsets[-1] if known is not None and known.offsets else -1
            if offs[lo] <= top:
                return None
            last[p] = offs[hi - 1]
            runs.append((p, lo, hi))
        return runs

    def _prefixes_of(self, names: list[str], lengths: list[int]) -> list[bytes]:
        """The stored prefix (name id, value length) of each header: looked up by (name, length)
        in a cache (a DLQ repeats a few names, and most of their values have a few lengths)."""
        cache = self._prefix_cache
        # zip reuses its tuple when the lookup does not keep it: no allocation per header.
        found = list(map(cache.get, zip(names, lengths, strict=True)))
        if None in found:
            self._name_ids_of(names)  # new names get their ids
            if len(cache) > _PREFIX_CACHE_LIMIT:
                cache.clear()
            ids, pack = self._name_ids, _HDR.pack
            for i, prefix in enumerate(found):
                if prefix is None:
                    name, n = names[i], lengths[i]
                    found[i] = cache[name, n] = pack(ids[name], n)
        return found  # type: ignore[return-value]

    def _name_ids_of(self, names: Sequence[str]) -> list[int]:
        """Each header name's id, new names interned first."""
        ids = self._name_ids
        try:
            return list(map(ids.__getitem__, names))
        except KeyError:
            for name in names:
                if name not in ids:
                    ids[name] = len(self._names)
                    self._names.append(name)
            return list(map(ids.__getitem__, names))

    @staticmethod
    def _pieces(
        n: int,
        keys: Sequence[bytes],
        vals: Sequence[bytes],
        hcounts: list[int],
        prefixes: list[bytes],
        hvals: Sequence[bytes],
    ) -> list[bytes]:
        h = hcounts[0]
        if hcounts.count(h) == n:  # the usual DLQ: every record has the same number of headers
            stride = 2 + 2 * h
            pieces: list[bytes] = [b""] * (n * stride)
            pieces[0::stride] = keys
            pieces[1::stride] = vals
            for j in range(h):
                pieces[2 + 2 * j :: stride] = prefixes[j::h]
                pieces[3 + 2 * j :: stride] = hvals[j::h]
            return pieces
        pieces = []
        append = pieces.append
        i = 0
        for key, value, count in zip(keys, vals, hcounts, strict=True):
            append(key)
            append(value)
            for j in range(i, i + count):
                append(prefixes[j])
                append(hvals[j])
            i += count
        return pieces

    # -- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._offset)

    def __iter__(self) -> Iterator[RawRecord]:
        for i in range(len(self._offset)):
            yield self.get(i)

    def _row(self, i: int) -> int:
        n = len(self._offset)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("row out of range")
        return i

    def _chunk(self, pos: int) -> Buffer | bytearray:
        c = pos >> _POS_BITS
        return self._frozen[c] if c < len(self._frozen) else self._cur

    def get(self, i: int) -> RawRecord:
        """Materialize row `i` as a `RawRecord` (new objects each call)."""
        i = self._row(i)
        return RawRecord(
            self._partition[i],
            self._offset[i],
            self._timestamp[i],
            self._ts_type[i],
            self.key_at(i),
            self.value_at(i),
            self.headers_at(i),
        )

    def view(self, i: int) -> RowView:
        """Row `i` as a record whose parts are read from the store only when asked (a filter scan
        that looks at the value never materializes the headers)."""
        return RowView(self, self._row(i))

    def partition_at(self, i: int) -> int:
        return self._partition[i]

    def offset_at(self, i: int) -> int:
        return self._offset[i]

    def rid_at(self, i: int) -> RecordId:
        return RecordId(self._partition[i], self._offset[i])

    def timestamp_at(self, i: int) -> int:
        return self._timestamp[i]

    def timestamp_type_at(self, i: int) -> int:
        return self._ts_type[i]

    def key_len_at(self, i: int) -> int:
        """Key length in bytes, -1 for a null key."""
        return self._key_len[i]

    def value_len_at(self, i: int) -> int:
        """Value length in bytes, -1 for a null value (a tombstone)."""
        return self._value_len[i]

    def key_at(self, i: int) -> bytes | None:
        n = self._key_len[i]
        if n < 0:
            return None
        pos = self._pos[i]
        start = pos & _POS_MASK
        return bytes(self._chunk(pos)[start : start + n])

    def value_at(self, i: int) -> bytes | None:
        n = self._value_len[i]
        if n < 0:
            return None
        pos = self._pos[i]
        start = (pos & _POS_MASK) + max(self._key_len[i], 0)
        return bytes(self._chunk(pos)[start : start + n])

    def headers_at(self, i: int) -> tuple[Header, ...]:
        count = self._header_count[i]
        if not count:
            return ()
        pos = self._pos[i]
        buf = self._chunk(pos)
        p = (pos & _POS_MASK) + max(self._key_len[i], 0) + max(self._value_len[i], 0)
        names = self._names
        unpack_from = _HDR.unpack_from
        out: list[Header] = []
        for _ in range(count):
            nid, n = unpack_from(buf, p)
            p += _HDR_SIZE
            if n < 0:
                out.append((names[nid], None))
            else:
                out.append((names[nid], bytes(buf[p : p + n])))
                p += n
        return tuple(out)

    def layout_at(self, i: int) -> tuple[Buffer | bytearray, int, int, int, int]:
        """(buffer, start, key length, value length, header count) of row `i`: the key starts at
        `start` (lengths are -1 for None), the value follows, then each header as
        ``<name id: u32 LE><value length: i32 LE, -1 for None><value>`` (`header_name(id)`). For
        scans that read raw bytes in place."""
        pos = self._pos[i]
        return self._chunk(pos), pos & _POS_MASK, self._key_len[i], self._value_len[i], self._header_count[i]

    def timestamp_column(self) -> array[int]:
        """The timestamp column (one per row; read-only use): for vectorised summaries."""
        return self._timestamp

    def partition_column(self) -> array[int]:
        """The partition column (one per row; read-only use): for vectorised summaries."""
        return self._partition

    def positions(self) -> array[int]:
        """The position column (``chunk << 32 | offset in chunk`` per row; read-only use): for
        vectorised scans over rows."""
        return self._pos

    def layout_columns(self) -> tuple[array[int], array[int], array[int], array[int]]:
        """The columns behind `layout_at` (position, key length, value length, header count), for
        vectorised scans; read-only use."""
        return self._pos, self._key_len, self._value_len, self._header_count

    def chunk_location(self, c: int) -> tuple[str, int, int] | None:
        """Where another process can read frozen chunk `c` (`Arena.location`), else None."""
        return self._arena.location(c) if c < len(self._frozen) else None

    def header_name(self, name_id: int) -> str:
        return self._names[name_id]

    def row_span(self, i: int) -> tuple[int, int, int]:
        """(chunk, start, end) of row `i`'s bytes (key, value, then its headers as stored) in
        `chunk_buffer(chunk)`; for scans that search raw bytes."""
        pos = self._pos[i]
        c = pos >> _POS_BITS
        start = pos & _POS_MASK
        if i + 1 < len(self._pos):
            nxt = self._pos[i + 1]
            if nxt >> _POS_BITS == c:
                return c, start, nxt & _POS_MASK
        return c, start, len(self._chunk(pos))

    def chunk_buffer(self, c: int) -> Buffer | bytearray:
        """Arena chunk `c`. The one still filling is a copy: a scan in a thread must not hold a
        view of the bytearray that loading grows (it cannot be resized while exported)."""
        return self._frozen[c] if c < len(self._frozen) else bytes(self._cur)

    def header_names(self) -> list[str]:
        """Every header name stored so far (each once)."""
        return list(self._names)

    def row_of(self, rid: RecordId) -> int | None:
        part = self._parts.get(rid.partition)
        return None if part is None else part.find(rid.offset)

    def __contains__(self, rid: object) -> bool:
        return isinstance(rid, RecordId) and self.row_of(rid) is not None

    # -- per partition --------------------------------------------------------------------------

    def partitions(self) -> list[int]:
        """Partitions that have at least one row, ascending."""
        return sorted(self._parts)

    def partition_size(self, partition: int) -> int:
        part = self._parts.get(partition)
        return 0 if part is None else len(part.offsets)

    def first_offset(self, partition: int) -> int | None:
        part = self._parts.get(partition)
        return part.offsets[0] if part is not None and part.offsets else None

    def last_offset(self, partition: int) -> int | None:
        part = self._parts.get(partition)
        return part.offsets[-1] if part is not None and part.offsets else None

    def partition_offsets(self, partition: int, lo: int = 0, hi: int | None = None) -> array[int]:
        """A copy of the partition's stored offsets in ``[lo, hi)``, ascending (the
        ``known_offsets`` that `PartitionResolution.resolve` needs)."""
        part = self._parts.get(partition)
        if part is None:
            return array("q")
        offsets = part.offsets
        a = bisect_left(offsets, lo)
        b = len(offsets) if hi is None else bisect_left(offsets, hi)
        return offsets[a:b]

    def partition_rows(self, partition: int, lo: int = 0, hi: int | None = None) -> array[int]:
        """A copy of the rows of the partition's records with offsets in ``[lo, hi)``, in offset
        order."""
        part = self._parts.get(partition)
        if part is None:
            return array("i")
        offsets = part.offsets
        a = bisect_left(offsets, lo)
        b = len(offsets) if hi is None else bisect_left(offsets, hi)
        return part.rows[a:b]

    # -- integrity ------------------------------------------------------------------------------

    def verify_rows(self, rows: Iterable[int]) -> None:
        """Check that the stored bytes of `rows` are still those that were loaded (each frozen
        chunk against its digest, once). Raises `ArenaDigestError`."""
        self._arena.settle(self._frozen)
        frozen = len(self._frozen)
        pos = self._pos
        chunks = {pos[r] >> _POS_BITS for r in rows}
        for c in sorted(chunks):
            if c < frozen:
                self._arena.verify(c)

    def release_pages(self, chunk: int | None = None) -> None:
        """Drop the arena pages a scan mapped in (of one chunk, or all) from this process's RSS
        (see `Arena.release_pages`)."""
        if chunk is None or chunk < len(self._frozen):
            self._arena.release_pages(chunk)

    def settle(self) -> None:
        """Read frozen chunks from where the arena put them once they are there (the file's
        mapping instead of the heap copy: the heap copy is freed). Loading does it per batch; call
        it on the store's thread once loading stopped."""
        self._arena.settle(self._frozen)

    def close(self) -> None:
        """Release the arena's file. Stored rows stay readable; no more rows can be stored."""
        self._arena.close()
        # Mapped chunks replace their heap copies; after a failed write the error was said when
        # it happened, and the rows stay readable from the heap.
        with contextlib.suppress(ArenaWriteError):
            self._arena.settle(self._frozen)

    # -- size -----------------------------------------------------------------------------------

    def raw_bytes(self) -> int:
        """Bytes of keys, values, header names and header values as received."""
        return self._raw_bytes

    def nbytes(self) -> int:
        """Estimated heap memory held by the store: the chunk being filled, frozen chunks kept in the
        heap (none with a file arena), columns, indexes and name table."""
        size = sys.getsizeof(self._cur) + sys.getsizeof(self._frozen)
        size += self._arena.nbytes_heap()
        for col in (
            self._partition,
            self._offset,
            self._timestamp,
            self._ts_type,
            self._pos,
            self._key_len,
            self._value_len,
            self._header_count,
        ):
            size += sys.getsizeof(col)
        size += sys.getsizeof(self._parts)
        for part in self._parts.values():
            size += sys.getsizeof(part.offsets) + sys.getsizeof(part.rows) + 64
        size += sys.getsizeof(self._name_ids) + sys.getsizeof(self._names)
        size += sum(sys.getsizeof(n) for n in self._names)
        return size


class RowView:
    """A stored record read lazily (a `RecordLike`); `headers` is built on first use."""

    __slots__ = ("_headers", "_row", "_store")

    def __init__(self, store: RecordStore, row: int) -> None:
        self._store = store
        self._row = row
        self._headers: tuple[Header, ...] | None = None

    @property
    def row(self) -> int:
        """The row in its store."""
        return self._row

    @property
    def partition(self) -> int:
        return self._store.partition_at(self._row)

    @property
    def offset(self) -> int:
        return self._store.offset_at(self._row)

    @property
    def timestamp(self) -> int:
        return self._store.timestamp_at(self._row)

    @property
    def timestamp_type(self) -> int:
        return self._store.timestamp_type_at(self._row)

    @property
    def key(self) -> bytes | None:
        return self._store.key_at(self._row)

    @property
    def value(self) -> bytes | None:
        return self._store.value_at(self._row)

    @property
    def headers(self) -> tuple[Header, ...]:
        if self._headers is None:
            self._headers = self._store.headers_at(self._row)
        return self._headers

    @property
    def rid(self) -> RecordId:
        return self._store.rid_at(self._row)
