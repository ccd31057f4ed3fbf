"""The full-screen app: `run_app(config, settings)` opens the DLQ in a `TriageSession` and runs the
triage screen on it. The app is a face on the engine: it adds no Kafka logic of its own.

Opening and loading run in workers (the screen shows a loading indicator meanwhile); an open
error is shown as a message screen and the exit status is 1. Quitting closes the session (the
consumer, the journal, the registry client)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from functools import partial

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.engine_api import Engine
from dlq_tui.settings import Settings
from dlq_tui.tui import keys
from dlq_tui.tui.screens.dialogs import ChoiceScreen, ErrorScreen
from dlq_tui.tui.screens.main import MainScreen
from dlq_tui.tui.screens.review import ReviewScreen

__all__ = ["DlqApp", "run_app"]

log = logging.getLogger(__name__)

COMMIT_ABORT_WAIT_S = 15.0  # quitting waits this long for a cancelled commit to abort its transaction


class DlqApp(App[int]):
    """The triage app on one session. `key_map`: action name -> key(s), from `[keys]` in settings."""

    CSS_PATH = "app.tcss"
    TITLE = "dlq-tui"

    def __init__(
        self,
        engine: Engine,
        key_map: dict[str, str] | None = None,
        *,
        first_view: str = "records",
        canary: tuple[int, float] = (10, 60.0),
    ) -> None:
        """`canary`: how many merges the review's canary commits, and how long it watches."""
        super().__init__()
        self.engine = engine
        self.first_view = first_view
        self.canary = canary
        self.key_map = {k: v for k, v in (key_map or {}).items() if v}
        self._engine_closed = False
        self._clash_warned = False

    def get_default_screen(self) -> Screen[None]:
        return MainScreen(self.engine, first_view=self.first_view)

    def on_mount(self) -> None:
        unknown = keys.unknown_actions(self.key_map)
        if unknown:
            known = ", ".join(a.name for a in keys.ACTIONS)
            self.notify(
                f"[keys]: unknown action(s) {', '.join(unknown)} (known: {known})",
                severity="warning",
                timeout=15,
            )
        self.set_keymap({k: v for k, v in self.key_map.items() if k not in unknown})

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications never interpret markup: they carry topic names, broker errors and payload
        text (`markup` is accepted for Textual's signature and ignored)."""
        super().notify(
            one_line(message, 2000),
            title=one_line(title, 200),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def action_help_quit(self) -> None:
        self.notify(f"press {self.key_display('quit')} to quit", title="Do you want to quit?")

    # -- keys -----------------------------------------------------------------------------------

    def keys_for(self, action: str) -> list[str]:
        """The Textual key names bound to `action` (after remapping)."""
        default = next((a.key for a in keys.ACTIONS if a.name == action), "")
        return [k.strip() for k in (self.key_map.get(action) or default).split(",") if k.strip()]

    def key_display(self, action: str) -> str:
        return "/".join(self.get_key_display(Binding(k, action)) for k in self.keys_for(action))

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node: object) -> None:
        if self._clash_warned:
            return
        self._clash_warned = True
        names = ", ".join(sorted(b.id or b.action for b in clashed_bindings))
        self.notify(f"[keys]: the remapped keys take over the keys of: {names}", severity="warning")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        for action in keys.ACTIONS:
            allowed = screen.check_action(action.name, ())
            if allowed is False or action.name == "quit":
                continue
            title = f"{action.label} ({self.key_display(action.name)})"
            if allowed is None:
                title += " — unavailable: " + screen.unavailable().get(action.name, "")
            yield SystemCommand(title, action.help, partial(screen.run_action, action.name))

    # -- quitting -------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """ctrl+q, from any screen: as `q` on the triage screen (asks when decisions are staged)."""
        top = self.screen
        main = self.screen_stack[0] if self.screen_stack else None
        if isinstance(top, ReviewScreen) and top.state in ("committing", "cancelling"):
            self._ask_cancel_and_quit(top)
        elif isinstance(top, ErrorScreen) or not isinstance(main, MainScreen):
            self.request_exit(1 if isinstance(top, ErrorScreen) else 0)
        elif not isinstance(top, ChoiceScreen):
            main.action_quit()

    def _ask_cancel_and_quit(self, review: ReviewScreen) -> None:
        def answered(answer: str | None) -> None:
            if answer == "quit":
                self._cancel_and_quit(review)

        kept = (
            "the staged decisions stay in the local journal."
            if self.engine.journal_active
            else "there is no journal for this session: the staged decisions are lost."
        )
        self.push_screen(
            ChoiceScreen(
                "Cancel the commit and quit?",
                f"A commit is running. Cancelling aborts its transaction: nothing of it is written, and {kept}",
                [("q", "cancel the commit and quit", "quit")],
                cancel="keep committing",
            ),
            answered,
        )

    @work(group="quit", exclusive=True)
    async def _cancel_and_quit(self, review: ReviewScreen) -> None:
        worker = review.cancel_commit()
        if worker is not None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(worker.wait(), COMMIT_ABORT_WAIT_S)
        self.request_exit(0)

    def request_exit(self, code: int) -> None:
        """Shut down from anywhere: the shutdown runs on the app's own message loop (a screen that
        awaited it in its handler would wait for itself to close)."""
        self.call_later(self.shutdown, code)

    async def shutdown(self, code: int) -> None:
        """Stop the workers, close the session, exit with `code`."""
        self.workers.cancel_all()
        await asyncio.sleep(0)
        await self.close_engine()
        self.exit(code, return_code=code)

    async def close_engine(self) -> None:
        if self._engine_closed:
            return
        self._engine_closed = True
        try:
            await self.engine.close()
        except Exception:  # closing must not turn a clean quit into a traceback
            log.debug("closing the engine failed", exc_info=True)

    async def on_unmount(self) -> None:
        with contextlib.suppress(Exception):
            await self.close_engine()


def run_app(config: SessionConfig, settings: Settings) -> int:
    """Run the TUI on `config`; returns the exit status (0 done, 1 failed)."""
    app = DlqApp(
        TriageSession(config),
        settings.keys,
        first_view=settings.first_view,
        canary=(settings.canary, settings.canary_wait),
    )
    result = app.run()
    if app.return_code is not None and app.return_code != 0:
        return app.return_code
    return 0 if result is None else int(result)
