"""The commands that open no DLQ session: `dlq-tui produce --from FILE.jsonl TOPIC` and
`dlq-tui help [TOPIC]`. `cli.main` hands them over here; exit codes as there (0 done, 1 failed,
2 usage)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from pydantic_settings import SettingsError as SourceError

from dlq_tui import __version__
from dlq_tui.kafka.connection import DlqError
from dlq_tui.settings import SettingsError, resolve_connection

__all__ = ["MORE_COMMANDS", "main_more"]

MORE_COMMANDS = ("produce", "help", "demo-offline")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _produce_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlq-tui produce",
        description="Produce records exported by `dlq-tui print --format jsonl` (or the app's export) "
        "to TOPIC again, byte-exact: key, value, headers and timestamp.",
    )
    parser.add_argument("topic", metavar="TOPIC", help="where the records go")
    parser.add_argument(
        "--from",
        dest="input",
        metavar="FILE",
        required=True,
        help="a JSONL file of dlq-tui JSON records (v1); - reads standard input",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check the file and the topic; produce nothing"
    )
    parser.add_argument(
        "--partition",
        choices=["keep", "key"],
        default="keep",
        help="keep: each record to its partition number (default); key: the producer's default partitioner",
    )
    conn = parser.add_argument_group("connection (as the other commands)")
    conn.add_argument("-b", "--bootstrap-servers", metavar="HOSTS", help="Kafka bootstrap servers")
    for flags, dest, meta, text in (
        (("-o", "--property"), "properties", "KEY=VALUE", "client property (Java names)"),
        (("-O", "--properties-file"), "properties_files", "FILE", "Java .properties file"),
        (("-c", "--consumer-property"), "consumer_properties", "KEY=VALUE", "accepted as elsewhere; unused"),
        (("-C", "--consumer-properties-file"), "consumer_files", "FILE", "accepted as elsewhere; unused"),
        (("-p", "--producer-property"), "producer_properties", "KEY=VALUE", "producer property"),
        (("-P", "--producer-properties-file"), "producer_files", "FILE", "producer .properties file"),
    ):
        conn.add_argument(*flags, dest=dest, action="append", default=[], metavar=meta, help=text)
    cfg = parser.add_argument_group("configuration")
    cfg.add_argument("--profile", metavar="NAME", help="named cluster profile from the config file")
    cfg.add_argument("--config", metavar="FILE", help="config file")
    cfg.add_argument("-v", "--verbose", action="count", default=0, help="log more; show tracebacks")
    parser.add_argument("--version", action="version", version=f"dlq-tui {__version__}")
    # What `settings_from_args` reads and produce has no option for.
    parser.set_defaults(
        group=None,
        from_beginning=None,
        tombstones=None,
        keep_timestamp=None,
        read_only=None,
        journal=None,
        avro=False,
        avro_key=False,
        key_format=None,
        value_format=None,
        transactional_id=None,
    )
    return parser


def _produce(argv: list[str], out: TextIO) -> int:
    from dlq_tui.cli import _validation_summary, settings_from_args
    from dlq_tui.produce import InputFileError, produce_file

    parser = _produce_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    logging.getLogger("aiokafka").propagate = bool(args.verbose)
    warnings: list[str] = []

    def progress(done: int, total: int) -> None:
        if total >= 50_000 and sys.stderr.isatty():
            print(f"\r{done} of {total} records acknowledged", end="", file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        try:
            settings = settings_from_args(args)
            kafka = resolve_connection(settings, warn=warnings).kafka
            for w in warnings:
                print(f"dlq-tui: warning: {w}", file=sys.stderr)
            path = _input_path(args.input, stack)
            report = asyncio.run(
                produce_file(
                    kafka,
                    path,
                    args.topic,
                    keep_partition=args.partition == "keep",
                    dry_run=args.dry_run,
                    progress=progress,
                )
            )
        except InputFileError as exc:
            print(f"dlq-tui: {exc} (nothing was produced)", file=sys.stderr)
            return EXIT_USAGE
        except (SettingsError, SourceError) as exc:
            print(f"dlq-tui: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except ValidationError as exc:
            print(f"dlq-tui: invalid setting: {_validation_summary(exc)}", file=sys.stderr)
            return EXIT_USAGE
        except DlqError as exc:
            print(f"dlq-tui: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("dlq-tui: interrupted; some records may have been produced", file=sys.stderr)
            return EXIT_FAILED
    parts = ", ".join(f"{n} to partition {p}" for p, n in sorted((report.partitions or {}).items()))
    done = "would be produced (dry run: nothing written)" if args.dry_run else "produced"
    out.write(f"{report.records} records {done} to {args.topic}{': ' + parts if parts else ''}\n")
    return EXIT_OK


def _input_path(name: str, stack: contextlib.ExitStack) -> Path:
    """The input file; `-` (standard input) is first copied to a private temporary file: the file
    is read twice (checked completely before anything is sent)."""
    if name != "-":
        return Path(name)
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dlq-tui-produce-"))
    path = Path(tmp) / "stdin.jsonl"
    with path.open("wb") as f:
        shutil.copyfileobj(sys.stdin.buffer, f)
    return path


def _help(argv: list[str], out: TextIO) -> int:
    from dlq_tui.help import TOPICS, render, text

    if not argv or argv[0] in ("-h", "--help"):
        out.write("dlq-tui help TOPIC — topics: " + ", ".join(TOPICS) + "\n")
        return EXIT_OK
    topic = argv[0]
    if topic not in TOPICS or len(argv) > 1:
        print(
            f"dlq-tui help: unknown topic {' '.join(argv)!r} (topics: {', '.join(TOPICS)})", file=sys.stderr
        )
        return EXIT_USAGE
    out.write(render(text(topic), terminal=out.isatty()))
    return EXIT_OK


def _demo_offline(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dlq-tui demo-offline",
        description="The app on the demo DLQ with no Kafka and no registry (in memory; nothing is written).",
    )
    parser.add_argument("--view", choices=["groups", "records"], default="groups", help="what to open on")
    parser.add_argument("--records", type=int, default=300, metavar="N", help="ordinary demo records (300)")
    args = parser.parse_args(argv)
    from dlq_tui.demo.offline import offline_engine
    from dlq_tui.tui.app import DlqApp

    app = DlqApp(offline_engine(max(3, args.records)), first_view=args.view)
    app.run()
    return app.return_code or EXIT_OK


def main_more(argv: Sequence[str], out: TextIO | None = None) -> int:
    """Run `produce`, `help` or `demo-offline` (argv[0] names it)."""
    out = out or sys.stdout
    command, rest = argv[0], list(argv[1:])
    if command == "produce":
        return _produce(rest, out)
    if command == "demo-offline":
        return _demo_offline(rest)
    return _help(rest, out)
