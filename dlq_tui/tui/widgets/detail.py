"""The detail pane: the record under the cursor, whole.

Metadata (partition, offset, timestamp and its type, sizes, schema id and subject, the staged
decision), key and value pretty-printed (JSON and Avro as indented JSON with syntax highlighting,
text as text, undecodable bytes as a hex dump with the reason), the DLQ headers decoded into named
fields, and the other headers as text or hex. `x` shows key, value and headers as raw hex.

Every payload string goes through `safe_text` into a `rich.text.Text` (or `Syntax`, which does not
parse markup either): a record cannot inject markup or terminal escape sequences.

The renderable is built by a pure function; records larger than `THREAD_BYTES` are decoded and
built in a thread worker so that the UI never waits on a big payload (or on the registry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import work
from textual.containers import VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from dlq_tui.decode.dlq_headers import header_display, is_dlq_header
from dlq_tui.decode.formats import Decoded, hex_dump
from dlq_tui.decode.sanitize import one_line, safe_text
from dlq_tui.display import local_ts, size_text, timestamp_type_name
from dlq_tui.engine_api import Engine
from dlq_tui.triage.decisions import Decision
from dlq_tui.tui.widgets.trace_view import trace_text

__all__ = ["DetailPane", "build_detail"]

THREAD_BYTES = 16 * 1024
"""Records with more key + value bytes than this are decoded and laid out in a thread worker."""
MAX_CHARS = 16 * 1024
"""Longer pretty texts are cut (the rest: `x` hex dump or `dlq-tui print`): every line of the pane
is sent over the link when it is scrolled, and a big payload is read with `dlq-tui print`."""
HIGHLIGHT_CHARS = MAX_CHARS
"""Longer JSON is shown without syntax highlighting (highlighting is per repaint of the text)."""
HEX_BYTES = 16 * 1024
"""Longer payloads show the first this many bytes in a hex dump."""
HEX_WIDE = 16
HEX_NARROW = 8
HEX_WIDE_CELLS = 78
"""A 16-byte hex dump line is 78 cells; a narrower pane gets 8 bytes a line (never wrapped)."""
SHORT_KEY = 60
THROTTLE_S = 0.05

_DECISION_STYLE = {Decision.MERGE: "bold green", Decision.PURGE: "bold red", Decision.SKIP: "bold yellow"}


@dataclass(frozen=True, slots=True)
class DetailState:
    """What the pane needs to know of the engine besides the record (read on the UI thread)."""

    decision: Decision | None
    resolved: bool


def _cut(text: str) -> tuple[str, int]:
    """The first `MAX_CHARS` of `text`, and how many bytes (UTF-8) are left out."""
    if len(text) <= MAX_CHARS:
        return text, 0
    return text[:MAX_CHARS], len(text[MAX_CHARS:].encode("utf-8", "replace"))


def _more(n: int, hint: str) -> Text:
    return Text(f"… {size_text(n)} more not shown; {hint}", style="dim italic")


def _hex(raw: bytes, hex_width: int, *, hex_mode: bool) -> list[RenderableType]:
    out: list[RenderableType] = [
        Text(hex_dump(raw[:HEX_BYTES], width=hex_width), no_wrap=True, overflow="crop")
    ]
    if len(raw) > HEX_BYTES:
        hint = "dlq-tui print shows all" if hex_mode else "x: hex, dlq-tui print shows all"
        out.append(_more(len(raw) - HEX_BYTES, hint))
    return out


def _body(
    part: Decoded, raw: bytes | None, *, hex_mode: bool, hex_width: int = HEX_WIDE
) -> list[RenderableType]:
    """Key or value: pretty text, highlighted JSON or a hex dump, and the decode error if any."""
    out: list[RenderableType] = []
    if raw is None:
        out.append(Text("(null)", style="dim italic"))
        return out
    if hex_mode:
        return _hex(raw, hex_width, hex_mode=True)
    if part.pending:
        # Not a failure: the schema is being fetched, and the pane repaints when it is here.
        out.append(Text(safe_text(part.text), style="dim italic"))
        return out
    if part.error:
        if part.kind in ("hex", "error"):
            out.append(
                Text.assemble(("⚠ cannot decode; shown as hex: ", "bold red"), (safe_text(part.error), "red"))
            )
        else:  # decoded, with a remark (e.g. does not validate against its JSON Schema)
            out.append(Text.assemble(("note: ", "bold yellow"), (safe_text(part.error), "yellow")))
    if part.kind in ("hex", "error"):
        return out + _hex(raw, hex_width, hex_mode=False)
    text, more = _cut(safe_text(part.pretty()))
    if part.structured and not more and len(text) <= HIGHLIGHT_CHARS:
        out.append(Syntax(text, "json", theme="ansi_dark", word_wrap=True, background_color="default"))
    else:
        out.append(Text(text))
    if more:
        out.append(_more(more, "x: hex shows the raw bytes"))
    return out


def _rule(title: str) -> Rule:
    return Rule(Text(title, style="bold"), style="dim", align="left")


def _kv_table() -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def _kind_label(part: Decoded, raw: bytes | None) -> str:
    if raw is None:
        return "null"
    kind = "schema loading" if part.pending else part.kind
    label = f"{kind}, {size_text(len(raw))}"
    if part.schema_id is not None:
        label += f", schema id {one_line(str(part.schema_id), 40)}"
        if part.subject:
            label += f" ({one_line(part.subject, 80)})"
    if part.schema_title:
        what = {"PROTOBUF": "message", "JSON": "JSON Schema"}.get(part.schema_type or "", "schema")
        label += f", {what} {one_line(part.schema_title, 80)}"
    return label


def build_detail(
    engine: Engine, row: int, state: DetailState, *, hex_mode: bool = False, hex_width: int = HEX_WIDE
) -> RenderableType:
    """The detail view of row `row` (thread-safe: reads only)."""
    d = engine.decoded(row)
    raw = d.raw
    parts: list[RenderableType] = []

    meta = Text()
    meta.append(f"partition {raw.partition} · offset {raw.offset}", style="bold")
    meta.append(f" · {local_ts(raw.timestamp, millis=True)} ({timestamp_type_name(raw.timestamp_type)})")
    if state.resolved:
        meta.append(" · resolved", style="dim")
    elif state.decision is not None:
        meta.append(" · staged: ")
        meta.append(state.decision.value.upper(), style=_DECISION_STYLE[state.decision])
    else:
        meta.append(" · undecided", style="dim")
    if hex_mode:
        meta.append(" · raw hex (x: decoded)", style="bold")
    parts.append(meta)

    key_text = "" if hex_mode or raw.key is None or d.key.error else safe_text(d.key.pretty())
    if key_text and "\n" not in key_text and len(key_text) <= SHORT_KEY:
        # A short key fits one line: no section of its own (80x24 needs the lines).
        parts.append(Text.assemble(("key ", "bold"), key_text, (f"  ({_kind_label(d.key, raw.key)})", "dim")))
    else:
        parts.append(_rule(f"Key ({_kind_label(d.key, raw.key)})"))
        parts.extend(_body(d.key, raw.key, hex_mode=hex_mode, hex_width=hex_width))
    parts.append(_rule(f"Value ({_kind_label(d.value, raw.value)})"))
    parts.extend(_body(d.value, raw.value, hex_mode=hex_mode, hex_width=hex_width))

    dlq = d.dlq
    if dlq.source is not None:
        title = dlq.convention_name
        parts.append(_rule(f"DLQ headers ({title})"))
        table = _kv_table()
        for label, value in dlq.fields():
            table.add_row(Text(label), Text(safe_text(value)))
        for note in dlq.notes:
            table.add_row(Text("note", style="bold red"), Text(safe_text(note), style="red"))
        parts.append(table)
        if dlq.stack_trace:
            parts.append(_rule("Stack trace (own frames bold, framework frames dim)"))
            parts.append(trace_text(dlq.stack_trace))

    others = [(n, v) for n, v in raw.headers if not is_dlq_header(n)]
    shown_headers = raw.headers if hex_mode else tuple(others)
    if shown_headers:
        header_bytes = sum(len(n) + (len(v) if v else 0) for n, v in shown_headers)
        title = "Headers, hex" if hex_mode else "Other headers"
        parts.append(_rule(f"{title} ({len(shown_headers)}, {size_text(header_bytes)})"))
        table = _kv_table()
        for name, hvalue in shown_headers:
            if hvalue is None:
                cell = Text("(null)", style="dim italic")
            elif hex_mode:
                cell = Text(hvalue.hex(" "))
            else:
                cell = Text(safe_text(header_display(name, hvalue)))
            table.add_row(Text(one_line(name, 80)), cell)
        parts.append(table)
    return Group(*parts)


class DetailPane(VerticalScroll, can_focus=True):
    """Shows one store row; `show_row` is throttled so that holding a key over a slow link does
    not lay out every record passed over."""

    DEFAULT_CSS = """
    DetailPane { height: 1fr; padding: 0 1; }
    DetailPane > #detail-body { width: 1fr; height: auto; }
    """

    class Ready(Message):
        def __init__(self, token: int, renderable: RenderableType) -> None:
            super().__init__()
            self.token = token
            self.renderable = renderable

    def __init__(self, engine: Engine, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.row: int | None = None
        self.hex_mode = False
        self._token = 0
        self._last_render = 0.0
        self._timer: Timer | None = None
        self._body = Static("", id="detail-body", markup=False)

    def compose(self) -> Any:
        yield self._body

    def show_message(self, text: str) -> None:
        self.row = None
        self._token += 1
        self._body.update(Text(text, style="dim italic"))

    def show_row(self, row: int | None, *, force: bool = False) -> None:
        if row is None:
            self.show_message("no record")
            return
        if row == self.row and not force:
            return
        self.row = row
        now = time.monotonic()
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if now - self._last_render >= THROTTLE_S:
            self._render_now()
        else:
            self._timer = self.set_timer(THROTTLE_S, self._render_now)

    def toggle_hex(self) -> bool:
        self.hex_mode = not self.hex_mode
        if self.row is not None:
            self._render_now()
        return self.hex_mode

    def refresh_state(self) -> None:
        """The decision on the shown row changed: lay it out again."""
        if self.row is not None:
            self._render_now()

    def _render_now(self) -> None:
        self._timer = None
        row = self.row
        if row is None:
            return
        self._last_render = time.monotonic()
        self._token += 1
        engine = self.engine
        state = DetailState(engine.decision(row), engine.is_resolved(row))
        size = engine.size_at(row)
        hex_width = self._hex_width()
        if size > THREAD_BYTES:
            self._show(Text(f"decoding {size_text(size)}…", style="dim italic"))
            self._build_in_thread(self._token, row, state, self.hex_mode, hex_width)
            return
        self._show(build_detail(engine, row, state, hex_mode=self.hex_mode, hex_width=hex_width))

    def _hex_width(self) -> int:
        """Bytes per hex dump line: 16 if a 16-byte line fits beside a scrollbar, else 8."""
        width = self.size.width - self.styles.gutter.width - self.styles.scrollbar_size_vertical
        return HEX_WIDE if width >= HEX_WIDE_CELLS else HEX_NARROW

    def _show(self, renderable: RenderableType) -> None:
        """One layout: scroll to the top before the new body is laid out (not after)."""
        if self.scroll_offset.y or self.scroll_offset.x:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self._body.update(renderable)

    @work(thread=True, exclusive=True, group="detail")
    def _build_in_thread(
        self, token: int, row: int, state: DetailState, hex_mode: bool, hex_width: int
    ) -> None:
        renderable = build_detail(self.engine, row, state, hex_mode=hex_mode, hex_width=hex_width)
        self.post_message(self.Ready(token, renderable))

    def on_detail_pane_ready(self, message: Ready) -> None:
        message.stop()
        if message.token == self._token:
            self._show(message.renderable)
