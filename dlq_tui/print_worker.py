"""`print --format jsonl` on several cores, split by partition: N forked worker processes, worker
i reading (its own consumer), decoding, filtering, formatting and writing the partitions p with
p % N == i, exactly as one process does for all of them.

Forked before anything connects. Each worker writes whole-line chunks to the shared stdout under
one lock, so lines never interleave and each partition stays in offset order (one worker writes
it, in order). Workers report to this process over a pipe (the start note, then their counts or
their error); it prints the stderr lines of one process, once, and the worst outcome. Workers
ignore Ctrl-C and terminating signals: they stop at the next batch, whole lines only, when this
process ends or closes their control pipe (done with an error, interrupted, killed). Turned off
with ``DLQ_TUI_PRINT_WORKERS=0`` (default: min(2, CPUs) workers; one CPU: one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from dlq_tui.decode.view import RecordDecoder
from dlq_tui.display import undecoded_text
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import DlqError
from dlq_tui.print_filter import StreamFilter
from dlq_tui.record_json import record_line

__all__ = ["PrintWorkerError", "print_split", "workers_wanted"]

WORKERS_ENV = "DLQ_TUI_PRINT_WORKERS"
DEFAULT_WORKERS = 2
LINES_PER_WRITE = 1000  # ~1.3 MB of 1 KB records under the lock at once


def workers_wanted() -> int:
    """How many worker processes `print --format jsonl` splits the partitions among: min(CPUs,
    `DLQ_TUI_PRINT_WORKERS` or 2); 0 when that is below 2 (then it runs in one process)."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    wanted = DEFAULT_WORKERS
    if value:
        try:
            wanted = int(value)
        except ValueError:
            wanted = -1
        if wanted < 0:
            raise DlqError(
                f"{WORKERS_ENV} must be a whole number of processes (0 keeps print in one process), "
                f"not {value!r}"
            )
    n = min(os.cpu_count() or 1, wanted)
    return n if n >= 2 else 0


class PrintWorkerError(DlqError):
    """A worker failed or died (the message says how)."""


@dataclass(frozen=True, slots=True)
class WorkerResult:
    shown: int = 0
    unknown: int = 0
    reason: str | None = None
    error: str | None = None  # the worker failed: why (a clear message)
    broken_pipe: bool = False  # the reader of stdout went away
    stopped: bool = False  # told to stop before the end


class _Stopped(Exception):
    """This process's control pipe closed: stop, whole lines only."""


class _Lock(Protocol):
    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...
    def release(self) -> None: ...


@dataclass
class _Worker:
    proc: Any
    control: Connection | None  # this end is never written: closing it tells the worker to stop
    results: Connection
    note_sent: bool = False
    result: WorkerResult | None = None
    ended: bool = False


async def print_split(config: SessionConfig, where: str, out_fd: int, n: int) -> int:
    """Print as JSON lines to `out_fd` with `n` worker processes, each its share of partitions.
    Raises `BrokenPipeError` when stdout's reader went away, `DlqError` (one message) when a
    worker failed."""
    ctx = multiprocessing.get_context("fork")
    lock = ctx.Lock()
    pipes = [(ctx.Pipe(duplex=False), ctx.Pipe(duplex=False)) for _ in range(n)]
    sys.stdout.flush()  # nothing buffered before the fork is written twice
    sys.stderr.flush()
    # The imported modules' objects stay out of the collector's passes: its writes would copy
    # their pages into each worker (the Python docs' advice for forking servers).
    gc.freeze()
    workers: list[_Worker] = []
    try:
        for i, ((control_r, control_w), (results_r, results_w)) in enumerate(pipes):
            others = [c for j, pair in enumerate(pipes) if j != i for p in pair for c in p]
            share = dataclasses.replace(config, partition_share=(n, i))
            proc = ctx.Process(
                target=_run,
                args=(share, where, out_fd, lock, control_r, results_w, [control_w, results_r, *others]),
                daemon=True,
                name=f"dlq-tui-print-{i}",
            )
            proc.start()
            workers.append(_Worker(proc, control_w, results_r))
        for (control_r, _), (_, results_w) in pipes:
            control_r.close()
            results_w.close()
        await _collect(workers)
    finally:
        _stop_all(workers)
        for w in workers:
            w.proc.join()
        for (control_r, control_w), (results_r, results_w) in pipes:
            for conn in (control_r, control_w, results_r, results_w):
                conn.close()  # a second close does nothing
    return _outcome(workers)


def _stop_all(workers: list[_Worker]) -> None:
    for w in workers:
        if w.control is not None:
            w.control.close()
            w.control = None


async def _collect(workers: list[_Worker]) -> None:
    """Read every worker's messages until each pipe ends; print the start note once; on the first
    failure tell the others to stop."""
    loop = asyncio.get_running_loop()
    all_ended: asyncio.Future[None] = loop.create_future()
    noted = False

    def ready(w: _Worker) -> None:
        nonlocal noted
        try:
            message = w.results.recv()
        except (EOFError, OSError):
            loop.remove_reader(w.results.fileno())
            w.ended = True
            if w.result is None or w.result.error or w.result.broken_pipe:
                _stop_all(workers)
            if all(x.ended for x in workers) and not all_ended.done():
                all_ended.set_result(None)
            return
        if isinstance(message, WorkerResult):
            w.result = message
        elif not noted and message:  # the start note (the same in every worker)
            noted = True
            print(f"dlq-tui: {message}", file=sys.stderr)

    for w in workers:
        loop.add_reader(w.results.fileno(), ready, w)
    try:
        await all_ended
    finally:
        for w in workers:
            if not w.ended:
                loop.remove_reader(w.results.fileno())


def _outcome(workers: list[_Worker]) -> int:
    """The worst of the workers' outcomes: a death, then an error, then a broken pipe."""
    for w in workers:
        if w.result is None:
            raise PrintWorkerError(f"the print worker died (exit code {w.proc.exitcode})")
    results = [w.result for w in workers if w.result is not None]
    for r in results:
        if r.error is not None:
            raise PrintWorkerError(r.error)
    if any(r.broken_pipe for r in results):
        raise BrokenPipeError
    unknown = sum(r.unknown for r in results)
    if unknown:
        reason = next((r.reason for r in results if r.reason), None)
        print(f"dlq-tui: {undecoded_text(unknown, reason)}; left out", file=sys.stderr)
    return 0


# -- in the worker ----------------------------------------------------------------------------------


def _run(
    config: SessionConfig,
    where: str,
    out_fd: int,
    lock: _Lock,
    control: Connection,
    results: Connection,
    close: list[Connection],
) -> None:
    """A worker's main: print its share of partitions, then report."""
    for conn in close:  # the parent's ends and the other workers' (else no pipe reports EOF)
        conn.close()
    signal.set_wakeup_fd(-1)  # the parent's event loop's, inherited
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    tally = WorkerResult()
    try:
        # The parent's running loop is not this process's: asyncio checks the pid.
        tally = asyncio.run(_print_share(config, where, out_fd, lock, control, results))
    except BrokenPipeError:
        tally = dataclasses.replace(tally, broken_pipe=True)
    except DlqError as exc:
        tally = dataclasses.replace(tally, error=str(exc))
    except BaseException as exc:  # reported by the parent
        tally = dataclasses.replace(tally, error=f"print worker: {type(exc).__name__}: {exc}")
    with contextlib.suppress(OSError):
        results.send(tally)


async def _print_share(
    config: SessionConfig, where: str, out_fd: int, lock: _Lock, control: Connection, results: Connection
) -> WorkerResult:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def stopped() -> None:  # the control pipe is only ever readable at its end, then for good
        loop.remove_reader(control.fileno())
        stop.set()

    loop.add_reader(control.fileno(), stopped)
    stream_filter = StreamFilter(where)
    topic = config.source
    shown = 0
    session = TriageSession(config)
    try:
        await session.open()
        results.send(session.start_note)
        decoder = RecordDecoder(config.key_format, config.value_format, session.registry, cache_size=1)
        async for batch in session.stream():
            if stop.is_set():
                return WorkerResult(shown, stream_filter.unknown, stream_filter.reason, stopped=True)
            lines: list[bytes] = []
            for rec in batch:
                d = decoder.decode_uncached(rec)
                if stream_filter.keeps(d):
                    lines.append(record_line(d, topic))
            for start in range(0, len(lines), LINES_PER_WRITE):
                chunk = lines[start : start + LINES_PER_WRITE]
                chunk.append(b"")
                _write_locked(out_fd, b"\n".join(chunk), lock, control)
                shown += len(chunk) - 1
        return WorkerResult(shown, stream_filter.unknown, stream_filter.reason)
    except _Stopped:
        return WorkerResult(shown, stream_filter.unknown, stream_filter.reason, stopped=True)
    finally:
        loop.remove_reader(control.fileno())
        await session.close()


def _write_locked(fd: int, data: bytes, lock: _Lock, control: Connection) -> None:
    """Write `data` whole, holding the shared lock (no other worker's line comes in between)."""
    while not lock.acquire(timeout=0.2):
        if control.poll():  # stopped, perhaps because a worker died holding the lock
            raise _Stopped
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        lock.release()
