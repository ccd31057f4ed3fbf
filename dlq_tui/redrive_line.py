"""Line mode's side of safe redrive (docs/redrive.md): the commit with canary, rate progress and
per-topic counts; the redrive lines of `--dry-run`; `ask`'s edit-then-merge (`e`)."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import TextIO

from dlq_tui.canary import commit_canary
from dlq_tui.engine import TriageSession
from dlq_tui.kafka.committer import CommitReport, ProgressHook
from dlq_tui.kafka.connection import DlqError
from dlq_tui.redrive import ORIGIN_WARNING, RateProgress
from dlq_tui.triage.decisions import Decision

ReadLine = Callable[[], Awaitable[str]]


async def stdin_line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


def progress_hook(session: TriageSession, err: TextIO) -> ProgressHook | None:
    """Rate and ETA on stderr for a rate-capped commit."""
    if not session.config.max_rate:
        return None

    def emit(line: str) -> None:
        err.write(f"dlq-tui: {line}\n")
        err.flush()

    return RateProgress(emit)


async def commit_redrive(
    session: TriageSession,
    *,
    out: TextIO,
    err: TextIO,
    canary: int = 0,
    canary_wait: float = 60.0,
    on_fenced: Callable[[str], None] | None = None,
    waiting: Callable[[str], None] | None = None,
) -> tuple[CommitReport, int]:
    """Commit what is staged: the canary first (if asked), then the rest, rate-capped if set.
    Returns the combined report and the exit status (1 when the canary came back)."""
    total = CommitReport()
    if session.to_origin and session.buffer.count(Decision.MERGE):
        err.write(f"dlq-tui: warning: {ORIGIN_WARNING}\n")
    if canary:

        def watching(report: CommitReport) -> None:
            out.write(
                f"canary: {report.merged} merged in its own transaction; watching "
                f"'{session.config.source}' for {canary_wait:g}s\n"
            )
            out.flush()

        outcome = await commit_canary(
            session, canary, canary_wait, on_fenced=on_fenced, on_committed=watching
        )
        total.add(outcome.report)
        if outcome.returned:
            out.write(f"canary came back to the DLQ: {len(outcome.returned)} record(s)\n")
            for returned in outcome.returned:
                out.write(f"  {returned.describe()}\n")
            out.write(f"stopped: {outcome.left} staged decision(s) left unmerged\n")
            return total, 1
        if outcome.report.merged:
            out.write("canary: none came back; committing the rest\n")
    if session.has_writes():
        report = await session.commit(
            on_fenced=on_fenced, progress=progress_hook(session, err), waiting=waiting
        )
        total.add(report)
    return total, 0


# -- ask: edit then merge ---------------------------------------------------------------------------


def run_editor(text: str, suffix: str) -> str:
    """Open $VISUAL / $EDITOR (else vi) on `text`; return what was saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, path = tempfile.mkstemp(prefix="dlq-tui-edit-", suffix=suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            status = subprocess.run([*shlex.split(editor), path], check=False).returncode
        except OSError as exc:
            raise DlqError(f"cannot run the editor {editor!r}: {exc}") from exc
        if status != 0:
            raise DlqError(f"the editor {editor!r} exited with status {status}; edit discarded")
        with open(path, encoding="utf-8") as f:
            return f.read()
    finally:
        os.unlink(path)


async def ask_edit(session: TriageSession, row: int, out: TextIO, read_line: ReadLine = stdin_line) -> bool:
    """`e` in `ask`: edit the value, show the field diff and new size, confirm; True when an edited
    merge was staged. An invalid edit gives the error and a chance to edit again; nothing is staged."""
    try:
        text = session.edit_text(row)
    except DlqError as exc:
        out.write(f"cannot edit: {exc}\n")
        return False
    suffix = ".json" if session.decoded(row).value.structured else ".txt"
    while True:
        try:
            text = await asyncio.to_thread(run_editor, text, suffix)
            edited = await asyncio.to_thread(session.prepare_edit, row, text)
        except DlqError as exc:
            out.write(f"{exc}\nedit again? [Y/n] ")
            out.flush()
            again = (await read_line()).strip().lower()
            if again.startswith("n"):
                out.write("nothing staged\n")
                return False
            continue
        break
    for line in edited.diff or ["(no field changed)"]:
        out.write(f"  {line}\n")
    out.write(f"  new size: {edited.new_size} bytes (was {edited.old_size})\n")
    out.write("merge edited? [y/N] ")
    out.flush()
    if not (await read_line()).strip().lower().startswith("y"):
        out.write("not staged\n")
        return False
    try:
        session.stage_edit(row, edited)
    except DlqError as exc:
        out.write(f"cannot do that: {exc}\n")
        return False
    return True
