"""Regex filters are bounded (issue 13.6): RE2 matches in linear time, so `/.*Timeout.*Exception/`
over one 5 MB single-line value ends (Python's `re` took hours); what RE2 cannot do (backreferences,
lookaround) is a clear filter error; a scan stops soon after it is cancelled (Esc)."""

from __future__ import annotations

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.filter import FilterError, parse
from dlq_tui.triage.records import RawRecord

BIG = b"x" * (5 * 1024 * 1024)


def session_with(values: list[bytes]) -> TriageSession:
    session = TriageSession(SessionConfig(KafkaSettings("127.0.0.1:1"), source="dlq", group="g"))
    session.store.extend([RawRecord(0, i, 0, 0, b"k", v) for i, v in enumerate(values)])
    return session


@pytest.mark.timeout(120)  # a guard against a hang, not a timing assertion: quadratic `re` takes hours
def test_quadratic_regex_over_a_5mb_value_ends() -> None:
    session = session_with([BIG, b"a Timeout then an Exception"])
    assert list(session.match(parse("/.*Timeout.*Exception/"), range(2))) == [1]


def test_regex_syntax_re2_cannot_run_is_a_filter_error() -> None:
    for text in (r"/(a)\1/", "/foo(?=bar)/"):
        with pytest.raises(FilterError, match="RE2"):
            parse(text)


def test_regex_semantics_kept() -> None:
    session = session_with([b"Timeout", b"timeout", b"line1\nTimeout"])
    assert list(session.match(parse("value:/^Timeout/"), range(3))) == [0]
    assert list(session.match(parse("value:/(?i)^timeout$/"), range(3))) == [0, 1]
    assert list(session.match(parse(r"value:/\d+/"), range(3))) == [2]


def test_a_cancelled_scan_stops_within_a_few_records() -> None:
    session = session_with([BIG] * 64)
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 1  # cancelled right after the scan started

    assert len(session.match(parse("/.*Timeout.*Exception/"), range(64), cancelled=cancelled)) == 0
    assert len(asked) == 2  # it asked again after 16 records, not after 4096
