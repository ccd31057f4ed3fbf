"""Safe redrive (docs/redrive.md): `@origin` routing, the redrive part of the commit plan, the
audit record of each decision, the rate cap, and the canary's watch on the DLQ.

Engine-level: no Textual, no printing. The engine builds its commit request from these; line mode
and the app render `RedrivePlan` and call `TriageSession.commit` (see `engine.py`)."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import math
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypedDict

from aiokafka import AIOKafkaConsumer, TopicPartition

from dlq_tui import __version__
from dlq_tui.decode.dlq_headers import DlqInfo, parse_dlq_headers
from dlq_tui.kafka.admin import admin_client, topic_partitions
from dlq_tui.kafka.committer import AuditSpec, CommitReport, Pacing, Route
from dlq_tui.kafka.connection import DlqError, KafkaSettings, describe_error
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import Header, RecordId, RecordLike

ORIGIN = "@origin"
"""DESTINATION meaning: each merged record goes back to the topic its DLQ headers name."""
TRANSACTIONS_PER_SECOND = 10
"""A rate-capped commit writes about a tenth of a second's worth of records per transaction."""
ORIGIN_WARNING = (
    "records merged to @origin are delivered again to EVERY consumer group of their origin topic, "
    "not only to the one that failed"
)


class RequestParts(TypedDict, total=False):
    """The redrive fields of a `CommitRequest`."""

    route: Route | None
    audit: AuditSpec | None
    pacing: Pacing | None


def dlq_info(headers: Iterable[Header]) -> DlqInfo:
    """What the DLQ headers say (every convention `decode.dlq_headers` knows)."""
    return parse_dlq_headers(headers)


def origin_of(headers: Iterable[Header]) -> str | None:
    """The origin topic named by a record's DLQ headers, or None."""
    return parse_dlq_headers(headers).original_topic or None


def describe_rid(rid: RecordId) -> str:
    return f"{rid.partition}:{rid.offset}"


def missing_origin_message(source: str, rids: Sequence[RecordId], limit: int = 20) -> str:
    """The refusal for records whose headers name no origin topic (names the records)."""
    shown = ", ".join(describe_rid(r) for r in rids[:limit])
    more = f" and {len(rids) - limit} more" if len(rids) > limit else ""
    return (
        f"{len(rids)} record(s) of '{source}' name no origin topic in their DLQ headers and cannot be "
        f"merged to {ORIGIN}: partition:offset {shown}{more} (leave them out with --where, or merge "
        "them to a named topic)"
    )


class OriginRouter:
    """The `Route` of an `@origin` commit: the origin topic from the DLQ headers; the partition is
    the default partitioner's on the key (None), or the origin partition when `use_partition`.
    `origins` are the (topic, partition) the headers name, by record id, read once before the
    transaction; a record missing there has its headers read now."""

    def __init__(
        self,
        partition_counts: Mapping[str, int],
        *,
        use_partition: bool = False,
        origins: Mapping[RecordId, tuple[str, int | None]] | None = None,
    ) -> None:
        self._counts = partition_counts
        self._use_partition = use_partition
        self._origins = origins or {}

    def __call__(self, record: RecordLike) -> tuple[str, int | None]:
        rid = RecordId(record.partition, record.offset)
        known = self._origins.get(rid)
        if known is None:
            info = parse_dlq_headers(record.headers)
            known = (info.original_topic or "", info.original_partition)
        topic, partition = known
        if not topic:  # checked before the transaction; this aborts it if it ever slips through
            raise DlqError(missing_origin_message("the DLQ", [rid]))
        if not self._use_partition:
            return topic, None
        if partition is None or not 0 <= partition < self._counts.get(topic, 0):
            raise DlqError(
                f"record {record.partition}:{record.offset}: origin partition {partition} does not exist "
                f"in '{topic}' (drop --origin-partition to use the default partitioner)"
            )
        return topic, partition


def origin_routes(
    writes: Iterable[tuple[RecordLike, Decision]],
) -> tuple[dict[RecordId, tuple[str, int | None]], list[RecordId]]:
    """The origin (topic, partition) of each merge, and the merges whose headers name no origin.
    Reads headers only: for a worker thread."""
    routes: dict[RecordId, tuple[str, int | None]] = {}
    missing: list[RecordId] = []
    for record, decision in writes:
        if decision is not Decision.MERGE:
            continue
        rid = RecordId(record.partition, record.offset)
        info = parse_dlq_headers(record.headers)
        if info.original_topic:
            routes[rid] = (info.original_topic, info.original_partition)
        else:
            missing.append(rid)
    return routes, missing


async def origin_partition_counts(kafka: KafkaSettings, topics: Iterable[str]) -> dict[str, int]:
    """Partition count of each origin topic; a clear error naming a topic that does not exist."""
    counts: dict[str, int] = {}
    async with admin_client(kafka) as admin:
        for topic in sorted(set(topics)):
            try:
                counts[topic] = len(await topic_partitions(admin, topic))
            except DlqError as exc:
                raise DlqError(f"origin topic: {exc}") from exc
            except Exception as exc:
                raise DlqError(f"origin topic: {describe_error(exc, topic=topic)}") from exc
    return counts


async def request_parts(
    kafka: KafkaSettings,
    writes: Sequence[tuple[RecordLike, Decision]],
    *,
    source: str,
    group: str,
    to_origin: bool,
    origin_partition: bool,
    audit_topic: str | None,
    operator: str | None,
    reason: str | None,
    original_digests: Mapping[RecordId, str | None],
    max_rate: float | None,
    stop: Callable[[], bool],
) -> RequestParts:
    """The redrive fields of a commit request: the `@origin` route (refusing, before anything is
    written, merges that name no origin and origin topics that do not exist), the audit records,
    and the pacing (rate cap, stop between transactions)."""
    parts: RequestParts = {}
    if to_origin:
        routes, missing = await asyncio.to_thread(origin_routes, writes)
        if missing:
            raise DlqError(missing_origin_message(source, missing))
        origins = {topic for topic, _ in routes.values()}
        counts = await origin_partition_counts(kafka, origins) if origins else {}
        parts["route"] = OriginRouter(counts, use_partition=origin_partition, origins=routes)
    if audit_topic:
        writer = AuditWriter(
            source=source, group=group, operator=operator, reason=reason, original_digests=original_digests
        )
        parts["audit"] = writer.spec(audit_topic)
    parts["pacing"] = rate_pacing(max_rate, stop=stop)
    return parts


# -- the plan --------------------------------------------------------------------------------------


class PlanFields(TypedDict, total=False):
    """The redrive fields of the commit plan (`plan.CommitPlan`), as the engine fills them."""

    by_destination: dict[str, int]
    edited: int
    max_rate: float | None
    audit_topic: str | None
    warnings: tuple[str, ...]
    error: str | None


def transaction_size(max_rate: float | None) -> int | None:
    """Merges and purges per transaction under a rate cap (None: no cap)."""
    if not max_rate:
        return None
    return max(1, math.ceil(max_rate / TRANSACTIONS_PER_SECOND))


# -- audit ------------------------------------------------------------------------------------------


def default_operator() -> str:
    """`user@host` of whoever runs dlq-tui."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (e.g. a container without passwd entry)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def sha256_hex(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


class AuditWriter:
    """Builds the audit record of each decision of one commit (an `AuditEntry`). Key: the source
    record's `topic/partition/offset`; value: one JSON object (never the payload, only digests)."""

    def __init__(
        self,
        *,
        source: str,
        group: str,
        operator: str | None = None,
        reason: str | None = None,
        original_digests: Mapping[RecordId, str | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.group = group
        self.operator = operator or default_operator()
        self.reason = reason or ""
        self.commit_id = str(uuid.uuid4())
        self._originals = original_digests or {}
        self._clock = clock

    def entry(self, record: RecordLike, decision: Decision, destination: str | None) -> tuple[bytes, bytes]:
        rid = RecordId(record.partition, record.offset)
        value_sha = sha256_hex(record.value)
        obj = {
            "decision": decision.value,
            "source_topic": self.source,
            "source_partition": record.partition,
            "source_offset": record.offset,
            "destination_topic": destination,
            "group": self.group,
            "key_sha256": sha256_hex(record.key),
            "value_sha256": value_sha,
            "edited": rid in self._originals,
            "original_value_sha256": self._originals.get(rid, value_sha),
            "operator": self.operator,
            "reason": self.reason,
            "dlq_tui_version": __version__,
            "commit_id": self.commit_id,
            "time": datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds"),
        }
        key = f"{self.source}/{record.partition}/{record.offset}".encode()
        return key, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

    def spec(self, topic: str) -> AuditSpec:
        return AuditSpec(topic, self.entry)


# -- rate ---------------------------------------------------------------------------------------------


class RatePacer:
    """`Pacing.wait` for a rate cap: the transaction that brings the total to `done + n` starts no
    earlier than `(done + n) / rate` seconds after the first began, so from the start of the commit
    no more than `rate` records per second are written."""

    def __init__(
        self, rate: float, per_transaction: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("the rate cap must be positive")
        self.rate = rate
        self.per_transaction = per_transaction
        self._clock = clock
        self._start: float | None = None

    async def __call__(self, done: int) -> None:
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + (done + self.per_transaction) / self.rate
        if due > now:
            await asyncio.sleep(due - now)  # the cap itself, not a synchronisation


def rate_pacing(max_rate: float | None, stop: Callable[[], bool] | None = None) -> Pacing | None:
    size = transaction_size(max_rate)
    if size is None or max_rate is None:
        return Pacing(stop=stop) if stop is not None else None
    return Pacing(max_per_transaction=size, wait=RatePacer(max_rate, size), stop=stop)


class RateProgress:
    """A `ProgressHook` that reports records written, rate and ETA after each transaction (at most
    about once a second) to `emit`."""

    def __init__(self, emit: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self._clock = clock
        self._start: float | None = None
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self._clock()
        if self._start is None:
            self._start = now
        if stage != "committing" or (now - self._last < 1.0 and done < total):
            return
        self._last = now
        elapsed = max(now - self._start, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else float("inf")
        eta_text = f"{eta:.0f}s" if math.isfinite(eta) else "?"
        self._emit(f"{done}/{total} written, {rate:.0f}/s, ETA {eta_text}")


# -- canary --------------------------------------------------------------------------------------------


def fingerprint(info: DlqInfo) -> str:
    """The record's failure group id (`triage.fingerprint`: root cause, normalised message, origin)."""
    return info.fingerprint().id


@dataclass(frozen=True)
class Returned:
    """A DLQ record that looks like a canary coming back."""

    partition: int
    offset: int
    key: bytes | None
    why: str  # "same key" or "same fingerprint from the same origin"

    def describe(self) -> str:
        key = self.key.decode("utf-8", "replace") if self.key is not None else "(none)"
        return f"{self.partition}:{self.offset} key {key!r} ({self.why})"


@dataclass
class CanaryOutcome:
    report: CommitReport
    """What the canary's transaction committed (nothing when no merge was staged)."""
    returned: list[Returned] = field(default_factory=list)
    """Canary records that came back to the DLQ (empty: go on with the rest)."""
    left: int = 0
    """Merges and purges still staged."""


@dataclass(frozen=True)
class CanaryWatch:
    """What identifies the canary's records if they come back to the DLQ."""

    keys: frozenset[bytes]
    fingerprints: frozenset[tuple[str, str]]  # (fingerprint, origin topic)

    @classmethod
    def of(cls, records: Iterable[RecordLike]) -> CanaryWatch:
        keys: set[bytes] = set()
        prints: set[tuple[str, str]] = set()
        for r in records:
            if r.key is not None:
                keys.add(r.key)
            info = parse_dlq_headers(r.headers)
            if info.original_topic and (info.exception_class or info.exception_message):
                prints.add((fingerprint(info), info.original_topic))
        return cls(frozenset(keys), frozenset(prints))

    def match(self, record: RecordLike) -> str | None:
        if record.value is None:  # a tombstone (e.g. ours, on a compacted DLQ) is not a failure
            return None
        if record.key is not None and record.key in self.keys:
            return "same key"
        info = parse_dlq_headers(record.headers)
        if info.original_topic and (fingerprint(info), info.original_topic) in self.fingerprints:
            return "same fingerprint from the same origin"
        return None


async def dlq_end_offsets(kafka: KafkaSettings, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """The DLQ's last stable offsets now (taken before the canary's transaction)."""
    consumer = AIOKafkaConsumer(**kafka.consumer_kwargs())
    try:
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = await consumer.end_offsets(tps)
    except Exception as exc:
        raise DlqError(describe_error(exc, topic=topic)) from exc
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def watch_dlq(
    kafka: KafkaSettings,
    topic: str,
    starts: Mapping[int, int],
    watch: CanaryWatch,
    seconds: float,
) -> list[Returned]:
    """Read the DLQ (read_committed) from `starts` for up to `seconds`; return as soon as records
    that match the canary arrive (all of that fetch), or [] when the time is up."""
    consumer = AIOKafkaConsumer(**kafka.consumer_kwargs())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in sorted(starts)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, starts[tp.partition])
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return []
            fetched = await consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000) or 1)
            found = [
                Returned(r.partition, r.offset, r.key, why)
                for records in fetched.values()
                for r in records
                if (why := watch.match(r)) is not None
            ]
            if found:
                return sorted(found, key=lambda x: (x.partition, x.offset))
    except DlqError:
        raise
    except Exception as exc:
        raise DlqError(describe_error(exc, topic=topic)) from exc
    finally:
        await consumer.stop()
