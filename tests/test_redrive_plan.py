"""The redrive parts of the commit plan and the commit's options, without a broker: the rate cap's
transaction split, per-destination lines, origin routing, CLI usage errors."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from dlq_tui.kafka.connection import DlqError
from dlq_tui.plan import (
    CommitPlan,
    CommitResult,
    KnownStretch,
    PartitionPlan,
    plan_lines,
    result_lines,
    transaction_batches,
)
from dlq_tui.redrive import ORIGIN_WARNING, OriginRouter, transaction_size
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord
from dlq_tui.triage.resolution import PartitionResolution

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))


def _record(partition: int, offset: int, headers: tuple[tuple[str, bytes | None], ...] = ()) -> RawRecord:
    return RawRecord(partition, offset, 0, 0, f"k{offset}".encode(), b"v", headers)


def test_rate_cap_splits_into_transactions_of_a_tenth_of_a_second() -> None:
    assert transaction_size(None) is None
    assert transaction_size(1000) == 100 and transaction_size(5) == 1
    pending = {
        0: [(_record(0, o), Decision.MERGE) for o in range(7)],
        1: [(_record(1, o), Decision.PURGE) for o in range(5)],
    }
    known = {p: KnownStretch(list(range(10)), 0, 10, 0) for p in pending}
    state = {p: PartitionResolution(0) for p in pending}
    batches = list(transaction_batches(state, pending, known, 4096, max_records=4))
    assert [len(b) for b, _ in batches] == [4, 4, 4]
    committed = {p: s.committed for _, st in batches for p, s in st.items()}
    assert committed == {0: 7, 1: 5}, "each transaction carries the offsets of what it wrote"


def test_plan_and_result_name_each_destination_and_warn_for_origin() -> None:
    plan = CommitPlan(
        source="dlq",
        destination="@origin",
        group="g",
        writes=(),
        partitions=(
            PartitionPlan(
                0, merges=3, purges=0, tombstones=0, withheld=0, committed=3, resolved_above=0, metadata=""
            ),
        ),
        tombstones_on=False,
        tombstone_reason="the source topic is not compacted",
        keep_timestamp=True,
        skipped=0,
        not_loaded=0,
        transactions=3,
        by_destination={"orders": 2, "payments": 1},
        max_rate=10,
        audit_topic="audit",
        warnings=(ORIGIN_WARNING,),
    )
    text = "\n".join(line for line, _ in plan_lines(plan))
    assert "to orders: 2" in text and "to payments: 1" in text
    assert "rate cap 10/s" in text and "to audit in the same transaction" in text
    assert "EVERY consumer group" in text
    result = "\n".join(
        line
        for line, _ in result_lines(
            CommitResult(
                merged=3, by_destination={"orders": 2, "payments": 1}, audited=3, stopped=True, remaining=4
            )
        )
    )
    assert "merged to orders: 2" in result and "3 audit records" in result
    assert "4 decisions not committed, still staged" in result


def test_origin_router() -> None:
    spring = (
        ("kafka_dlt-original-topic", b"orders"),
        ("kafka_dlt-original-partition", struct.pack(">i", 2)),
    )
    assert OriginRouter({"orders": 3})(_record(0, 1, spring)) == ("orders", None)
    assert OriginRouter({"orders": 3}, use_partition=True)(_record(0, 1, spring)) == ("orders", 2)
    with pytest.raises(DlqError, match="origin partition 2 does not exist"):
        OriginRouter({"orders": 2}, use_partition=True)(_record(0, 1, spring))
    with pytest.raises(DlqError, match="name no origin topic"):
        OriginRouter({})(_record(0, 1))


@pytest.mark.parametrize(
    "args",
    [
        ["merge-all", "-b", "127.0.0.1:1", "-g", "g", "--max-rate", "0", "dlq", "@origin"],
        ["merge-all", "-b", "127.0.0.1:1", "-g", "g", "--canary", "-1", "dlq", "@origin"],
        ["history", "-b", "127.0.0.1:1"],
    ],
)
def test_usage_errors(args: list[str], tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([DLQ_TUI, *args], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2, result.stderr
    assert "dlq-tui" in result.stderr


def test_redrive_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pydantic import ValidationError

    from dlq_tui.settings import Settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("DLQ_TUI_MAX_RATE", "250")
    monkeypatch.setenv("DLQ_TUI_AUDIT_TOPIC", "dlq-audit")
    monkeypatch.setenv("DLQ_TUI_OPERATOR", "oncall@bastion")
    settings = Settings()
    assert (settings.max_rate, settings.audit_topic, settings.operator) == (
        250,
        "dlq-audit",
        "oncall@bastion",
    )
    monkeypatch.setenv("DLQ_TUI_MAX_RATE", "-1")
    with pytest.raises(ValidationError):
        Settings()
