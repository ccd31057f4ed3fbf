"""`y` in a real terminal: the OSC 52 sequence reaches the terminal (tmux, which turns it into a paste
buffer with `set-clipboard on`) and carries the record's JSON — the `print --format jsonl` format."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from tests.stack import Stack, unique_name
from tests.test_tui_tmux import Tmux, command, env_for, seed_article, tmux  # noqa: F401 (fixture)


async def test_y_sends_the_record_json_through_osc52(stack: Stack, tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    dlq, retry = unique_name("copy-dlq"), unique_name("copy-retry")
    await seed_article(stack, dlq, retry)
    tmux.start(command(stack, dlq, retry, unique_name("copy-g")), env_for(tmp_path), size=(120, 30))
    tmux._tmux("set-option", "-s", "set-clipboard", "on")
    raw = tmp_path / "pane.log"
    tmux._tmux("pipe-pane", "-o", "-t", "t", f"cat >> {raw}")
    tmux.wait_for("Snapshot loaded 3 records")
    tmux.keys("y")
    tmux.wait_for("copied 1 record(s)")

    sent = re.findall(rb"\x1b\]52;c;([A-Za-z0-9+/=]+)\x07", raw.read_bytes())
    assert sent, "the OSC 52 sequence reached the terminal"
    record = json.loads(base64.b64decode(sent[-1]))
    assert record["v"] == 1 and record["topic"] == dlq
    assert (record["partition"], record["offset"], record["key"]) == (0, 0, "ORD001")
    assert record["value"]["orderNumber"] == "ORD001"

    buffer = tmux._tmux("show-buffer")
    assert json.loads(buffer) == record, "tmux took it as its clipboard"
