"""`--from` parsing and the choice of start offsets (no stack)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dlq_tui.cli import _attach_from_value, main
from dlq_tui.start import StartError, StartSpec, choose_starts, parse_start, plan_start

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def test_forms() -> None:
    assert parse_start("p1:33000") == StartSpec("p1:33000", offsets={1: 33000})
    assert parse_start("p0:5, p2:7").offsets == {0: 5, 2: 7}
    assert parse_start("33000") == StartSpec("33000", offset=33000)
    assert parse_start("2026-11-27T08:00").time_ms == ms(2026, 11, 27, 8, 0)
    assert parse_start("2026-11-27T08:00Z").time_ms == ms(2026, 11, 27, 8, 0)
    assert parse_start("2026-11-27T09:00+01:00").time_ms == ms(2026, 11, 27, 8, 0)
    assert parse_start("2026-11-27").time_ms == ms(2026, 11, 27)
    assert parse_start("-1h", NOW).time_ms == ms(2026, 11, 28, 8, 0)
    assert parse_start("-90m", NOW).time_ms == ms(2026, 11, 28, 7, 30)
    assert parse_start("-2d", NOW).time_ms == ms(2026, 11, 26, 9, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "needs a value"),
        ("yesterday", "is not an offset or a time"),
        ("p1:-5", "is not PARTITION:OFFSET"),
        ("p1:5,p1:6", "partition 1 is named twice"),
        ("-1y", "is not an offset or a time"),
    ],
)
def test_bad_values(text: str, message: str) -> None:
    with pytest.raises(StartError, match=message):
        parse_start(text)


def test_choose_starts_clamps_and_reads_only_named_partitions() -> None:
    parts = [0, 1, 2]
    logs = {0: 0, 1: 10, 2: 0}
    ends = {0: 100, 1: 100, 2: 50}
    assert choose_starts(parse_start("p1:5"), parts, logs, ends) == {0: 100, 1: 10, 2: 50}
    assert choose_starts(parse_start("70"), parts, logs, ends) == {0: 70, 1: 70, 2: 50}
    spec = parse_start("-1h", NOW)
    assert choose_starts(spec, parts, logs, ends, {0: 42, 1: None, 2: 3}) == {0: 42, 1: 100, 2: 3}
    with pytest.raises(StartError, match="no partition 7"):
        choose_starts(parse_start("p7:1"), parts, logs, ends)


def test_plan_start_keeps_resolution_from_the_group() -> None:
    spec = parse_start("p0:20,p1:20")
    chosen = {0: 20, 1: 20, 2: 60}
    plan = plan_start(spec, chosen, {0: 30, 1: 5, 2: 0}, {0: 0, 1: 0, 2: 0})
    assert plan.starts == {0: 30, 1: 20, 2: 60}  # never below the committed offset
    assert plan.skipped == {0: 0, 1: 15, 2: 60}
    assert plan.skips_unresolved
    assert (
        plan.note
        == "from p0:20,p1:20: up to 75 unresolved offsets before the start are not loaded; partition 2 not read"
    )
    shown = plan_start(spec, chosen, {0: 30, 1: 5, 2: 0}, {0: 0, 1: 0, 2: 0}, from_beginning=True)
    assert shown.starts == chosen
    nothing = plan_start(parse_start("0"), {0: 0}, {0: 0}, {0: 0})
    assert nothing.note == "from 0: nothing unresolved before the start" and not nothing.skips_unresolved


def test_relative_time_needs_no_equals_sign() -> None:
    assert _attach_from_value(["print", "--from", "-1h", "t"]) == ["print", "--from=-1h", "t"]
    assert _attach_from_value(["--from", "p1:3"]) == ["--from", "p1:3"]


def test_a_bad_from_is_a_usage_error_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["print", "-b", "127.0.0.1:1", "-g", "g", "--from", "soon", "dlq"]) == 2
    assert "--from 'soon' is not an offset or a time" in capsys.readouterr().err
