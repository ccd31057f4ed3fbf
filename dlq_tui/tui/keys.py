"""The main screen's keys: one table for the bindings, the footer, the `?` help, the command palette
and docs/keys.md. Every binding's id is its action name, which is what `[keys]` in the TOML settings
remaps (``merge = "M"``, several keys as ``"m,ctrl+m"``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from textual.binding import Binding

from dlq_tui.engine_api import Engine

__all__ = ["ACTIONS", "Host", "KeyAction", "bindings", "unknown_actions"]


@dataclass(frozen=True, slots=True)
class KeyAction:
    name: str  # action and binding id
    key: str  # default key (Textual key name)
    label: str  # footer / palette title
    help: str
    show: bool = False  # in the footer
    writes: bool = False  # merge / purge / commit: hidden with --read-only


@runtime_checkable
class Host(Protocol):
    """What the screens need of the app (so that they do not import it)."""

    engine: Engine
    canary: tuple[int, float]
    """How many merges the review's canary commits, and how long it watches the DLQ."""

    def keys_for(self, action: str) -> list[str]: ...

    def key_display(self, action: str) -> str: ...

    def request_exit(self, code: int) -> None: ...


ACTIONS: tuple[KeyAction, ...] = (
    KeyAction(
        "merge",
        "m",
        "Merge",
        "stage merge (copy byte for byte to DESTINATION) on the cursor row, or on the selection",
        show=True,
        writes=True,
    ),
    KeyAction(
        "purge",
        "p",
        "Purge",
        "stage purge (drop) on the cursor row, or on the selection",
        show=True,
        writes=True,
    ),
    KeyAction(
        "skip",
        "s",
        "Skip",
        "mark skip (not now; stays in the DLQ) on the cursor row or the selection",
        show=True,
    ),
    KeyAction(
        "undo", "u", "Undo", "take back the staged decision on the cursor row, or on the selection", show=True
    ),
    KeyAction("toggle_select", "space", "Select", "select / unselect the cursor row (and move down)"),
    KeyAction(
        "filter", "slash", "Filter", "filter the table (live count of matches; docs/filters.md)", show=True
    ),
    KeyAction(
        "select_all", "a", "Select all", "select every unresolved row shown (all matches of the filter)"
    ),
    KeyAction("clear_selection", "A", "Clear sel.", "clear the selection"),
    KeyAction("next_match", "n", "Next", "next undecided row among those shown (the filter's matches)"),
    KeyAction("previous_match", "N", "Previous", "previous undecided row among those shown"),
    KeyAction("top", "g", "Top", "first row"),
    KeyAction("bottom", "G", "Bottom", "last row"),
    KeyAction("focus_detail", "enter", "Detail", "focus the detail pane to scroll it (escape: back)"),
    KeyAction("hex", "x", "Hex", "toggle raw hex of key, value and headers in the detail pane"),
    KeyAction("detail_size", "d", "Detail size", "cycle the detail pane: normal, large, hidden"),
    KeyAction(
        "groups",
        "v",
        "Groups",
        "switch between the failure groups (what broke, how much, from where) and the records",
        show=True,
    ),
    KeyAction(
        "edit",
        "e",
        "Edit",
        "edit the cursor row's value in $VISUAL/$EDITOR, then stage a merge of the edited record (same key, headers, timestamp)",
        writes=True,
    ),
    KeyAction(
        "copy",
        "y",
        "Copy",
        "copy the cursor row (or the selection) as JSON to the clipboard (OSC 52; the print --format jsonl format)",
    ),
    KeyAction(
        "export",
        "w",
        "Export",
        "write the selection, or else every row shown (the filter's matches), to a JSONL file",
    ),
    KeyAction("follow", "f", "Follow", "follow: keep reading records that arrive after the snapshot"),
    KeyAction(
        "reload", "r", "Reload", "re-read the group's offsets and take a new snapshot (decisions kept)"
    ),
    KeyAction(
        "commit",
        "c",
        "Commit",
        "review the staged decisions and commit them in one transaction",
        show=True,
        writes=True,
    ),
    KeyAction("help", "question_mark", "Help", "this help", show=True),
    KeyAction("quit", "q", "Quit", "quit (asks first when decisions are staged)", show=True),
)

_BY_NAME = {a.name: a for a in ACTIONS}


def bindings() -> list[Binding]:
    return [Binding(a.key, a.name, a.label, show=a.show, id=a.name) for a in ACTIONS]


def unknown_actions(keymap: dict[str, str]) -> list[str]:
    return sorted(name for name in keymap if name not in _BY_NAME)
