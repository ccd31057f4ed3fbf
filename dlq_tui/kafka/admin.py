"""Cluster facts the engine needs before it reads or writes: the cluster id, a topic's partitions and
cleanup policy, and a group's committed offsets with their metadata."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiokafka import TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import OffsetAndMetadata

from dlq_tui.kafka.connection import DlqError, KafkaSettings, describe_error

T = TypeVar("T")
RETRY_FOR_SECONDS = 30.0


async def retrying(call: Callable[[], Awaitable[T]], *, for_seconds: float = RETRY_FOR_SECONDS) -> T:
    """Retry a request while Kafka says "try again" (e.g. the group coordinator is still loading
    or moving; on a new cluster the offsets topic is created on first use)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + for_seconds
    delay = 0.1
    while True:
        try:
            return await call()
        except kafka_errors.KafkaError as exc:
            if not getattr(exc, "retriable", False) or loop.time() + delay > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


@asynccontextmanager
async def admin_client(settings: KafkaSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(**settings.admin_kwargs())
    try:
        await client.start()
    except Exception as exc:
        await client.close()
        raise DlqError(describe_error(exc)) from exc
    try:
        yield client
    finally:
        await client.close()


async def cluster_id(admin: AIOKafkaAdminClient) -> str:
    described: dict[str, Any] = await admin.describe_cluster()
    return str(described.get("cluster_id") or "unknown-cluster")


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[int]:
    """The topic's partition numbers; a clear error if it does not exist or we may not see it."""
    [described] = await admin.describe_topics([topic])
    code = described["error_code"]
    if code:
        error = kafka_errors.for_code(code)
        raise DlqError(describe_error(error(), topic=topic))
    partitions = sorted(p["partition"] for p in described["partitions"])
    if not partitions:
        raise DlqError(f"topic '{topic}' has no partitions")
    return partitions


async def cleanup_policy(admin: AIOKafkaAdminClient, topic: str) -> str:
    """The topic's `cleanup.policy` (e.g. 'delete', 'compact', 'compact,delete')."""
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    except kafka_errors.TopicAuthorizationFailedError as exc:
        raise DlqError(_describe_configs_refused(topic)) from exc
    for response in responses:
        for resource in response.resources:
            error_code, _message = resource[0], resource[1]
            if error_code:
                error = kafka_errors.for_code(error_code)()
                if isinstance(error, kafka_errors.TopicAuthorizationFailedError):
                    raise DlqError(_describe_configs_refused(topic))
                raise DlqError(describe_error(error, topic=topic))
            for entry in resource[4]:
                if entry[0] == "cleanup.policy":
                    return str(entry[1])
    return "delete"


def _describe_configs_refused(topic: str) -> str:
    return (
        f"not authorized to read the configuration of topic '{topic}' (missing ACL: DescribeConfigs "
        f"on topic '{topic}'; dlq-tui reads its cleanup.policy)"
    )


async def committed_offsets(
    admin: AIOKafkaAdminClient, group: str, topic: str, partitions: list[int]
) -> dict[int, OffsetAndMetadata]:
    """The group's committed offset and metadata per partition of `topic` (absent = none committed)."""
    tps = [TopicPartition(topic, p) for p in partitions]
    try:
        result: dict[TopicPartition, OffsetAndMetadata] = await retrying(
            lambda: admin.list_consumer_group_offsets(group, partitions=tps)
        )
    except kafka_errors.GroupAuthorizationFailedError as exc:
        raise DlqError(describe_error(exc, group=group)) from exc
    return {tp.partition: om for tp, om in result.items() if tp.topic == topic and om.offset >= 0}
