"""Producing many records in one transaction at the client's speed: records are appended to one
open batch per topic-partition (`AIOKafkaProducer.create_batch`) and each full batch is handed to
the producer (`send_batch`). One delivery future per batch instead of one `send` coroutine, one
future and one result object per record: the per-record cost of `send` was most of a large commit
(docs/performance.md, "Commit").

What the producer's `send` did per record is kept: the default partitioner (murmur2 on the key,
as Java) places records without a partition, and a record larger than `max_request_size` is
refused with the same error. Order within a topic-partition is the order of `append`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from dlq_tui.kafka.partitioning import default_partitions
from dlq_tui.triage.records import Header

DEFAULT_MAX_REQUEST_SIZE = 1048576
"""aiokafka's default `max_request_size` (Java's `max.request.size`)."""
_BATCH_OVERHEAD = DefaultRecordBatchBuilder.estimate_size_in_bytes(None, None, [])
"""A batch's own bytes (header, one empty record): `send` refuses a record when this plus the record
is over `max_request_size`."""


@dataclass
class _Open:
    """The open batch of one topic-partition, and the positions in it of records whose offsets
    the caller wants back."""

    builder: Any
    tracked: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    """A batch handed to the producer: its topic-partition, its delivery future (resolving to the
    batch's base offset) and the positions of the tracked records in it."""

    topic: str
    partition: int
    future: asyncio.Future[Any]
    tracked: tuple[int, ...]


class BulkSender:
    """Batches records per topic-partition for one transaction of `producer` (already started,
    its transaction begun). `append` is synchronous while the open batch has room; when it is
    full, `append` returns the awaitable that hands it over (it waits, as `send` does, while the
    producer still holds an earlier batch of that partition). `flush` hands over the rest;
    `deliveries` then lists every batch with its future."""

    def __init__(self, producer: AIOKafkaProducer, max_request_size: int = DEFAULT_MAX_REQUEST_SIZE) -> None:
        self._producer = producer
        self._max_record = max_request_size - _BATCH_OVERHEAD
        self._open: dict[tuple[str, int], _Open] = {}
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()
        self.deliveries: list[Delivery] = []
        self.records = 0

    async def _partitions_of(self, topic: str) -> list[int]:
        """The topic's partitions, sorted (waits for its metadata the first time, as `send`)."""
        known = self._partitions.get(topic)
        if known is None:
            known = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return known

    async def partition_for(self, topic: str, key: bytes | None) -> int:
        """The partition `send` would choose: murmur2 of the key over the topic's partitions (a
        random available one for no key)."""
        return (await self.partitions_for(topic, [key]))[0]

    async def partitions_for(self, topic: str, keys: Sequence[bytes | None]) -> list[int]:
        """`partition_for` of many keys at once (murmur2 over numpy arrays)."""
        partitions = await self._partitions_of(topic)
        keyed = [k for k in keys if k is not None]
        placed = iter(default_partitions(keyed, partitions))
        if len(keyed) == len(keys):
            return list(placed)
        available = list(self._producer.client.cluster.available_partitions_for_topic(topic) or ())
        return [
            int(self._partitioner(None, partitions, available)) if k is None else next(placed) for k in keys
        ]

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
        timestamp_ms: int | None = None,
        *,
        track: bool = False,
    ) -> Awaitable[None] | None:
        """Add a record to the open batch of (topic, partition). None, or the awaitable that hands
        over the batch it filled (the record is then the first of a new batch). `track`: report
        the record's offset (see `tracked_offsets`)."""
        slot = (topic, partition)
        open_ = self._open.get(slot)
        if open_ is None:
            open_ = self._open[slot] = _Open(self._producer.create_batch())
        header_list = headers if isinstance(headers, list) else list(headers)
        meta = open_.builder.append(timestamp=timestamp_ms, key=key, value=value, headers=header_list)
        full: _Open | None = None
        if meta is None:  # the open batch is full: a new one takes this record
            full = open_
            open_ = self._open[slot] = _Open(self._producer.create_batch())
            meta = open_.builder.append(timestamp=timestamp_ms, key=key, value=value, headers=header_list)
        if meta.size > self._max_record:
            raise MessageSizeTooLargeError(
                f"The message is {meta.size + _BATCH_OVERHEAD} bytes when serialized which is larger "
                "than the maximum request size you have configured with the max_request_size configuration"
            )
        if track:
            open_.tracked.append(meta.offset)
        self.records += 1
        return None if full is None else self._hand_over(topic, partition, full)

    async def _hand_over(self, topic: str, partition: int, batch: _Open) -> None:
        batch.builder.close()
        future = await self._producer.send_batch(batch.builder, topic, partition=partition)
        self.deliveries.append(Delivery(topic, partition, future, tuple(batch.tracked)))
        # Let the producer's sender take the batch now, while the next one fills: handing over
        # does not always yield to the event loop.
        await asyncio.sleep(0)

    async def flush(self) -> None:
        """Hand over every open batch."""
        while self._open:
            (topic, partition), batch = self._open.popitem()
            if batch.builder.record_count():
                await self._hand_over(topic, partition, batch)

    def futures(self) -> list[asyncio.Future[Any]]:
        return [d.future for d in self.deliveries]

    def tracked_offsets(self, results: Sequence[Any]) -> dict[tuple[str, int], list[int]]:
        """Per topic-partition, the offsets of the tracked records, from the deliveries' results
        (in `deliveries` order): a batch's records take consecutive offsets from its base offset."""
        out: dict[tuple[str, int], list[int]] = {}
        for delivery, result in zip(self.deliveries, results, strict=True):
            if delivery.tracked:
                base = result.offset
                out.setdefault((delivery.topic, delivery.partition), []).extend(
                    base + i for i in delivery.tracked
                )
        return out
