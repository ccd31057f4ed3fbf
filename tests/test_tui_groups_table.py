"""The groups table widget in a tiny app (pilot; no broker, no engine)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message

from dlq_tui.groups import GroupSummary
from dlq_tui.triage.decisions import Decision
from dlq_tui.tui.widgets.groups_table import GroupChosen, GroupDecision, GroupsTable


def summary(gid: str, count: int, **kw: object) -> GroupSummary:
    values: dict[str, object] = {
        "id": gid,
        "kind": "error",
        "count": count,
        "undecided": count,
        "decided": 0,
        "resolved": 0,
        "exception": "java.net.SocketTimeoutException",
        "message": "Read timed out after <n> ms",
        "origin_topic": "orders",
        "first_timestamp": 1_767_225_600_000,
        "last_timestamp": 1_767_229_200_000,
        "partitions": (0, 2),
        "convention": "spring",
        "conventions": ("spring",),
    }
    values.update(kw)
    return GroupSummary(**values)  # type: ignore[arg-type]


GROUPS = [
    summary("aaaaaaaaaa", 30),
    summary("bbbbbbbbbb", 12, exception="x.DataException", message="[bold]boom[/bold] \x1b[31mred"),
    summary("cccccccccc", 3, kind="origin", exception="", message="", origin_topic="legacy"),
]


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Message] = []

    def compose(self) -> ComposeResult:
        yield GroupsTable(GROUPS)

    def on_group_chosen(self, message: GroupChosen) -> None:
        self.seen.append(message)

    def on_group_decision(self, message: GroupDecision) -> None:
        self.seen.append(message)


async def test_enter_and_decision_keys_post_messages() -> None:
    app = Host()
    async with app.run_test(size=(160, 12)) as pilot:
        table = app.query_one(GroupsTable)
        assert table.row_count == 3 and table.current == GROUPS[0]
        await pilot.press("down", "enter")
        await pilot.press("m", "down", "p", "s")
        await pilot.pause()
        assert app.seen == [
            GroupChosen("bbbbbbbbbb"),
            GroupDecision("bbbbbbbbbb", Decision.MERGE),
            GroupDecision("cccccccccc", Decision.PURGE),
            GroupDecision("cccccccccc", Decision.SKIP),
        ]


async def test_refresh_keeps_the_cursor_on_its_group() -> None:
    app = Host()
    async with app.run_test(size=(160, 12)) as pilot:
        table = app.query_one(GroupsTable)
        await pilot.press("down")
        assert table.current is not None and table.current.id == "bbbbbbbbbb"
        # a commit resolved most of the first group: the order changes
        table.set_groups([GROUPS[1], summary("aaaaaaaaaa", 2), GROUPS[2]])
        await pilot.pause()
        assert table.current is not None and table.current.id == "bbbbbbbbbb" and table.cursor_row == 0
        table.set_groups([GROUPS[2]])  # the group is gone: the cursor stays in range
        await pilot.pause()
        assert table.current == GROUPS[2]
        table.set_groups([])
        await pilot.pause()
        assert table.current is None
        await pilot.press("enter", "m")
        assert app.seen == []


async def test_cells_are_plain_escaped_text() -> None:
    app = Host()
    async with app.run_test(size=(160, 12)):
        table = app.query_one(GroupsTable)
        row = [cell.plain for cell in table.get_row("bbbbbbbbbb")]
        assert row[:4] == ["12", "12", "0", "0"]
        assert row[4] == "DataException"
        assert row[5].startswith("[bold]boom[/bold] ") and "\x1b" not in row[5]
        assert row[7] == "2026-01-01 00:00:00" and row[9] == "0,2"
        origin = [cell.plain for cell in table.get_row("cccccccccc")]
        assert origin[4] == "(no error headers)" and origin[6] == "legacy"
