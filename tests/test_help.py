"""`dlq-tui help`: the packaged help texts agree with docs/ and are printed (no stack)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dlq_tui.cli import main
from dlq_tui.cli_more import main_more
from dlq_tui.help import TOPICS, render, text

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("topic", TOPICS)
def test_packaged_help_is_the_doc(topic: str) -> None:
    assert text(topic) == (DOCS / f"{topic}.md").read_text(encoding="utf-8"), (
        f"dlq_tui/help/{topic}.md differs from docs/{topic}.md: cp docs/{topic}.md dlq_tui/help/{topic}.md"
    )


def test_help_filters_prints_the_syntax_with_examples() -> None:
    out = io.StringIO()
    assert main_more(["help", "filters"], out) == 0
    printed = out.getvalue()
    for example in ("key:ORD00*", "error:*Timeout*", "offset:>=100", "/regex/", "OR", "NOT"):
        assert example in printed


def test_help_through_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help", "keys"]) == 0
    assert "`merge`" in capsys.readouterr().out
    assert main(["help"]) == 0
    assert "filters, keys" in capsys.readouterr().out
    assert main(["help", "nope"]) == 2
    assert "unknown topic 'nope'" in capsys.readouterr().err


def test_render_for_a_terminal_lays_out_markdown() -> None:
    shown = render(text("filters"), terminal=True, width=100)
    assert "key:ORD00*" in shown and "\x1b[" in shown
    assert "| Term |" not in shown  # the table is drawn, not shown as Markdown
