"""SASL and ACLs against the real broker's SASL_PLAINTEXT listener (users admin and alice; ACLs
enforced, alice has none): the Java properties an engineer already has work, and a missing ACL or a
wrong password is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import DlqError
from dlq_tui.settings import Settings, resolve_connection
from dlq_tui.triage.decisions import Decision
from tests.stack import Rec, Stack, create_topic, kcat_read, produce, unique_name

JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="{user}" password="{password}";'


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def sasl_config(
    stack: Stack, user: str, password: str, source: str, dest: str | None = None
) -> SessionConfig:
    settings = Settings(
        bootstrap_servers=stack.sasl_bootstrap,
        group=unique_name("g"),
        properties={
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": JAAS.format(user=user, password=password),
        },
    )
    connection = resolve_connection(settings)
    assert settings.group is not None
    return SessionConfig(kafka=connection.kafka, source=source, destination=dest, group=settings.group)


async def test_sasl_plain_from_java_properties_merges(stack: Stack, topic_name: str) -> None:
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(b"k", b"v", headers=[("h", b"\x01")])])
    session = TriageSession(sasl_config(stack, "admin", "admin-secret", source, dest))
    await session.open()
    try:
        await session.load_all()
        session.decide(session.visible_rows(), Decision.MERGE)
        report = await session.commit()
    finally:
        await session.close()
    assert report.merged == 1
    [copy] = kcat_read(stack.bootstrap, dest)
    assert (copy.key, copy.value, copy.headers) == (b"k", b"v", [("h", b"\x01")])


async def test_missing_acl_is_one_clear_line(stack: Stack, topic_name: str) -> None:
    await create_topic(stack.bootstrap, topic_name)
    session = TriageSession(sasl_config(stack, "alice", "alice-secret", topic_name))
    with pytest.raises(DlqError) as info:
        await session.open()
    await session.close()
    assert str(info.value) == f"not authorized to access topic '{topic_name}' (missing ACL)"


async def test_wrong_password_says_credentials_were_refused(stack: Stack, topic_name: str) -> None:
    session = TriageSession(sasl_config(stack, "alice", "not-her-password", topic_name))
    with pytest.raises(DlqError, match="refused the credentials") as info:
        await session.open()
    await session.close()
    assert "not-her-password" not in str(info.value)
