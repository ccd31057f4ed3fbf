"""docs/keys.md and docs/tour.md stay in line with the app (no stack needed)."""

from __future__ import annotations

import re
from pathlib import Path

from dlq_tui.tui.keys import ACTIONS, bindings, unknown_actions

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_keys_md_lists_every_action_and_its_default_key() -> None:
    text = (DOCS / "keys.md").read_text()
    for action in ACTIONS:
        assert f"`{action.name}`" in text, action.name
    assert {b.id for b in bindings()} == {a.name for a in ACTIONS}


def test_tour_images_exist() -> None:
    text = (DOCS / "tour.md").read_text()
    images = re.findall(r"\]\((img/[^)]+\.svg)\)", text)
    assert len(images) >= 8
    for image in images:
        path = DOCS / image
        assert path.is_file(), image
        assert path.read_text().lstrip().startswith("<svg")


def test_unknown_actions() -> None:
    assert unknown_actions({"merge": "y", "mrege": "x"}) == ["mrege"]
