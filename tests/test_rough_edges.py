"""Issue 13's rough edges, each small: clear messages instead of `unexpected error`, quiet exits,
escaped output, a corrupt journal kept and reported, a warning for a config file others can read."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlq_tui.cli import EXIT_OK, EXIT_USAGE, main
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import DlqError
from dlq_tui.settings import Settings, resolve_connection
from dlq_tui.triage.decisions import Decision, StagedBuffer
from dlq_tui.triage.journal import Journal
from dlq_tui.triage.records import RecordId
from tests.stack import Rec, Stack, create_topic, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
NOWHERE = ["-b", "127.0.0.1:1", "-g", "g"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "max.poll.records=-5"], "max.poll.records: expected a positive integer, got '-5'"),
        (["-p", "linger.ms=-1"], "linger.ms: expected an integer >= 0, got '-1'"),
        (["-b", "localhost:notaport"], "bootstrap servers: 'localhost:notaport' is not host:port"),
        (["-b", "a:9092,b:70000"], "bootstrap servers: 'b:70000' is not host:port"),
    ],
)
def test_bad_numbers_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["print", *NOWHERE, *args, "d"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "unexpected error" not in err


@pytest.mark.parametrize("limit", ["-1", "0", "x"])
def test_limit_must_be_positive(limit: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["print", *NOWHERE, "--limit", limit, "d"]) == EXIT_USAGE
    assert "--limit: expected a whole number >= 1" in capsys.readouterr().err


def test_corrupt_journal_is_moved_aside_and_reported(tmp_path: Path) -> None:
    journal = Journal("cluster", "group", "topic", directory=tmp_path)
    journal.load()
    buffer = StagedBuffer()
    journal.attach(buffer)
    buffer.set([RecordId(0, 5)], Decision.MERGE)
    journal.close()
    with open(journal.path, "ab") as f:
        f.write(b"not json at all\n")
    again = Journal("cluster", "group", "topic", directory=tmp_path)
    try:
        decisions = again.load()
    finally:
        again.close()
    assert again.corrupt_lines == 1 and again.moved_aside is not None
    assert again.moved_aside.read_bytes().endswith(b"not json at all\n")  # kept as it was
    assert oct(again.moved_aside.stat().st_mode & 0o777) == "0o600"
    assert [(rid.partition, rid.offset) for rid in decisions] == [(0, 5)]  # the readable part kept


def test_world_readable_config_with_a_secret_gets_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    props = tmp_path / "client.properties"
    props.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config="
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";\n'
    )
    props.chmod(0o644)
    main(["print", *NOWHERE, "-O", str(props), "d"])
    err = capsys.readouterr().err
    assert f"{props} is readable by other users and holds a credential: chmod 600 {props}" in err
    props.chmod(0o600)
    main(["print", *NOWHERE, "-O", str(props), "d"])
    assert "readable by other users" not in capsys.readouterr().err


def test_read_only_refusal_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["purge-all", *NOWHERE, "--read-only", "d"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and "--read-only" in err


async def test_print_into_a_closed_pipe_exits_quietly(stack: Stack, tmp_path: Path) -> None:
    topic = unique_name("pipe")
    await create_topic(stack.bootstrap, topic)
    await produce(stack.bootstrap, topic, [Rec(f"k{i}".encode(), b"v" * 200) for i in range(2000)])
    proc = subprocess.Popen(
        [DLQ_TUI, "print", "-b", stack.bootstrap, "-g", unique_name("g"), topic],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = await asyncio.to_thread(proc.stdout.readline)  # `| head -1`
    proc.stdout.close()
    err = await asyncio.to_thread(proc.stderr.read)
    code = await asyncio.to_thread(proc.wait, 60)
    assert first.startswith(b"Record at offset #0")
    assert code == EXIT_OK
    assert err == b""


SCRAM_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";'


async def test_wrong_sasl_mechanism_names_the_mechanism(stack: Stack) -> None:
    settings = Settings(
        bootstrap_servers=stack.sasl_bootstrap,
        group="g",
        properties={
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256",  # the listener offers PLAIN only
            "sasl.jaas.config": SCRAM_JAAS,
        },
    )
    cfg = SessionConfig(kafka=resolve_connection(settings).kafka, source=unique_name("t"), group="g")
    session = TriageSession(cfg)
    with pytest.raises(DlqError) as info:
        await session.open()
    await session.close()
    assert "SASL mechanism" in str(info.value) and "check sasl.mechanism" in str(info.value)
    assert "check -b" not in str(info.value)


async def grant_alice_describe(stack: Stack, topic: str) -> None:
    """An ACL through the protocol (aiokafka has no public call for it): alice may Describe the
    topic, nothing else."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import CreateAclsRequest

    admin = AIOKafkaAdminClient(
        bootstrap_servers=stack.sasl_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="admin",
        sasl_plain_password="admin-secret",
    )
    await admin.start()
    try:
        # resource TOPIC (2), pattern LITERAL (3), operation DESCRIBE (8), permission ALLOW (3)
        response = await admin._send_request(CreateAclsRequest(2, topic, 3, "User:alice", "*", 8, 3))
    finally:
        await admin.close()
    assert all(r[0] == 0 for r in response.creation_responses), response


async def test_missing_describe_configs_acl_names_the_operation(stack: Stack) -> None:
    topic = unique_name("acl-describe-configs")
    await create_topic(stack.bootstrap, topic)
    await grant_alice_describe(stack, topic)
    jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";'
    settings = Settings(
        bootstrap_servers=stack.sasl_bootstrap,
        group="g",
        properties={
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": jaas,
        },
    )
    session = TriageSession(SessionConfig(kafka=resolve_connection(settings).kafka, source=topic, group="g"))
    with pytest.raises(DlqError) as info:
        await session.open()
    await session.close()
    assert "DescribeConfigs" in str(info.value) and topic in str(info.value)


def test_a_transactional_id_other_than_the_default_is_warned(capsys: pytest.CaptureFixture[str]) -> None:
    main(["print", *NOWHERE, "-tmy-own-id", "the-dlq"])
    err = capsys.readouterr().err
    assert "transactional id 'my-own-id' is not this DLQ's default 'dlq-tui.g.the-dlq'" in err
    main(["print", *NOWHERE, "-tdlq-tui.g.the-dlq", "the-dlq"])
    assert "transactional id" not in capsys.readouterr().err
