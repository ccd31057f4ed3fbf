"""Small screens: a keyboard choice dialog (quit?, restore the journal?), the help, the open error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown, Static, TabbedContent, TabPane

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import JournalOffer
from dlq_tui.help import text as help_text
from dlq_tui.triage.decisions import Decision
from dlq_tui.tui.keys import ACTIONS

__all__ = [
    "ChoiceScreen",
    "ErrorScreen",
    "HelpScreen",
    "journal_offer_dialog",
    "quit_dialog",
    "tombstone_dialog",
]

Choice = tuple[str, str, str]
"""(key, label, result): pressing `key` dismisses the dialog with `result`."""


class ChoiceScreen(ModalScreen[str]):
    """A question answered with one key. Escape answers `cancel` (None: escape does nothing)."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ChoiceScreen #choice-title { text-style: bold; padding-bottom: 1; }
    ChoiceScreen #choice-keys { padding-top: 1; }
    """

    def __init__(
        self, title: str, body: Content | str, choices: Sequence[Choice], *, cancel: str | None
    ) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._choices = list(choices)
        self._cancel = cancel

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self._title), id="choice-title")
            yield Static(
                self._body if isinstance(self._body, Content) else Content(self._body), id="choice-body"
            )
            keys: list[str | tuple[str, str]] = []
            for key, label, _ in self._choices:
                if keys:
                    keys.append("   ")
                keys += [(f" {key} ", "reverse bold"), f" {label}"]
            if self._cancel is not None:
                keys += ["   ", (" esc ", "reverse"), " back"]
            yield Static(Content.assemble(*keys), id="choice-keys")

    def on_key(self, event: events.Key) -> None:
        for key, _label, result in self._choices:
            if event.key == key or event.character == key:
                event.stop()
                self.dismiss(result)
                return
        if event.key == "escape":
            event.stop()
            if self._cancel is not None:
                self.dismiss(self._cancel)


class HelpScreen(ModalScreen[None]):
    """Two tabs: the keys as currently bound (after `[keys]` remapping) and what the marks mean;
    the filter language with examples (the packaged copy of docs/filters.md, so it is there on a
    jump host where dlq-tui was installed with pip)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > TabbedContent {
        width: 100; max-width: 100%; height: 100%; max-height: 40;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen Markdown { margin: 0; padding: 0; }
    """

    def __init__(self, keys: dict[str, str], unavailable: dict[str, str], *, tab: str = "keys") -> None:
        """`keys`: action -> key display; `unavailable`: action -> why it is off; `tab`: "keys" or
        "filters" (shown first)."""
        super().__init__()
        self._keys = keys
        self._unavailable = unavailable
        self._tab = tab

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for action in ACTIONS:
            key = self._keys.get(action.name)
            if key is None:
                continue
            text = Text(action.help)
            why = self._unavailable.get(action.name)
            if why:
                text.append(f" (off: {why})", style="italic")
            keys.add_row(Text(key), text)
        keys.add_row(
            Text("↑↓ j k"), Text("move; pgup/pgdn, home/end; ctrl+p: command palette (every action)")
        )
        legend = Table.grid(padding=(0, 2))
        legend.add_column(style="bold", no_wrap=True)
        legend.add_column()
        legend.add_row(
            Text("marks"),
            Text("M merge · P purge · S skip (session only) · ✓ resolved (--from-beginning) · ● selected"),
        )
        legend.add_row(
            Text("progress"),
            Text("per partition: snapshot offsets read/total ('read'), decided/unresolved records ('dec')"),
        )
        legend.add_row(Text("remapping"), Text('[keys] in the config file: action = "key" (docs/keys.md)'))
        legend.add_row(Text("more"), Text("dlq-tui help keys · dlq-tui help filters (on any terminal)"))
        with TabbedContent(initial=f"help-{self._tab}"):
            with TabPane("Keys", id="help-keys"), VerticalScroll():
                yield Static(Group(keys, Text(""), legend))
            with TabPane("Filters", id="help-filters"), VerticalScroll():
                yield Markdown(help_text("filters"), open_links=False)

    def action_close(self) -> None:
        self.dismiss(None)


class ErrorScreen(Screen[None]):
    """The DLQ could not be opened: the message, and any key quits (exit status 1)."""

    DEFAULT_CSS = """
    ErrorScreen { align: center middle; }
    ErrorScreen > Vertical {
        width: 90; max-width: 100%; height: auto; border: thick $error; padding: 0 1; background: $surface;
    }
    ErrorScreen #error-title { text-style: bold; color: $text-error; padding-bottom: 1; }
    ErrorScreen #error-keys { padding-top: 1; color: $text-muted; }
    """

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self._title = title
        self._message = message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self._title), id="error-title")
            yield Static(Content(one_line(self._message, 2000)), id="error-message")
            yield Static(Content("press any key to quit"), id="error-keys")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        request_exit = getattr(self.app, "request_exit", None)
        if request_exit is not None:
            request_exit(1)
        else:
            self.app.exit(1, return_code=1)

    def on_mount(self) -> None:
        self.app.bell()


def journal_offer_dialog(offer: JournalOffer) -> ChoiceScreen:
    """Restore or discard the decisions of a session that ended without committing."""
    body = (
        f"A dlq-tui session on this DLQ that ended without committing staged {offer.total:,} decisions "
        f"({offer.merges:,} merge, {offer.purges:,} purge, {offer.skips:,} skip; those resolved since "
        "are left out).\nRestore them into the staged buffer, or discard them?"
    )
    return ChoiceScreen(
        "Restore staged decisions?",
        body,
        [("r", "restore", "restore"), ("d", "discard", "discard")],
        cancel=None,  # the journal records nothing new until this is answered
    )


def quit_dialog(counts: dict[Decision, int], journal_active: bool) -> ChoiceScreen:
    """Quit with merges or purges staged and not committed?"""
    kept = (
        "They stay in the local journal, and reopening this DLQ offers to restore them."
        if journal_active
        else "There is no journal for this session: they will be lost."
    )
    body = (
        f"{counts[Decision.MERGE]:,} merge and {counts[Decision.PURGE]:,} purge are staged and not "
        f"committed. {kept}"
    )
    return ChoiceScreen(
        "Quit without committing?",
        body,
        [("q", "quit", "quit"), ("c", "review and commit", "commit")],
        cancel="stay",
    )


def tombstone_dialog() -> ChoiceScreen:
    """The separate confirmation a merge of a tombstone takes."""
    return ChoiceScreen(
        "Merge a tombstone?",
        "This record has no value: it is a deletion (e.g. an earlier purge's tombstone), not a failed "
        "record. Merged, it deletes its key from the destination topic if that is compacted, and "
        "every consumer of it sees the key deleted.",
        [("t", "merge the tombstone all the same", "merge")],
        cancel="no",
    )
