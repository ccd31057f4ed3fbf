"""After the registry comes back, records decode without a reload (issue 13.4): the engine tries the
failed schemas again, against the real registry behind a proxy that first answers 500."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dlq_tui import engine as engine_module
from dlq_tui.decode.registry import SchemaRegistry
from dlq_tui.decode.wire import wire_schema_id
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from tests.stack import Stack, unique_name
from tests.test_faults_registry import registry_proxy


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


async def test_records_decode_once_the_registry_answers_again(
    stack: Stack, topic_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlq_tui.demo.__main__ import seed

    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 6, dlq_topic=source, retry_topic=dest, quiet=True)
    # A short failure cache, so the test need not wait the default 30 s before a retry is due.
    monkeypatch.setattr(
        engine_module, "registry_client", lambda url, _user, _tls: SchemaRegistry(url, negative_ttl=0.3)
    )
    path = stack.registry_url.removeprefix(stack.registry_root)
    with registry_proxy(stack.registry_root, "500") as proxy:
        cfg = SessionConfig(
            kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
            source=source,
            destination=dest,
            group=unique_name("g"),
            registry_url=proxy.root + path,
        )
        session = TriageSession(cfg)
        await session.open()
        try:
            await session.load_all()
            rows = list(session.visible_rows())
            await session.prefetch(range(len(session.store)))
            avro = [r for r in rows if wire_schema_id(session.store.value_at(r)) is not None]
            assert avro and all(session.decoded(r).value.kind == "hex" for r in avro)
            assert not await session.retry_schemas(), "still failing: nothing new"
            proxy.mode = "pass"  # the registry is back
            deadline = time.monotonic() + 10
            while not await session.retry_schemas():
                assert time.monotonic() < deadline, "the failed schemas were not tried again"
            kinds = [(session.decoded(r).value.kind, session.decoded(r).value.error) for r in avro]
            # All decode now, but the demo's poison record, whose bytes are not valid for its schema.
            assert all(k == "avro" or "not valid Avro" in (e or "") for k, e in kinds), kinds
            assert sum(k == "avro" for k, _ in kinds) == len(kinds) - 1
        finally:
            await session.close()
