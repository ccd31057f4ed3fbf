"""Edited values of staged merges (edit-then-merge), and their journal.

An edit belongs to a staged merge: it goes when the merge is undone, replaced by another
decision, dropped or committed. When journaling, every edit is appended (one JSON line, fsync-ed)
to a file beside the decision journal, so a dropped SSH session loses no edit::

    {"op": "edit", "p": 0, "o": 12, "v": "<base64 of the new value>", "orig": "<sha256 hex>"}
    {"op": "forget", "p": 0, "o": 12}

The file is rewritten compactly on load and removed when no edit is left.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlq_tui.triage.decisions import Change, ChangeKind, Decision, StagedBuffer
from dlq_tui.triage.records import Header, RecordId, RecordLike

__all__ = ["Edit", "EditStore", "EditedRecord"]


@dataclass(frozen=True, slots=True)
class Edit:
    value: bytes
    original_sha256: str | None


class EditedRecord:
    """A record as a merge writes it after an edit: the original's key, headers and timestamp,
    the edited value (a `RecordLike`)."""

    __slots__ = ("original", "value")

    def __init__(self, original: RecordLike, value: bytes) -> None:
        self.original = original
        self.value: bytes | None = value

    @property
    def partition(self) -> int:
        return self.original.partition

    @property
    def offset(self) -> int:
        return self.original.offset

    @property
    def timestamp(self) -> int:
        return self.original.timestamp

    @property
    def timestamp_type(self) -> int:
        return self.original.timestamp_type

    @property
    def key(self) -> bytes | None:
        return self.original.key

    @property
    def headers(self) -> Sequence[Header]:
        return self.original.headers

    @property
    def rid(self) -> RecordId:
        return RecordId(self.original.partition, self.original.offset)


class EditStore:
    """Edited values by record id, kept in line with the staged buffer it is attached to."""

    def __init__(self, path: Path | None = None, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._edits: dict[RecordId, Edit] = {}
        self._offered: dict[RecordId, Edit] = {}
        """Edits of an earlier session (loaded), applied only once its decisions are restored."""
        self._buffer: StagedBuffer | None = None

    # -- in memory ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._edits)

    def __contains__(self, rid: object) -> bool:
        return rid in self._edits

    def get(self, rid: RecordId) -> Edit | None:
        return self._edits.get(rid)

    def items(self) -> Iterator[tuple[RecordId, Edit]]:
        return iter(list(self._edits.items()))

    def set(self, rid: RecordId, edit: Edit) -> None:
        self._edits[RecordId(*rid)] = edit
        self._append(
            {
                "op": "edit",
                "p": rid[0],
                "o": rid[1],
                "v": base64.b64encode(edit.value).decode(),
                "orig": edit.original_sha256,
            }
        )

    def forget(self, rids: Sequence[RecordId]) -> None:
        for rid in rids:
            if self._edits.pop(RecordId(*rid), None) is not None:
                self._append({"op": "forget", "p": rid[0], "o": rid[1]})
        if not self._edits and not self._offered:
            self._remove_file()

    def clear(self) -> None:
        """Forget every edit (also those offered by an earlier session) and remove the file."""
        self._edits.clear()
        self._offered.clear()
        self._remove_file()

    @property
    def offered(self) -> int:
        """Edits of an earlier session waiting for its decisions to be restored."""
        return len(self._offered)

    def apply(self, writes: Sequence[tuple[RecordLike, Decision]]) -> list[tuple[RecordLike, Decision]]:
        """`writes` with each edited merge's record replaced by its `EditedRecord`."""
        if not self._edits:
            return list(writes)
        out: list[tuple[RecordLike, Decision]] = []
        for record, decision in writes:
            edit = self._edits.get(RecordId(record.partition, record.offset))
            if edit is not None and decision is Decision.MERGE:
                out.append((EditedRecord(record, edit.value), decision))
            else:
                out.append((record, decision))
        return out

    def original_digests(self) -> dict[RecordId, str | None]:
        return {rid: e.original_sha256 for rid, e in self._edits.items()}

    # -- the buffer -----------------------------------------------------------------------------

    def attach(self, buffer: StagedBuffer) -> None:
        """Follow `buffer`: an edit goes when its merge is undone, replaced, dropped or committed."""
        if self._buffer is not None:
            self._buffer.remove_listener(self._on_change)
        self._buffer = buffer
        buffer.add_listener(self._on_change)

    def adopt(self) -> int:
        """After the journal's decisions were restored into the buffer: take over the offered
        edits of the restored merges, forget the others. Returns how many were taken over."""
        buffer = self._buffer
        taken = 0
        for rid, edit in self._offered.items():
            if buffer is not None and buffer.get(rid) is Decision.MERGE:
                self._edits[rid] = edit
                taken += 1
        self._offered.clear()
        self._rewrite()
        return taken

    def _on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.SET and change.decision is Decision.MERGE:
            return
        if self._edits:
            self.forget([rid for rid in change.rids if rid in self._edits])

    # -- the file -------------------------------------------------------------------------------

    def load(self) -> int:
        """Read the edits a previous session journaled (unreadable lines are skipped) as offered
        edits (`adopt` takes them over); returns how many. The file is rewritten compactly."""
        if self.path is None:
            return 0
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        for raw in data.split(b"\n"):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                obj = json.loads(raw)
                rid = RecordId(int(obj["p"]), int(obj["o"]))
                if obj["op"] == "edit":
                    value = base64.b64decode(obj["v"], validate=True)
                    orig = obj.get("orig")
                    self._offered[rid] = Edit(value, orig if isinstance(orig, str) else None)
                elif obj["op"] == "forget":
                    self._offered.pop(rid, None)
        self._rewrite()
        return len(self._offered)

    def _append(self, obj: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(obj, separators=(",", ":")) + "\n").encode())
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _rewrite(self) -> None:
        if self.path is None:
            return
        kept = {**self._offered, **self._edits}
        if not kept:
            self._remove_file()
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        lines = [
            json.dumps(
                {
                    "op": "edit",
                    "p": rid.partition,
                    "o": rid.offset,
                    "v": base64.b64encode(e.value).decode(),
                    "orig": e.original_sha256,
                },
                separators=(",", ":"),
            )
            + "\n"
            for rid, e in sorted(kept.items())
        ]
        tmp.write_text("".join(lines))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def _remove_file(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
