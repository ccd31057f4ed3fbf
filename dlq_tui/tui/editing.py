"""Edit then merge in the app (`e`): the record's decoded value goes to `$VISUAL` / `$EDITOR` (the
app steps aside while it runs), the engine re-encodes the result with the record's own schema, the
engineer sees what changed and stages the merge of the edited record — or edits again."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from textual.app import App, SuspendNotSupported

from dlq_tui.decode.encode import Edited
from dlq_tui.decode.sanitize import one_line, safe_text
from dlq_tui.tui.screens.dialogs import ChoiceScreen

__all__ = ["diff_dialog", "editor_command", "invalid_dialog", "run_editor"]

MAX_DIFF_LINES = 30


def editor_command() -> list[str]:
    """`$VISUAL`, else `$EDITOR`, else `vi` (as Git and crontab choose), split like a shell would."""
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def run_editor(app: App[object], text: str, *, suffix: str = ".json") -> str | None:
    """`text` edited in the engineer's editor (None if the editor failed). The file is private
    (0600) and removed afterwards: it holds a payload."""
    fd, name = tempfile.mkstemp(prefix="dlq-tui-edit-", suffix=suffix)
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        command = [*editor_command(), str(path)]
        try:
            with app.suspend():
                done = subprocess.run(command, check=False)
        except SuspendNotSupported:  # no terminal to hand over (tests, a pipe): run it as it is
            done = subprocess.run(command, check=False, stdin=subprocess.DEVNULL, capture_output=True)
        if done.returncode != 0:
            return None
        return path.read_text(encoding="utf-8")
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def diff_dialog(edited: Edited) -> ChoiceScreen:
    """What changed, and: stage the merge, edit again, or drop the edit."""
    lines = [one_line(safe_text(line), 200) for line in edited.diff[:MAX_DIFF_LINES]]
    if len(edited.diff) > MAX_DIFF_LINES:
        lines.append(f"… {len(edited.diff) - MAX_DIFF_LINES} more changes")
    body = (
        "\n".join(lines or ["(no field changed)"])
        + f"\n\nnew value: {edited.new_size:,} bytes (was {edited.old_size:,}); same key, headers and timestamp"
    )
    return ChoiceScreen(
        "Merge the edited record?",
        body,
        [("m", "stage the merge of the edited record", "merge"), ("e", "edit again", "edit")],
        cancel="cancel",
    )


def invalid_dialog(error: str) -> ChoiceScreen:
    return ChoiceScreen(
        "The edit is not valid: nothing is staged",
        one_line(safe_text(error), 1000),
        [("e", "edit again", "edit")],
        cancel="cancel",
    )
