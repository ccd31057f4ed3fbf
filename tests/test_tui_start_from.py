"""`--from` in the app: the status says what was not loaded (issue 12, item 9), on the real stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.start import parse_start
from dlq_tui.tui.app import DlqApp
from tests.stack import Stack, unique_name
from tests.test_start_from import PER_PARTITION, three_partitions
from tests.tuikit import screen_text, wait_loaded, wait_until


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


async def test_the_app_says_what_was_not_loaded(stack: Stack) -> None:
    topic = await three_partitions(stack)
    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=topic,
        group=unique_name("from-g"),
        start=parse_start("p1:20"),
    )
    app = DlqApp(TriageSession(cfg))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await wait_loaded(pilot)
        await wait_until(pilot, lambda: "not loaded" in screen_text(app))
        text = screen_text(app)
        assert "⚑" in text and "from p1:20" in text
        assert screen.engine.row_count() == PER_PARTITION - 20
