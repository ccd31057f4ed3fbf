"""A filter over a key or value that could not be decoded is *unknown*, not false (issue 13.4):
three-valued evaluation, so such records never match a negation; line-mode commands say how many
and merge-all/purge-all refuse them unless --allow-undecoded. "Registry down" is a registry URL
where nothing answers (the shared registry is never stopped)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dlq_tui.triage.filter import parse
from tests.stack import Rec, Stack, create_topic, kcat_read, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
DOWN_REGISTRY = "http://127.0.0.1:1"


@dataclass
class Subject:
    """A FilterSubject whose value is JSON (`fields`) or, when `undecoded`, could not be decoded."""

    fields: dict[str, str] = field(default_factory=dict)
    undecoded: bool = False
    key: str = "k1"
    partition: int = 0
    offset: int = 0
    timestamp: int = 0

    def key_text(self) -> str:
        return self.key

    def value_text(self) -> str:
        return "00000000017a" if self.undecoded else json.dumps(self.fields)

    def value_fields(self, path: str) -> list[str] | None:
        return None if self.undecoded or path not in self.fields else [self.fields[path]]

    def header_text(self, name: str) -> str | None:
        return None

    def error_text(self) -> str:
        return "java.lang.IllegalStateException: boom"

    def full_text(self) -> str:
        return f"{self.key_text()}\n{self.value_text()}\n{self.error_text()}"

    def is_undecoded(self, part: str) -> bool:
        return self.undecoded and part == "value"


POISON = Subject(undecoded=True)
WRONG = Subject({"reason": "wrong product"})
OTHER = Subject({"reason": "customer request"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("value.reason:*wrong*", None),
        ("NOT value.reason:*wrong*", None),  # the fault: "registry down" used to match this
        ("-value.reason:*wrong*", None),
        ("NOT NOT value.reason:*wrong*", None),
        ("value:customer", None),
        ("nomatch", None),  # a bare word looks at the value too
        ("k1", True),  # ... but the key matched: known
        ("key:k1 value.reason:*wrong*", None),
        ("key:other value.reason:*wrong*", False),  # AND with a false operand is false
        ("key:k1 OR value.reason:*wrong*", True),  # OR with a true operand is true
        ("key:other OR value.reason:*wrong*", None),
        ("error:*IllegalState*", True),  # DLQ headers decode without the registry
        ("partition:0 -value.reason:x", None),
        ("partition:1 -value.reason:x", False),
    ],
)
def test_unknown_propagates_three_valued(text: str, expected: bool | None) -> None:
    flt = parse(text)
    assert flt.evaluate(POISON) is expected
    assert not flt.matches(POISON) or expected is True


def test_decoded_records_stay_two_valued() -> None:
    flt = parse("NOT value.reason:*wrong*")
    assert flt.evaluate(WRONG) is False
    assert flt.evaluate(OTHER) is True
    assert parse("value.missing:*").evaluate(OTHER) is False  # a missing field is known absent


def avro_wire(schema_id: int, body: bytes) -> bytes:
    return b"\x00" + struct.pack(">i", schema_id) + body


async def seed(stack: Stack) -> tuple[str, str]:
    name = unique_name("undecoded")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(
        stack.bootstrap,
        source,
        [
            Rec(b"a1", avro_wire(1, b"\x02x")),
            Rec(b"a2", avro_wire(1, b"\x02y")),
            Rec(b"j1", b'{"reason": "wrong product"}'),
            Rec(b"j2", b'{"reason": "customer request"}'),
        ],
    )
    return source, dest


def dlq_tui(stack: Stack, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DLQ_TUI, *args[:1], "-b", stack.bootstrap, "-g", unique_name("g"), *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )


async def test_purge_all_refuses_what_the_filter_cannot_judge(stack: Stack, tmp_path: Path) -> None:
    source, _ = await seed(stack)
    where = ["--where", "NOT value.reason:*wrong*", "-c", f"schema.registry.url={DOWN_REGISTRY}"]
    refused = dlq_tui(stack, tmp_path, "purge-all", *where, "--dry-run", source)
    assert refused.returncode == 1
    assert "2 record(s) could not be decoded" in refused.stderr
    assert "--allow-undecoded" in refused.stderr
    assert "would purge" not in refused.stdout
    # The records that decoded are judged as before; with --allow-undecoded the two are taken in.
    allowed = dlq_tui(stack, tmp_path, "purge-all", *where, "--dry-run", "--allow-undecoded", source)
    assert allowed.returncode == 0, allowed.stderr
    planned = [line.split()[2] for line in allowed.stdout.splitlines() if line.startswith("would purge")]
    assert planned == ["0:0", "0:1", "0:3"]
    # Nothing was written by either.
    assert [r.key for r in kcat_read(stack.bootstrap, source)] == [b"a1", b"a2", b"j1", b"j2"]


async def test_print_says_how_many_it_left_out(stack: Stack, tmp_path: Path) -> None:
    source, _ = await seed(stack)
    result = dlq_tui(
        stack,
        tmp_path,
        "print",
        "--where=-value.reason:*wrong*",
        "--format",
        "jsonl",
        "-c",
        f"schema.registry.url={DOWN_REGISTRY}",
        source,
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["offset"] for line in result.stdout.splitlines()] == [3]
    assert "2 record(s) could not be decoded" in result.stderr and "left out" in result.stderr
