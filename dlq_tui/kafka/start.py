"""Where a `--from` start lands in Kafka: log start and end offsets, and offsets-for-times for a
time, read with a short-lived consumer (assigned, `read_committed`, no group)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from dlq_tui.kafka.connection import DlqError, KafkaSettings, describe_error
from dlq_tui.start import StartError, StartSpec, choose_starts

__all__ = ["start_offsets"]


async def start_offsets(
    settings: KafkaSettings, topic: str, partitions: list[int], spec: StartSpec
) -> tuple[dict[int, int], dict[int, int]]:
    """(first offset to read, log start offset) per partition for `spec`. Raises `DlqError`
    for a partition the topic lacks and for Kafka trouble."""
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer = AIOKafkaConsumer(**settings.consumer_kwargs())
    try:
        await consumer.start()
        consumer.assign(tps)
        beginnings = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        found: dict[int, int | None] = {}
        if spec.time_ms is not None:
            answer = await consumer.offsets_for_times(dict.fromkeys(tps, spec.time_ms))
            found = {tp.partition: (ot.offset if ot is not None else None) for tp, ot in answer.items()}
    except Exception as exc:
        raise DlqError(describe_error(exc, topic=topic)) from exc
    finally:
        await consumer.stop()
    log_starts = {tp.partition: beginnings[tp] for tp in tps}
    try:
        chosen = choose_starts(spec, partitions, log_starts, {tp.partition: ends[tp] for tp in tps}, found)
    except StartError as exc:
        raise DlqError(str(exc)) from None
    return chosen, log_starts
