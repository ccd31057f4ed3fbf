"""Shared fixtures. Tests that touch Kafka use the real local stack (compose/stack): a running one
is reused, otherwise the session starts it and stops it at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.stack import Stack, _answers, ensure_stack

if TYPE_CHECKING:
    from tests.faultkit import PrivateStack, TcpProxy


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with ensure_stack() as running:
        yield running


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test run (the stack's data outlives test runs)."""
    from tests.stack import unique_name

    return unique_name(request.node.name)


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[object]:
    from aiokafka.admin import AIOKafkaAdminClient

    client = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches the stack (through the `stack` fixture, directly or through another
    fixture) carries the `stack` marker, so `-m "not stack"` runs with no broker and no registry."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session")
def private_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """A second Kafka of our own (own state dir and ports) that fault tests may kill and restart;
    the shared stack is never touched. Depends on `stack` for its jars (and carries its marker)."""
    from tests.faultkit import private_stack_running

    with private_stack_running(tmp_path_factory.mktemp("private-stack")) as running:
        yield running


@pytest.fixture(scope="session")
def _session_proxy(private_stack: PrivateStack) -> Iterator[TcpProxy]:
    from tests.faultkit import TcpProxy

    with TcpProxy(private_stack.proxy_port, private_stack.proxied_upstream) as proxy:
        yield proxy


@pytest.fixture
def kafka_proxy(_session_proxy: TcpProxy, private_stack: PrivateStack) -> Iterator[TcpProxy]:
    """The TCP proxy in front of the private broker (bootstrap: `private_stack.proxied_bootstrap`),
    passing traffic at the start of each test and again after it; the broker is up after each test."""
    _session_proxy.set("pass")
    yield _session_proxy
    _session_proxy.set("pass")
    if not _answers(private_stack.bootstrap):
        private_stack.start_kafka()
