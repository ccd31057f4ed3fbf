"""Help that travels with the package: the filter language and the keys, readable on a jump host
where dlq-tui was installed with pip and `docs/` is not there. The texts are copies of
`docs/filters.md` and `docs/keys.md` (a test keeps them equal); `dlq-tui help TOPIC` prints them
and the app can show `text("filters")`."""

from __future__ import annotations

import io
from importlib.resources import files

__all__ = ["TOPICS", "render", "text"]

TOPICS = ("filters", "keys", "redrive")


def text(topic: str) -> str:
    """The Markdown text of a help topic (one of `TOPICS`)."""
    if topic not in TOPICS:
        raise KeyError(f"no help on {topic!r} (topics: {', '.join(TOPICS)})")
    return files(__package__).joinpath(f"{topic}.md").read_text(encoding="utf-8")


def render(markdown: str, *, terminal: bool, width: int | None = None) -> str:
    """`markdown` as it is (for pipes and pagers), or laid out for a terminal with Rich."""
    if not terminal:
        return markdown
    from rich.console import Console
    from rich.markdown import Markdown

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=width, soft_wrap=False)
    console.print(Markdown(markdown, hyperlinks=False))
    return buffer.getvalue()
