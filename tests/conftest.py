"""Shared fixtures. Tests that touch Kafka use the real local stack (compose/stack): a running one
is reused, otherwise the session starts it and stops it at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.stack import Stack, ensure_stack


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
