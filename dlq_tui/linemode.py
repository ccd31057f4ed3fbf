"""The line-mode commands — `ask`, `merge-all`, `purge-all`, `print` — on the same engine as the TUI.

Output is for terminals and scripts: payload text is escaped (`safe_text`), so a record cannot
drive the terminal; `print --format jsonl` writes one JSON object per record."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from typing import Any, TextIO

from dlq_tui.decode.dlq_headers import is_dlq_header
from dlq_tui.decode.formats import Decoded
from dlq_tui.decode.sanitize import one_line, safe_text
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.display import iso_ts, undecoded_text
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.committer import CommitReport
from dlq_tui.kafka.connection import DlqError
from dlq_tui.plan import CommitPlan, plan_lines, result_lines
from dlq_tui.redrive import missing_origin_message
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.filter import parse

ANSWERS = {"": Decision.MERGE, "m": Decision.MERGE, "p": Decision.PURGE, "s": Decision.SKIP}
EDIT = "e"


def describe(session: TriageSession, row: int, out: TextIO) -> None:
    """The record as `ask` and `print` show it (one block, escaped)."""
    d = session.decoded(row)
    describe_decoded(
        d, session.config.source, out, session.group_of(row) if d.dlq.source is not None else None
    )


def describe_decoded(d: DecodedRecord, source: str, out: TextIO, group: str | None = None) -> None:
    """`describe` for a decoded record of topic `source` (also one that is not stored); `group` is
    its failure group id (default: computed from its DLQ headers, as the group index does)."""
    raw = d.raw
    out.write(
        f"Record at offset #{raw.offset} in topic '{source}' (partition {raw.partition}), "
        f"{iso_ts(raw.timestamp)}\n"
    )
    out.write(f"  key:     {_text(d.key.text if raw.key is not None else '(none)', d.key.error)}\n")
    value = d.value.text if raw.value is not None else "(null)"
    out.write(f"  value:   {_text(value, d.value.error)}\n")
    if d.value.schema_id is not None:
        out.write(
            f"  schema:  id {d.value.schema_id}{' (' + d.value.subject + ')' if d.value.subject else ''}"
            f"{schema_kind(d.value)}\n"
        )
    error = d.error_text()
    if error:
        out.write(f"  error:   {one_line(safe_text(error), 300)}\n")
    dlq = d.dlq
    if dlq.original_topic is not None:
        out.write(
            f"  origin:  {safe_text(dlq.original_topic)} partition {dlq.original_partition} offset {dlq.original_offset}\n"
        )
    if dlq.source is not None:
        group_id = group if group is not None else dlq.fingerprint().id
        out.write(f"  group:   {group_id} ({dlq.convention_name})\n")
    other = [name for name, _ in raw.headers if not is_dlq_header(name)]
    if other:
        out.write(f"  headers: {', '.join(one_line(safe_text(n), 60) for n in other)}\n")


def schema_kind(part: Decoded) -> str:
    """`` PROTOBUF shop.Order`` / `` JSON OrderCanceled`` (nothing for Avro, the default)."""
    if part.schema_type in (None, "AVRO"):
        return ""
    words = [w for w in (part.schema_type, part.schema_title) if w]
    return " " + one_line(safe_text(" ".join(words)), 120) if words else ""


def _text(text: str, error: str | None) -> str:
    shown = one_line(safe_text(text), 500)
    return f"{shown}  [{one_line(safe_text(error), 200)}]" if error else shown


def as_json(d: DecodedRecord) -> dict[str, Any]:
    """The JSON of print before format v1 (kept for callers; `record_json` is the format now)."""
    raw = d.raw

    def part(decoded: Any, present: bool) -> Any:
        if not present:
            return None
        return decoded.data if decoded.structured else decoded.text

    return {
        "partition": raw.partition,
        "offset": raw.offset,
        "timestamp": raw.timestamp,
        "time": iso_ts(raw.timestamp),
        "key": part(d.key, raw.key is not None),
        "key_format": d.key.kind,
        "value": part(d.value, raw.value is not None),
        "value_format": d.value.kind,
        "schema_id": d.value.schema_id,
        "decode_error": d.value.error or d.key.error,
        "error": d.error_text() or None,
        "dlq": dict(d.dlq.fields()),
        "group": d.group_id(),
        "headers": {name: d.header_text(name) for name, _ in raw.headers},
    }


async def _open(config: SessionConfig) -> TriageSession:
    session = TriageSession(config)
    await session.open()
    await session.load_all()
    return session


def _selected(session: TriageSession, where: str) -> list[int]:
    rows = session.visible_rows()
    if not where:
        return list(rows)
    return list(session.match(parse(where), rows))


class UndecodedRefused(DlqError):
    """A bulk command's filter met records it could not judge, and --allow-undecoded was not given."""


def select(session: TriageSession, where: str, command: str, allow_undecoded: bool) -> list[int]:
    """The rows a command works on. Records whose match depends on a key or value that could not
    be decoded are said (stderr) and left out; a bulk command refuses to run on such a selection
    (nothing decided) unless `allow_undecoded`, which takes them in."""
    rows = session.visible_rows()
    if not where:
        return list(rows)
    result = session.match_with_unknown(parse(where), rows)
    if not result.unknown:
        return list(result.matched)
    what = undecoded_text(len(result.unknown), result.reason)
    if allow_undecoded:
        print(f"dlq-tui: {what}; included (--allow-undecoded)", file=sys.stderr)
        return sorted([*result.matched, *result.unknown])
    if command in ("merge-all", "purge-all"):
        raise UndecodedRefused(
            f"{what}; nothing was decided. Make them decodable (is the schema registry reachable?), "
            "narrow the filter with partition/offset/key terms, or pass --allow-undecoded to decide "
            "on them too"
        )
    print(f"dlq-tui: {what}; left out (--allow-undecoded takes them in)", file=sys.stderr)
    return list(result.matched)


def print_report(report: CommitReport, skipped: int, out: TextIO) -> None:
    """What a commit wrote, in the words the app uses too (`plan.result_lines`)."""
    for line, _tone in result_lines(report.result(skipped)):
        out.write(line + "\n")


async def _confirm_tombstone_merge(out: TextIO) -> bool:
    """The separate confirmation a tombstone merge takes: it is a deletion, not a failed record."""
    out.write(
        "This record is a tombstone (null value): merged, it deletes its key from a compacted "
        "destination. Type 'merge tombstone' to merge it anyway: "
    )
    out.flush()
    return (await readline()).strip().lower() == "merge tombstone"


def _key_text(key: bytes | None) -> str:
    return one_line(safe_text(key.decode("utf-8", "replace")), 60) if key is not None else "(none)"


def print_plan(plan: CommitPlan, out: TextIO, canary: int = 0) -> None:
    """`--dry-run`: each write the commit would make, then the plan's summary (the same object and
    words as the app's review screen)."""
    for w in plan.writes:
        key = _key_text(w.key)
        where = f"{w.partition}:{w.offset}"
        if w.decision is Decision.MERGE:
            out.write(f"would merge     {where} key {key} -> {w.destination or plan.destination}\n")
        else:
            out.write(f"would purge     {where} key {key}\n")
        if w.tombstone == "write":
            out.write(f"would tombstone {where} key {key} -> {plan.source}\n")
        elif w.tombstone == "withheld":
            out.write(
                f"tombstone withheld {where} key {key}: a newer record with the same key is undecided\n"
            )
    for line, _tone in plan_lines(plan):
        out.write(line + "\n")
    for p in plan.partitions:
        meta = f" metadata {p.metadata}" if p.metadata else ""
        out.write(
            f"would commit    partition {p.partition} offset {p.committed}{meta} for group {plan.group}\n"
        )
    if canary and plan.merges:
        out.write(
            f"canary: the first {min(canary, plan.merges)} merge(s) in their own transaction, then watch the DLQ\n"
        )
    out.write(f"dry run: nothing written ({plan.decisions} decisions)\n")


def waiting(message: str) -> None:
    """A long wait on Kafka during a commit, said on stderr (stdout may be a pipe)."""
    print(f"dlq-tui: {message}", file=sys.stderr, flush=True)


async def commit_session(session: TriageSession, out: TextIO) -> CommitReport:
    """The session's commit as line mode runs it: fencing retries and long waits said, bounded."""

    def fenced(message: str) -> None:
        out.write(f"{message}; re-reading and retrying\n")

    return await session.commit(on_fenced=fenced, waiting=waiting)


async def commit(
    session: TriageSession, skipped: int, out: TextIO, args: argparse.Namespace | None = None
) -> int:
    """Commit what is staged (canary, rate cap and audit as configured); returns the exit status."""
    from dlq_tui.redrive_line import commit_redrive

    def fenced(message: str) -> None:
        out.write(f"{message}; re-reading and retrying\n")

    if not session.has_writes():
        out.write(f"0 merged, 0 purged, {skipped} skipped\nnothing to commit\n")
        return 0
    report, status = await commit_redrive(
        session,
        out=out,
        err=sys.stderr,
        canary=getattr(args, "canary", 0) or 0,
        canary_wait=getattr(args, "canary_wait", 60.0) or 60.0,
        on_fenced=fenced,
        waiting=waiting,
    )
    print_report(report, skipped, out)
    return 1 if report.stopped else status


async def readline() -> str:
    """A line of stdin without blocking the event loop. The reading thread is a daemon: Ctrl-C at
    the prompt ends the process at once (an executor thread would hold the exit until Enter)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(line: str | None, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(line or "")

    def read() -> None:
        try:
            line, exc = sys.stdin.readline(), None
        except Exception as error:
            line, exc = None, error
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(deliver, line, exc)

    threading.Thread(target=read, name="dlq-tui-stdin", daemon=True).start()
    return await future


async def run(
    command: str, config: SessionConfig, args: argparse.Namespace, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    read_only = command in ("print", "groups") or getattr(args, "dry_run", False)
    # `ask` journals its decisions like the TUI (a dropped SSH session loses none of them); the
    # batch commands decide and commit in one go.
    journal = command == "ask" and config.use_journal and not getattr(args, "dry_run", False)
    # `print` shows every record, tombstones too: it decides nothing, and an export is complete.
    show_tombstones = config.show_tombstones or command == "print"
    reason = getattr(args, "reason", None)
    config = SessionConfig(
        **{
            **config.__dict__,
            "use_journal": journal,
            "show_tombstones": show_tombstones,
            "reason": reason if reason is not None else config.reason,
        }
    )
    if not read_only and config.read_only:
        print("dlq-tui: --read-only: only print and --dry-run are allowed", file=sys.stderr)
        return 2
    flt_text: str = args.where
    if flt_text:
        parse(flt_text)  # a syntax error is a usage error before anything connects
    if command == "print":
        from dlq_tui.print_stream import print_streaming  # it uses this module's formatting

        return await print_streaming(config, flt_text, args.format, args.limit, out)
    session = await _open(config)
    if session.start_note:  # stderr: `print --format jsonl` output stays pure JSON
        print(f"dlq-tui: {session.start_note}", file=sys.stderr)
    try:
        rows = select(session, flt_text, command, getattr(args, "allow_undecoded", False))
        hidden = session.hidden_tombstones()
        if hidden:
            print(
                f"dlq-tui: {hidden} tombstone(s) (null values) hidden: deletions, not failed records "
                "(--show-tombstones shows them)",
                file=sys.stderr,
            )
        if command == "groups":
            from dlq_tui.linemode_groups import run_groups

            return await run_groups(session, rows, args.format, out)
        # What is printed is decoded from the registry's cache: fetch the schemas once, up front.
        await asyncio.to_thread(session.prefetch_schemas, rows)
        if command in ("merge-all", "purge-all"):
            decision = Decision.MERGE if command == "merge-all" else Decision.PURGE
            if decision is Decision.MERGE and session.to_origin:
                missing = session.rows_without_origin(rows)
                if missing:  # the whole run is refused before anything is written
                    raise DlqError(missing_origin_message(config.source, [session.rid(r) for r in missing]))
            session.decide(rows, decision)
            for notice in session.take_notices():  # e.g. tombstones left out of merge-all
                print(f"dlq-tui: {notice}", file=sys.stderr)
            if args.dry_run:
                print_plan(await asyncio.to_thread(session.commit_plan), out, getattr(args, "canary", 0) or 0)
                return 0
            return await commit(session, 0, out, args)
        return await _ask(session, rows, args, out)
    finally:
        await session.close()


async def _ask(session: TriageSession, rows: list[int], args: argparse.Namespace, out: TextIO) -> int:
    skipped = 0
    total = CommitReport()
    since_commit = 0
    if session.journal_offer:
        restored = session.restore_journal()
        out.write(
            f"restored {restored.restored} staged decision(s) of an earlier session on this DLQ "
            f"from the journal ({restored.dropped_as_resolved} dropped: resolved meanwhile); "
            "records restored as merge or purge are not asked again, skipped ones are\n"
        )
    if session.journal_note:
        out.write(f"note: {session.journal_note}\n")
    # A skip never hides a record from a later run: only restored merges and purges are not asked.
    rows = [r for r in rows if session.decision(r) in (None, Decision.SKIP)]
    if not rows:
        out.write("no unresolved records\n")
    can_edit = bool(session.config.destination)
    prompt = (
        "Merge, purge or skip? [M/p/s, e to edit, q to stop] "
        if can_edit
        else "Merge, purge or skip? [M/p/s, q to stop] "
    )
    for row in rows:
        describe(session, row, out)
        while True:
            out.write(prompt)
            out.flush()
            line = await readline()
            if not line:  # end of input: stop asking, commit what was decided
                answer = "q"
                out.write("\n")
            else:
                answer = line.strip().lower()[:1]
            if answer == "q":
                break
            if answer == EDIT and can_edit:
                from dlq_tui.redrive_line import ask_edit

                if await ask_edit(session, row, out):
                    answer = "m"
                    break
                continue
            if answer not in ANSWERS:
                out.write("please answer m, p, s or q\n")
                continue
            allow_tombstone = False
            if ANSWERS[answer] is Decision.MERGE and session.is_tombstone(row):
                allow_tombstone = await _confirm_tombstone_merge(out)
                if not allow_tombstone:
                    continue
            try:
                session.decide([row], ANSWERS[answer], allow_tombstones=allow_tombstone)
            except DlqError as exc:  # e.g. a keyless record and a compacted destination
                out.write(f"cannot do that: {exc}\n")
                continue
            break
        if answer == "q":
            break
        decision = ANSWERS[answer]
        skipped += decision is Decision.SKIP
        since_commit += decision is not Decision.SKIP
        if args.commit_every and since_commit >= args.commit_every and not args.dry_run:
            total.add(await commit_session(session, out))
            since_commit = 0
    if args.dry_run:
        print_plan(await asyncio.to_thread(session.commit_plan), out, getattr(args, "canary", 0) or 0)
        return 0
    status = 0
    if session.has_writes():
        from dlq_tui.redrive_line import commit_redrive

        report, status = await commit_redrive(
            session,
            out=out,
            err=sys.stderr,
            canary=getattr(args, "canary", 0) or 0,
            canary_wait=getattr(args, "canary_wait", 60.0) or 60.0,
            waiting=waiting,
        )
        total.add(report)
    # The run ended normally: its skips are done with (the journal keeps nothing of them), so the
    # next run asks about those records again. A run cut off keeps them all in the journal.
    session.forget_skips()
    print_report(total, skipped, out)
    return 1 if total.stopped else status
