"""The filter terms for failure groups: `origin:`, `exception:`, `group:` (no broker)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dlq_tui.cli import main
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.triage.filter import FilterError, parse
from dlq_tui.triage.filter_ast import Pattern, PatternKind, TextField, TextTerm
from dlq_tui.triage.records import RawRecord


@dataclass
class Subject:
    origin: str | None = None
    exception: str = ""
    group: str = ""
    partition: int = 0
    offset: int = 0
    timestamp: int = 0

    def key_text(self) -> str:
        return ""

    def value_text(self) -> str:
        return ""

    def value_fields(self, path: str) -> list[str] | None:
        return None

    def header_text(self, name: str) -> str | None:
        return None

    def error_text(self) -> str:
        return ""

    def full_text(self) -> str:
        return ""

    def origin_text(self) -> str | None:
        return self.origin

    def exception_text(self) -> str:
        return self.exception

    def group_id(self) -> str:
        return self.group


def test_terms_parse_and_print_back() -> None:
    assert parse("group:3fa9c2e1b0").ast == TextTerm(
        TextField.GROUP, Pattern(PatternKind.LITERAL, "3fa9c2e1b0")
    )
    assert parse("ORIGIN:orders-*").ast == TextTerm(TextField.ORIGIN, Pattern(PatternKind.GLOB, "orders-*"))
    assert parse("exception:Timeout").ast == TextTerm(
        TextField.EXCEPTION, Pattern(PatternKind.LITERAL, "Timeout")
    )
    for text in ("group:3fa9c2e1b0", "origin:orders-*", "-exception:/Sql.*Exception/"):
        assert parse(parse(text).text).ast == parse(text).ast


def test_bad_terms_are_clear_errors() -> None:
    with pytest.raises(FilterError, match="'origin' has no sub-fields"):
        parse("origin.topic:x")
    with pytest.raises(FilterError, match="expected a value right after 'group:'"):
        parse("group:")
    with pytest.raises(FilterError, match=r"known fields: .*exception, origin, group"):
        parse("grp:abc")


def test_matching_rules() -> None:
    s = Subject(
        origin="orders",
        exception="ListenerExecutionFailedException\njava.net.SocketTimeoutException",
        group="3fa9c2e1b0",
    )
    assert parse("origin:orders").matches(s)
    assert not parse("origin:order").matches(s), "origin: matches the whole topic"
    assert parse("origin:ORD*").matches(s)
    assert parse("exception:sockettimeout").matches(s), "exception: matches anywhere, root cause included"
    assert parse("exception:ListenerExecution*").matches(s)
    assert parse("group:3FA9C2E1B0").matches(s) and not parse("group:3fa9c2").matches(s)
    assert parse("group:3fa9*").matches(s)
    none = Subject()
    assert not parse("origin:*").matches(none) and parse("-origin:*").matches(none)
    assert not parse("exception:x").matches(none)


def test_decoded_record_answers_the_terms() -> None:
    raw = RawRecord(
        0,
        1,
        0,
        0,
        b"k",
        b"v",
        (
            ("x-original-topic", b"payments"),
            ("x-exception-fqcn", b"org.springframework.messaging.MessageHandlingException"),
            ("x-exception-message", b"amount 12 exceeds limit"),
        ),
    )
    d = DecodedRecord(raw)
    assert parse("origin:payments exception:*MessageHandling*").matches(d)
    assert parse(f"group:{d.group_id()}").matches(d)
    assert d.group_id() == d.dlq.fingerprint().id


def test_groups_command_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["groups", "--format", "xml", "-b", "127.0.0.1:1", "-g", "g", "t"]) == 2
    assert main(["groups", "-b", "127.0.0.1:1", "-g", "g", "--where", "group:", "t"]) == 2
    assert "invalid --where filter" in capsys.readouterr().err
    assert main(["groups", "--dry-run", "-b", "127.0.0.1:1", "-g", "g", "t"]) == 2, "groups never writes"
