"""`dlq-tui produce --from FILE.jsonl TOPIC`: produce records of the JSON record format (v1) again,
byte-exact — key, value, headers (order and repeated names kept) and timestamp — e.g. to move DLQ
records to another cluster or into a test environment.

The file is checked completely before anything is sent: a bad line writes nothing. Partitions are
kept by default (record order within a partition survives); `keep_partition=False` leaves the choice
to the producer's default partitioner (by key)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer

from dlq_tui.kafka.admin import admin_client, topic_partitions
from dlq_tui.kafka.connection import DlqError, KafkaSettings, describe_error
from dlq_tui.record_json import RecordJsonError, StoredRecord, parse_line

__all__ = ["InputFileError", "ProduceReport", "check_file", "produce_file", "read_records"]

# Sends in flight before waiting for their acknowledgements (bounded memory on big files).
_WINDOW = 5_000
# Files up to this size are parsed once and kept in memory; bigger ones are read again to send.
KEEP_IN_MEMORY_BYTES = 64 * 1024 * 1024


class InputFileError(ValueError):
    """The input file cannot be read or holds a record that is not valid (nothing was produced)."""


@dataclass
class ProduceReport:
    records: int = 0
    partitions: dict[int, int] | None = None
    """Records produced per partition of the destination."""


def read_records(path: Path) -> Iterator[tuple[int, StoredRecord]]:
    """(line number, record) for every non-empty line of `path`; `InputFileError` names the line."""
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield number, parse_line(line)
                except RecordJsonError as exc:
                    raise InputFileError(f"{path}:{number}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def check_file(path: Path, *, keep: bool = False) -> tuple[dict[int, int], list[StoredRecord] | None]:
    """Read the whole file once: the number of records per partition they name, and (with `keep`)
    the records, so that a file that fits in memory is not parsed twice."""
    counts: dict[int, int] = {}
    kept: list[StoredRecord] | None = [] if keep else None
    for _, record in read_records(path):
        counts[record.partition] = counts.get(record.partition, 0) + 1
        if kept is not None:
            kept.append(record)
    return counts, kept


async def produce_file(
    settings: KafkaSettings,
    path: Path,
    topic: str,
    *,
    keep_partition: bool = True,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ProduceReport:
    """Produce every record of `path` to `topic` (idempotent producer, acks=all, in file order).
    Raises `InputFileError` before connecting if the file is bad, `DlqError` for Kafka trouble.
    With `dry_run` the file and the topic are checked and nothing is produced (the report says
    what would be, per partition where partitions are kept)."""
    try:
        small = path.stat().st_size <= KEEP_IN_MEMORY_BYTES
    except OSError:
        small = False  # read_records reports it
    counts, kept = await asyncio.to_thread(check_file, path, keep=small)
    total, highest = sum(counts.values()), max(counts, default=-1)
    async with admin_client(settings) as admin:
        try:
            partitions = await topic_partitions(admin, topic)
        except DlqError:
            raise
        except Exception as exc:
            raise DlqError(describe_error(exc, topic=topic)) from exc
    if keep_partition and highest >= len(partitions):
        raise DlqError(
            f"the file has records of partition {highest} but '{topic}' has {len(partitions)} partition(s): "
            "create it with more partitions, or use --partition key to let the producer choose"
        )
    if dry_run:
        return ProduceReport(total, dict(counts) if keep_partition else None)
    report = ProduceReport(partitions={})
    producer = AIOKafkaProducer(**settings.producer_kwargs())
    try:
        await producer.start()
        pending: list[asyncio.Future[object]] = []
        for record in kept if kept is not None else (r for _, r in read_records(path)):
            pending.append(
                await producer.send(
                    topic,
                    record.value,
                    key=record.key,
                    partition=record.partition if keep_partition else None,
                    headers=list(record.headers),
                    timestamp_ms=record.timestamp,
                )
            )
            if len(pending) >= _WINDOW:
                await _settle(pending, report)
                if progress is not None:
                    progress(report.records, total)
        await _settle(pending, report)
        if progress is not None:
            progress(report.records, total)
    except DlqError:
        raise
    except Exception as exc:
        raise DlqError(
            f"{describe_error(exc, topic=topic)} ({report.records} of {total} records acknowledged before)"
        ) from exc
    finally:
        await producer.stop()
    return report


async def _settle(pending: list[asyncio.Future[object]], report: ProduceReport) -> None:
    for metadata in await asyncio.gather(*pending):
        report.records += 1
        p = getattr(metadata, "partition", -1)
        assert report.partitions is not None
        report.partitions[p] = report.partitions.get(p, 0) + 1
    pending.clear()
