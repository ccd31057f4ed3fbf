"""The local journal of staged decisions: a dropped SSH session or a crash loses no decision.

One file per (cluster id, group, topic) under ``$XDG_STATE_HOME/dlq-tui/journal/`` (default
``~/.local/state``), named ``<readable slug>-<hash>.jsonl``. The file is JSON lines: a header
naming the DLQ, then one op per line::

    {"dlq_tui_journal": 1, "cluster": "...", "group": "...", "topic": "..."}
    {"op": "set", "d": "merge", "r": {"0": "12-15,40", "3": "7"}}
    {"op": "undo", "r": {"0": "13"}}
    {"op": "commit", "r": {"0": "12,14-15,40"}}

(``drop`` like ``undo``: resolved by someone else). A bulk decision over a million records is one
line, since offsets are written as ranges.

Durability: each op is written with a single ``write(2)`` on an ``O_APPEND`` descriptor as soon as
the buffer changes, then ``fsync``-ed (``fsync=True``, the default). The write alone survives the
process dying (SSH hang-up, crash, kill); the fsync makes it survive the host going down too, so
at most the op in flight is lost. Decisions are human-paced and a bulk decision is still one line,
so one fsync per op costs a few milliseconds per keypress, not per record; batching would save
little and widen the window. A torn last line (crash mid-write) fails to parse and is ignored, as
is any other unreadable line.

The file is compacted (rewritten to one ``set`` line per partition and decision, via a temporary
file and an atomic rename) when it is loaded and after each commit; it is removed when nothing is
staged. An advisory lock (``<file>.lock``) keeps two sessions of the same user on the same DLQ
from interleaving their ops.

Intended use::

    journal = Journal(cluster_id, group, topic)
    if journal.load():                              # something from a previous session
        if user_wants_it:
            journal.restore_into(buffer, is_resolved)
        else:
            journal.discard()
    journal.attach(buffer)                          # from now on every change is persisted
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from dlq_tui.files import private_dir
from dlq_tui.triage.decisions import Change, ChangeKind, Decision, StagedBuffer
from dlq_tui.triage.records import RecordId
from dlq_tui.triage.resolution import parse_ranges

if sys.platform != "win32":
    import fcntl

__all__ = [
    "Journal",
    "JournalBusyError",
    "RestoreResult",
    "journal_dir",
    "journal_path",
]

_VERSION = 1
_HEADER_KEY = "dlq_tui_journal"
_PARTITION = re.compile(r"[0-9]{1,10}", re.ASCII)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DECISIONS = {d.value: d for d in Decision}
_REMOVING = {"undo", "drop", "commit"}

_State = dict[int, dict[int, Decision]]


class JournalBusyError(RuntimeError):
    """Another session (of this user, on this host) holds the journal of this DLQ."""


class RestoreResult(NamedTuple):
    restored: int
    """Decisions put back into the buffer."""
    dropped_as_resolved: int
    """Journaled decisions left out because their records were resolved meanwhile."""


def journal_dir() -> Path:
    """``$XDG_STATE_HOME/dlq-tui/journal`` (an unset or relative XDG_STATE_HOME is ignored, as the
    XDG spec says, for ``~/.local/state``)."""
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "dlq-tui" / "journal"


def journal_path(cluster_id: str, group: str, topic: str, directory: Path | None = None) -> Path:
    """The journal file of one DLQ: a readable slug plus a hash of the exact names."""
    digest = hashlib.sha256("\0".join((cluster_id, group, topic)).encode()).hexdigest()[:16]
    slug = _UNSAFE.sub("-", f"{cluster_id}_{group}_{topic}").strip(".-")[:80]
    return (directory or journal_dir()) / f"{slug}-{digest}.jsonl"


def _ranges_text(offsets: list[int]) -> str:
    """Compact ``12-15,40`` text of ascending distinct offsets."""
    parts: list[str] = []
    if not offsets:
        return ""
    a = b = offsets[0]
    for o in offsets[1:]:
        if o == b + 1:
            b = o
            continue
        parts.append(str(a) if a == b else f"{a}-{b}")
        a = b = o
    parts.append(str(a) if a == b else f"{a}-{b}")
    return ",".join(parts)


def _encode_rids(rids: Iterable[RecordId]) -> dict[str, str]:
    by_part: dict[int, list[int]] = {}
    for p, o in rids:
        by_part.setdefault(p, []).append(o)
    return {str(p): _ranges_text(sorted(set(offs))) for p, offs in sorted(by_part.items())}


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


class Journal:
    """The journal of one (cluster id, group, topic). Use as a context manager or `close()` it."""

    def __init__(
        self,
        cluster_id: str,
        group: str,
        topic: str,
        *,
        directory: Path | None = None,
        fsync: bool = True,
        on_error: Callable[[OSError], None] | None = None,
    ) -> None:
        """`on_error` hears a failed journal write (disk full, ...); the decision itself stands
        in memory, and the next write tries again. Without it the error is only kept in
        `last_error`: a listener never raises into the UI."""
        self.cluster_id = cluster_id
        self.group = group
        self.topic = topic
        self.path = journal_path(cluster_id, group, topic, directory)
        self.fsync = fsync
        self.on_error = on_error
        self.last_error: OSError | None = None
        self.corrupt_lines = 0
        """Unreadable lines met by the last `load()`."""
        self.moved_aside: Path | None = None
        """Where `load()` moved a journal with unreadable lines (kept for a human to look at)."""
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._torn = False
        self._buffer: StagedBuffer | None = None
        self._muted = False
        self._loaded: _State | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Detach, close the file and release the lock. The file stays for the next session."""
        self.detach()
        self._close_fd()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _lock(self) -> None:
        if self._lock_fd is not None:
            return
        private_dir(self.path.parent)
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        if sys.platform != "win32":
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise JournalBusyError(
                    f"another dlq-tui session is working on {self.topic!r} for group {self.group!r}"
                    f" (journal {self.path})"
                ) from None
        self._lock_fd = fd

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- reading --------------------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        return {
            _HEADER_KEY: _VERSION,
            "cluster": self.cluster_id,
            "group": self.group,
            "topic": self.topic,
        }

    def _read(self) -> _State:
        state: _State = {}
        self.corrupt_lines = 0
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return state
        header_seen = False
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                self.corrupt_lines += 1
                continue
            if not header_seen:
                if obj != self._header():
                    # Not this DLQ's journal (or another version): nothing usable.
                    self.corrupt_lines += 1
                    return {}
                header_seen = True
                continue
            if not self._apply(state, obj):
                self.corrupt_lines += 1
        return state

    @staticmethod
    def _apply(state: _State, obj: object) -> bool:
        if not isinstance(obj, dict):
            return False
        op = obj.get("op")
        ranges = obj.get("r")
        if not isinstance(ranges, dict):
            return False
        decision: Decision | None = None
        if op == "set":
            d = obj.get("d")
            if not isinstance(d, str) or d not in _DECISIONS:
                return False
            decision = _DECISIONS[d]
        elif op not in _REMOVING:
            return False
        parsed = []
        for p, text in ranges.items():
            if not isinstance(p, str) or not _PARTITION.fullmatch(p) or not isinstance(text, str):
                return False
            rs = parse_ranges(text)
            if rs is None:
                return False
            parsed.append((int(p), rs))
        for p, rs in parsed:
            if decision is not None:
                part = state.setdefault(p, {})
                for o in rs.offsets():
                    part[o] = decision
            else:
                part = state.get(p, {})
                for o in rs.offsets():
                    part.pop(o, None)
                if not part:
                    state.pop(p, None)
        return True

    def load(self) -> dict[RecordId, Decision]:
        """The decisions journaled by earlier sessions (replayed, then the file is compacted).
        Unreadable lines are skipped and counted in `corrupt_lines`.

        Raises JournalBusyError when another session holds this DLQ's journal.
        """
        self._lock()
        state = self._read()
        self._loaded = state
        self.moved_aside = None
        if self.corrupt_lines and self.path.exists():
            # Never silently dropped: the file as it was stays beside the new one, and is reported.
            stamp = time.strftime("%Y%m%dT%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            os.replace(self.path, aside)
            self.moved_aside = aside
        if self.path.exists() or self.moved_aside is not None:
            self._rewrite(state)
        return {RecordId(p, o): d for p, part in sorted(state.items()) for o, d in sorted(part.items())}

    def restore_into(self, buffer: StagedBuffer, is_resolved: Callable[[RecordId], bool]) -> RestoreResult:
        """Put the journaled decisions whose records are still unresolved into `buffer`; forget
        the others (the journal is rewritten to what was restored plus what `buffer` held)."""
        if self._loaded is None:
            self.load()
        state = self._loaded or {}
        by_decision: dict[Decision, list[RecordId]] = {}
        dropped = 0
        for p, part in sorted(state.items()):
            for o, d in sorted(part.items()):
                rid = RecordId(p, o)
                if is_resolved(rid):
                    dropped += 1
                else:
                    by_decision.setdefault(d, []).append(rid)
        self._muted = buffer is self._buffer
        try:
            for d, rids in by_decision.items():
                buffer.set(rids, d)
        finally:
            self._muted = False
        self._loaded = None
        self._rewrite(self._state_of(buffer))
        return RestoreResult(sum(len(r) for r in by_decision.values()), dropped)

    def discard(self) -> None:
        """Forget the decisions of earlier sessions: remove the file (if a buffer is attached,
        its current decisions are written back)."""
        self._lock()
        self._loaded = None
        self._rewrite(self._state_of(self._buffer) if self._buffer is not None else {})

    # -- writing --------------------------------------------------------------------------------

    def attach(self, buffer: StagedBuffer) -> None:
        """Persist every change of `buffer` from now on (decisions it already holds are
        journaled at once)."""
        self._lock()
        self.detach()
        self._buffer = buffer
        buffer.add_listener(self._on_change)
        for d in Decision:
            rids = [rid for rid, dd in buffer.items() if dd is d]
            if rids:
                self._append({"op": "set", "d": d.value, "r": _encode_rids(rids)})

    def detach(self) -> None:
        if self._buffer is not None:
            self._buffer.remove_listener(self._on_change)
            self._buffer = None

    def _on_change(self, change: Change) -> None:
        if self._muted:
            return
        obj: dict[str, Any] = {"op": change.kind.value}
        if change.decision is not None:
            obj["d"] = change.decision.value
        obj["r"] = _encode_rids(change.rids)
        self._append(obj)
        if change.kind is ChangeKind.COMMIT and self._buffer is not None:
            self._guarded(lambda: self._rewrite(self._state_of(self._buffer)))

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
            self.last_error = None
        except OSError as exc:
            self.last_error = exc
            self._close_fd()
            if self.on_error is not None:
                self.on_error(exc)

    def _append(self, obj: dict[str, Any]) -> None:
        self._guarded(lambda: self._write(_line(obj)))

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._fd = fd
            if os.fstat(fd).st_size == 0:
                data = _line(self._header()) + data
                self._torn = False
        if self._torn:
            data = b"\n" + data  # end a line torn by an earlier failed write
        self._torn = True
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        if self.fsync:
            os.fsync(self._fd)
        self._torn = False

    @staticmethod
    def _state_of(buffer: StagedBuffer | None) -> _State:
        state: _State = {}
        if buffer is not None:
            for p in buffer.partitions():
                state[p] = dict(buffer.partition_items(p))
        return state

    def _rewrite(self, state: _State) -> None:
        """Replace the file by the compact form of `state` (remove it when empty)."""
        self._close_fd()
        self._torn = False
        if not any(state.values()):
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._sync_dir()
            return
        private_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            chunks = [_line(self._header())]
            for p, part in sorted(state.items()):
                by_d: dict[Decision, list[int]] = {}
                for o, d in part.items():
                    by_d.setdefault(d, []).append(o)
                for d, offs in by_d.items():
                    offs.sort()
                    chunks.append(_line({"op": "set", "d": d.value, "r": {str(p): _ranges_text(offs)}}))
            view = memoryview(b"".join(chunks))
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self._sync_dir()

    def _sync_dir(self) -> None:
        if not self.fsync or sys.platform == "win32":
            return
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
