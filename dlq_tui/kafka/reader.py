"""The snapshot reader: all partitions of the source assigned (no group join), `read_committed`,
from given start offsets up to the last stable offset captured at open; optionally following new
records afterwards. It yields batches of `RawRecord`s and keeps honest per-partition progress
(offsets have gaps: transaction markers, aborted records, compaction)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from dlq_tui.kafka.connection import DlqError, KafkaSettings, describe_error
from dlq_tui.triage.records import RecordLike


@dataclass
class PartitionProgress:
    """Reading progress of one partition. `end` is the snapshot end (exclusive); in follow mode it
    moves forward as new records are seen."""

    partition: int
    start: int
    end: int
    position: int
    log_start: int = 0
    records: int = 0

    @property
    def done(self) -> bool:
        return self.position >= self.end

    @property
    def offsets_total(self) -> int:
        return max(0, self.end - self.start)

    @property
    def offsets_read(self) -> int:
        return max(0, min(self.position, self.end) - self.start)


class SnapshotReader:
    """Reads `topic` from `start_offsets` (None = earliest) to the snapshot end."""

    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        partitions: list[int],
        start_offsets: dict[int, int] | None = None,
        *,
        batch_records: int = 10_000,
    ) -> None:
        self.topic = topic
        self._settings = settings
        self._tps = [TopicPartition(topic, p) for p in partitions]
        self._requested_starts = dict(start_offsets or {})
        self.batch_records = batch_records
        """Records per `getmany` (the app's load lowers it: unpacking a fetch blocks the event loop)."""
        self._consumer: AIOKafkaConsumer | None = None
        self.progress: dict[int, PartitionProgress] = {}

    async def open(self) -> dict[int, PartitionProgress]:
        """Connect, assign, take the snapshot (LSO per partition) and seek to the start offsets."""
        if not self._tps:  # nothing to read (a print worker whose share of partitions is empty)
            return self.progress
        consumer = AIOKafkaConsumer(**self._settings.consumer_kwargs())
        try:
            await consumer.start()
            consumer.assign(self._tps)
            beginnings = await consumer.beginning_offsets(self._tps)
            ends = await consumer.end_offsets(self._tps)  # read_committed: the last stable offset
        except Exception as exc:
            await consumer.stop()
            raise DlqError(describe_error(exc, topic=self.topic)) from exc
        for tp in self._tps:
            first = beginnings[tp]
            # A committed offset below the log start (retention deleted records) starts at the log start.
            start = max(first, self._requested_starts.get(tp.partition, first))
            end = ends[tp]
            consumer.seek(tp, start)
            self.progress[tp.partition] = PartitionProgress(tp.partition, start, end, start, log_start=first)
            if start >= end:
                consumer.pause(tp)
        self._consumer = consumer
        return self.progress

    @property
    def snapshot_done(self) -> bool:
        return all(p.done for p in self.progress.values())

    async def batches(
        self, *, follow: bool = False, idle_timeout_ms: int = 500
    ) -> AsyncIterator[list[RecordLike]]:
        """Yield record batches until the snapshot is read; with `follow`, keep yielding new records
        (an empty batch now and then tells the caller that nothing new arrived)."""
        consumer = self._consumer
        if consumer is None:
            if not self._tps:
                return
            raise RuntimeError("open() first")
        following = False
        while True:
            if not following and self.snapshot_done:
                if not follow:
                    return
                following = True
                # Records past the snapshot end that came in the last fetches were dropped: read
                # them again from there.
                for tp in self._tps:
                    consumer.seek(tp, self.progress[tp.partition].position)
                consumer.resume(*self._tps)
            try:
                fetched = await consumer.getmany(timeout_ms=idle_timeout_ms, max_records=self.batch_records)
            except Exception as exc:
                raise DlqError(describe_error(exc, topic=self.topic)) from exc
            batch: list[RecordLike] = []
            counts: dict[int, int] = {}
            for tp, records in fetched.items():
                limit = None if following else self.progress[tp.partition].end
                if limit is not None and records and records[-1].offset >= limit:
                    records = [r for r in records if r.offset < limit]
                # aiokafka's records carry exactly the fields of a RawRecord; the store copies
                # their bytes, so they are passed on as they are.
                batch.extend(records)
                counts[tp.partition] = len(records)
            positions = {tp: await consumer.position(tp) for tp in self._tps}
            if batch or following:
                yield batch
            # Progress moves only once the caller has stored the batch: a commit in between must
            # not take records it has not stored yet for gaps in the log.
            for tp, position in positions.items():
                progress = self.progress[tp.partition]
                progress.records += counts.get(tp.partition, 0)
                if following:
                    progress.position = position
                    progress.end = max(progress.end, position)
                else:
                    progress.position = min(position, progress.end)
                    if progress.done and tp not in consumer.paused():
                        consumer.pause(tp)

    async def end_offsets(self) -> dict[int, int]:
        """The current last stable offset of every partition (the snapshot is not changed)."""
        if self._consumer is None:
            raise RuntimeError("open() first")
        ends = await self._consumer.end_offsets(self._tps)
        return {tp.partition: end for tp, end in ends.items()}

    async def refresh_end(self) -> None:
        """In follow mode: move each partition's `end` to the current last stable offset."""
        if self._consumer is None:
            return
        ends = await self._consumer.end_offsets(self._tps)
        for tp, end in ends.items():
            progress = self.progress[tp.partition]
            progress.end = max(progress.end, end)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
