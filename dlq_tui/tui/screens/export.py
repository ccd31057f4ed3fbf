"""The export dialog: write rows to a JSONL file (the `print --format jsonl` format) whose path the
engineer confirms — by default a new file in the current directory, never overwriting one without
asking — in a worker, with progress; esc cancels (the partial file is removed)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from dlq_tui.decode.sanitize import one_line
from dlq_tui.engine_api import Engine
from dlq_tui.export import ExportExistsError, ExportResult, default_export_path, export_rows

__all__ = ["ExportScreen"]


class ExportScreen(ModalScreen[ExportResult | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ExportScreen #export-title { text-style: bold; padding-bottom: 1; }
    ExportScreen #export-status { height: auto; padding-top: 1; }
    ExportScreen #export-status.-error { color: $text-error; }
    ExportScreen ProgressBar { display: none; }
    ExportScreen.-running ProgressBar { display: block; }
    """

    @dataclass
    class _Progress(Message):
        done: int
        total: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ExportScreen._Progress)

    @dataclass
    class _Done(Message):
        result: ExportResult | None
        error: str | None = None
        exists: bool = False

    def __init__(self, engine: Engine, rows: array[int], what: str) -> None:
        super().__init__()
        self.engine = engine
        self.rows = rows
        self.what = what
        self._confirm_overwrite: str | None = None
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Content(f"Export {len(self.rows):,} records ({self.what}) as JSONL"), id="export-title"
            )
            yield Input(str(default_export_path(self.engine.info.source)), id="export-path", compact=True)
            yield ProgressBar(id="export-progress", show_eta=True)
            yield Static(
                Content.assemble(("enter", "bold"), " write   ", ("esc", "bold"), " cancel"),
                id="export-status",
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#export-status", Static)
        status.set_class(error, "-error")
        status.update(Content(text))

    @on(Input.Submitted, "#export-path")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._worker is not None:
            return
        path = event.value.strip()
        if not path:
            self._status("give a file name", error=True)
            return
        overwrite = self._confirm_overwrite == path
        self._confirm_overwrite = None
        self.add_class("-running")
        self._status(f"writing {one_line(path, 200)}…")
        self._worker = self._export(Path(path).expanduser(), overwrite)

    @work(thread=True, exclusive=True, group="export")
    def _export(self, path: Path, overwrite: bool) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            self.post_message(self._Progress(done, total))

        try:
            result = export_rows(
                self.engine,
                self.rows,
                path,
                overwrite=overwrite,
                progress=progress,
                cancelled=lambda: worker.is_cancelled,
            )
        except ExportExistsError:
            self.post_message(self._Done(None, f"{path} exists", exists=True))
        except OSError as exc:
            self.post_message(self._Done(None, f"cannot write {path}: {exc.strerror or exc}"))
        else:
            self.post_message(self._Done(result))

    @on(_Progress)
    def _progressed(self, message: _Progress) -> None:
        self.query_one(ProgressBar).update(total=max(1, message.total), progress=message.done)

    @on(_Done)
    def _done(self, message: _Done) -> None:
        self._worker = None
        self.remove_class("-running")
        if message.exists:
            self._confirm_overwrite = self.query_one(Input).value.strip()
            self._status(
                f"{one_line(message.error or '', 200)}: enter again to overwrite it, or change the name",
                error=True,
            )
        elif message.error is not None:
            self._status(one_line(message.error, 300), error=True)
        else:
            self.dismiss(message.result)

    def action_cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()  # the export stops and removes its partial file
        self.dismiss(None)
