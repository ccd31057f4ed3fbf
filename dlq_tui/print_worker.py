"""`print --format jsonl` on two cores: this process reads Kafka (aiokafka and the resolution
filter), a forked worker decodes, filters, formats and writes the lines.

Batches travel in order over one pipe (msgpack, encoded and decoded in C), so each partition stays
in offset order; the pipe and one batch on each side are all that is held, whatever the DLQ's
size. The worker ignores Ctrl-C and terminating signals: when this process stops (done,
interrupted, killed) the pipe closes, and the worker writes every batch it was sent, whole lines
only, before it exits. Turned off with ``DLQ_TUI_PRINT_WORKERS=0`` (default: on with 2+ CPUs).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from dlq_tui.decode.view import RecordDecoder
from dlq_tui.engine import SessionConfig, registry_client
from dlq_tui.kafka.connection import DlqError
from dlq_tui.record_json import record_line
from dlq_tui.triage.filter import parse
from dlq_tui.triage.records import RecordLike

__all__ = ["PrintWorker", "PrintWorkerError", "workers_wanted"]

WORKERS_ENV = "DLQ_TUI_PRINT_WORKERS"
CHUNK = 500  # records per message: ~0.6 MB of 1 KB records in flight on each side


def workers_wanted() -> bool:
    """Whether `print --format jsonl` hands formatting to a worker process."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if value:
        try:
            return int(value) > 0
        except ValueError:
            raise DlqError(
                f"{WORKERS_ENV} must be a number (0 turns the print worker off), not {value!r}"
            ) from None
    return (os.cpu_count() or 1) >= 2


class PrintWorkerError(DlqError):
    """The worker failed or died (the message says how)."""


class _Record(msgspec.Struct, array_like=True):
    """A record as it crosses the pipe: an array of these fields (a consumer record's others are
    dropped; tuples encode ~3x faster than dataclasses)."""

    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass(frozen=True, slots=True)
class WorkerResult:
    shown: int
    unknown: int
    reason: str | None
    error: str | None = None  # the worker failed: why
    broken_pipe: bool = False  # the reader of stdout went away


class PrintWorker:
    """The worker process; `start` before anything opens sockets or threads (it forks)."""

    def __init__(self, config: SessionConfig, where: str, out_fd: int) -> None:
        self._args = (config, where, out_fd)
        self._encoder = msgspec.msgpack.Encoder()
        self._proc: Any = None
        self._batches: Connection | None = None
        self._results: Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="print-send")
        self._sending: Future[None] | None = None
        self._final: WorkerResult | BrokenPipeError | PrintWorkerError | None = None

    def start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        batches_in, batches_out = ctx.Pipe(duplex=False)
        results_in, results_out = ctx.Pipe(duplex=False)
        sys.stdout.flush()  # nothing buffered before the fork is written twice
        sys.stderr.flush()
        self._proc = ctx.Process(
            target=_run, args=(*self._args, batches_in, batches_out, results_out), daemon=True
        )
        self._proc.start()
        batches_in.close()
        results_out.close()
        self._batches, self._results = batches_out, results_in

    async def send(self, batch: Sequence[RecordLike]) -> None:
        """Hand one batch to the worker, in messages of at most `CHUNK` records (what either
        process holds at once); waits, off the event loop, while the worker is behind."""
        assert self._batches is not None
        send = self._batches.send_bytes
        for start in range(0, len(batch), CHUNK):
            data = self._encoder.encode(
                [
                    (r.partition, r.offset, r.timestamp, r.timestamp_type, r.key, r.value, r.headers)
                    for r in batch[start : start + CHUNK]
                ]
            )
            # In a thread, so that aiokafka keeps fetching; one send at a time (order).
            self._sending = self._thread.submit(send, data)
            try:
                await asyncio.wrap_future(self._sending)
            except OSError:  # the worker is gone: finish() says why
                raise PrintWorkerError("the print worker stopped") from None

    def finish(self) -> WorkerResult:
        """Close the batch pipe, wait for the worker to write what it got, and return its counts.
        Raises `BrokenPipeError` if stdout's reader went away, `PrintWorkerError` if it failed.
        Again after the first call: the same answer."""
        if self._final is None:
            try:
                self._final = self._finish()
            except (BrokenPipeError, PrintWorkerError) as exc:
                self._final = exc
        if isinstance(self._final, BaseException):
            raise self._final
        return self._final

    def _finish(self) -> WorkerResult:
        if self._sending is not None:  # a send interrupted by Ctrl-C still completes first
            with contextlib.suppress(Exception):
                self._sending.result()
            self._sending = None
        self._thread.shutdown()
        if self._batches is not None:
            self._batches.close()
            self._batches = None
        result: WorkerResult | None = None
        if self._results is not None:
            with contextlib.suppress(EOFError, OSError):
                result = self._results.recv()
            self._results.close()
            self._results = None
        code = None
        if self._proc is not None:
            self._proc.join()
            code = self._proc.exitcode
            self._proc = None
        if result is None:
            raise PrintWorkerError(f"the print worker died (exit code {code})")
        if result.broken_pipe:
            raise BrokenPipeError
        if result.error is not None:
            raise PrintWorkerError(result.error)
        return result


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _run(
    config: SessionConfig,
    where: str,
    out_fd: int,
    batches: Connection,
    parent_end: Connection,
    results: Connection,
) -> None:
    """The worker's main: decode, filter, format and write each batch until the pipe closes."""
    parent_end.close()  # else the pipe never reports EOF
    signal.set_wakeup_fd(-1)  # the parent's event loop's, inherited
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    shown = unknown = 0
    reason: str | None = None
    try:
        registry = registry_client(config.registry_url, config.registry_user_info, config.registry_tls)
        decoder = RecordDecoder(config.key_format, config.value_format, registry, cache_size=1)
        flt = parse(where) if where else None
        decode = msgspec.msgpack.Decoder(list[_Record]).decode
        topic = config.source
        while True:
            try:
                data = batches.recv_bytes()
            except EOFError:
                break
            lines: list[bytes] = []
            for rec in decode(data):
                d = decoder.decode_uncached(rec)
                if flt is not None:
                    verdict = flt.evaluate(d)
                    if verdict is None:
                        unknown += 1
                        reason = reason or d.undecoded_reason()
                    if verdict is not True:
                        continue
                lines.append(record_line(d, topic))
            if lines:
                lines.append(b"")
                _write_all(out_fd, b"\n".join(lines))
                shown += len(lines) - 1
        result = WorkerResult(shown, unknown, reason)
    except BrokenPipeError:
        result = WorkerResult(shown, unknown, reason, broken_pipe=True)
    except BaseException as exc:  # reported by the parent
        result = WorkerResult(shown, unknown, reason, error=f"print worker: {type(exc).__name__}: {exc}")
    with contextlib.suppress(OSError):
        results.send(result)
