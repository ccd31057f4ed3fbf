"""Export and copy: the JSON record format (v1, `record_line`) of a set of rows, to a JSONL file or
as text for the clipboard — the same JSON `print --format jsonl` writes.

`export_rows` and `clipboard_text` work on any `Engine` (the Kafka one and the in-memory one) and
use only its thread-safe reads. `export_rows` is blocking and meant for a worker thread: it touches
no event loop, reports progress through a callback and stops when `cancelled()` says so. The file is created with mode 0600 and an
existing file is never replaced unless `overwrite` is given. No Textual here."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dlq_tui.decode.view import DecodedRecord
from dlq_tui.record_json import record_line, records_text

if TYPE_CHECKING:
    from dlq_tui.engine_api import Engine

__all__ = [
    "ExportExistsError",
    "ExportResult",
    "clipboard_text",
    "default_export_path",
    "export_rows",
    "write_jsonl",
]

PROGRESS_EVERY = 1_000


class ExportExistsError(FileExistsError):
    """The export file exists; ask the user, then call again with `overwrite=True`."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    records: int
    bytes: int
    cancelled: bool = False
    """True when `cancelled()` stopped the export; the partial file was then removed."""


def default_export_path(source: str, directory: Path | None = None, now: datetime | None = None) -> Path:
    """A file name for an export of `source` that does not exist yet, in `directory` (default: the
    current directory): ``SOURCE-20261128T074500Z.jsonl`` (``-2``, ``-3``… if taken)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in source) or "export"
    base = (directory or Path.cwd()) / f"{safe}-{stamp}"
    path = base.with_name(base.name + ".jsonl")
    n = 2
    while path.exists():
        path = base.with_name(f"{base.name}-{n}.jsonl")
        n += 1
    return path


def _open(path: Path, overwrite: bool) -> int:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    flags |= getattr(os, "O_NOFOLLOW", 0) if not overwrite else 0
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ExportExistsError(f"{path} exists (not overwritten)") from None
    os.fchmod(fd, 0o600)  # also when an existing file was overwritten
    return fd


def write_jsonl(
    records: Iterable[DecodedRecord],
    topic: str,
    path: Path,
    *,
    total: int = 0,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ExportResult:
    """Write `records` (of `topic`) to `path` in the JSON record format, one per line — the core
    of `export_rows` for any engine. `progress(done, total)` is called every `PROGRESS_EVERY`
    records and at the end; `cancelled()` is asked as often and stops the export (the partial file
    is removed). Raises `ExportExistsError` if `path` exists and not `overwrite`; `OSError` for
    other file trouble (the file is then removed too)."""
    path = Path(path)
    fd = _open(path, overwrite)
    written = size = 0
    stopped = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for d in records:
                if written % PROGRESS_EVERY == 0 and written:
                    if cancelled is not None and cancelled():
                        stopped = True
                        break
                    if progress is not None:
                        progress(written, total)
                line = record_line(d, topic).decode() + "\n"
                f.write(line)
                written += 1
                size += len(line.encode("utf-8"))
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    if stopped:
        with contextlib.suppress(OSError):
            path.unlink()
        return ExportResult(path, written, size, cancelled=True)
    if progress is not None:
        progress(written, total)
    return ExportResult(path, written, size)


def export_rows(
    engine: Engine,
    rows: Sequence[int],
    path: Path,
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ExportResult:
    """Write the JSON records of `rows` (in that order) to `path`, decoded as the screen shows
    them (`Engine.decoded`: a record whose schema is not fetched yet carries that as its
    `decode_error`, its bytes exact all the same). For a worker thread; see `write_jsonl`."""
    return write_jsonl(
        (engine.decoded(row) for row in rows),
        engine.info.source,
        path,
        total=len(rows),
        overwrite=overwrite,
        progress=progress,
        cancelled=cancelled,
    )


def clipboard_text(engine: Engine, rows: Sequence[int]) -> str:
    """The JSON record of one row, or JSONL of several (newline-terminated): what `y` copies."""
    text = records_text((engine.decoded(r) for r in rows), engine.info.source)
    return text.removesuffix("\n") if len(rows) == 1 else text
