"""The installed app opens on the failure groups (issue 8), in a real terminal against the stack."""

from __future__ import annotations

from pathlib import Path

from tests.stack import Stack, unique_name
from tests.test_tui_tmux import DLQ_TUI, Tmux, env_for, seed_article, tmux  # noqa: F401 (fixture)


async def test_opens_on_the_groups_and_enter_shows_a_group(stack: Stack, tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    dlq, retry = unique_name("groups-dlq"), unique_name("groups-retry")
    await seed_article(stack, dlq, retry)
    cmd = [str(DLQ_TUI), "-b", stack.bootstrap, "-g", unique_name("groups-g"), "-c",
           f"schema.registry.url={stack.registry_root}", dlq, retry]  # fmt: skip
    tmux.start(cmd, env_for(tmp_path), size=(140, 30))
    screen = tmux.wait_for("Failure groups · 3 groups · 3 records")
    assert "OrderNotFoundException" in screen and "TimeoutException" in screen
    tmux.keys("Enter")
    screen = tmux.wait_for("filter group:")
    assert "(1)" in screen
    tmux.keys("v")
    tmux.wait_for("Failure groups")
