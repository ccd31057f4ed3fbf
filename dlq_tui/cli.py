"""`dlq-tui [OPTIONS] SOURCE [DESTINATION]` opens the TUI; `ask`, `merge-all`, `purge-all` and
`print` are the line-mode commands. kafka-merge-purge's options keep their letters and meaning.
Exit codes: 0 done, 1 failed, 2 usage."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError as SourceError

from dlq_tui import __version__, redact
from dlq_tui.cli_more import MORE_COMMANDS, main_more
from dlq_tui.engine import SessionConfig
from dlq_tui.files import exposed_secret, private_file
from dlq_tui.kafka.committer import transactional_id_for
from dlq_tui.kafka.connection import DlqError
from dlq_tui.redrive_cli import add_history_options, add_redrive_options, redrive_settings
from dlq_tui.settings import (
    Settings,
    SettingsError,
    default_config_file,
    mask_property,
    parse_property,
    read_properties_file,
    resolve_connection,
)
from dlq_tui.signals import Interrupted, exit_on_terminating_signals, run_until_signal
from dlq_tui.start import StartError, parse_start
from dlq_tui.triage.filter import FilterError, parse
from dlq_tui.triage.journal import journal_dir

COMMANDS = ("ask", "merge-all", "purge-all", "print", "groups", "history")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _common_options(parser: argparse.ArgumentParser) -> None:
    conn = parser.add_argument_group("connection (kafka-merge-purge options)")
    conn.add_argument(
        "-b", "--bootstrap-servers", metavar="HOSTS", help="Kafka bootstrap servers (host:port,...)"
    )
    conn.add_argument(
        "-g", "--group", metavar="GROUP", help="consumer group whose committed offsets say what is resolved"
    )
    conn.add_argument(
        "-o",
        "--property",
        dest="properties",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="client property for both clients (Java names, e.g. security.protocol=SASL_SSL)",
    )
    conn.add_argument(
        "-O",
        "--properties-file",
        dest="properties_files",
        action="append",
        default=[],
        metavar="FILE",
        help="Java .properties file for both clients (e.g. your client.properties)",
    )
    conn.add_argument(
        "-c",
        "--consumer-property",
        dest="consumer_properties",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="consumer property (schema.registry.url may come in here too)",
    )
    conn.add_argument(
        "-C",
        "--consumer-properties-file",
        dest="consumer_files",
        action="append",
        default=[],
        metavar="FILE",
        help="consumer .properties file",
    )
    conn.add_argument(
        "-p",
        "--producer-property",
        dest="producer_properties",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="producer property",
    )
    conn.add_argument(
        "-P",
        "--producer-properties-file",
        dest="producer_files",
        action="append",
        default=[],
        metavar="FILE",
        help="producer .properties file",
    )
    conn.add_argument(
        "-t",
        "--transaction",
        dest="transactional_id",
        metavar="ID",
        nargs="?",
        const="",
        default=None,
        help="commit in a transaction (always on); -tID/--transaction=ID sets the "
        "transactional id (default: stable per group and source topic)",
    )
    dec = parser.add_argument_group("decoding (display only; bytes are written as read)")
    dec.add_argument("-a", "--avro", action="store_true", help="values are Avro (Confluent wire format)")
    dec.add_argument("-A", "--avro-key", action="store_true", help="keys are Avro (Confluent wire format)")
    dec.add_argument("--key-format", choices=["auto", "avro", "json", "string", "bytes"])
    dec.add_argument("--value-format", choices=["auto", "avro", "json", "string", "bytes"])
    beh = parser.add_argument_group("behaviour")
    beh.add_argument(
        "--from-beginning",
        action="store_true",
        default=None,
        help="read from the earliest offset and show resolved history too",
    )
    beh.add_argument(
        "--from",
        dest="start_from",
        metavar="WHERE",
        help="start reading at p1:33000 (partition:offset), 33000 (every partition), a time "
        "(2026-11-27T08:00, UTC) or --from=-1h; records before it are not loaded",
    )
    beh.add_argument(
        "--tombstones",
        choices=["auto", "always", "never"],
        help="tombstones to the source for merged/purged keyed records (auto: if compacted)",
    )
    ts = beh.add_mutually_exclusive_group()
    ts.add_argument(
        "--keep-timestamp",
        dest="keep_timestamp",
        action="store_true",
        default=None,
        help="merged records keep their original timestamp (default)",
    )
    ts.add_argument(
        "--new-timestamp",
        dest="keep_timestamp",
        action="store_false",
        help="merged records get the time of the commit",
    )
    beh.add_argument(
        "--read-only", action="store_true", default=None, help="browse only: no merge, purge or commit"
    )
    beh.add_argument(
        "--no-journal",
        dest="journal",
        action="store_false",
        default=None,
        help="do not keep the local journal of staged decisions",
    )
    beh.add_argument(
        "--show-tombstones",
        action="store_true",
        default=None,
        help="show the DLQ's tombstones (null values) too; hidden by default, never merged by merge-all",
    )
    beh.add_argument(
        "--memory-budget",
        metavar="SIZE",
        help="payload bytes kept in memory (e.g. 256M, 2G; default 32M); beyond it they go to an "
        "unlinked 0600 file in ~/.cache/dlq-tui; 0: always on disk, unlimited: never",
    )
    cfg = parser.add_argument_group("configuration")
    cfg.add_argument("--profile", metavar="NAME", help="named cluster profile from the config file")
    cfg.add_argument(
        "--config", metavar="FILE", help="config file (default: $XDG_CONFIG_HOME/dlq-tui/config.toml)"
    )
    cfg.add_argument("-v", "--verbose", action="count", default=0, help="log more; show tracebacks")
    parser.add_argument("--version", action="version", version=f"dlq-tui {__version__}")


def build_parser(command: str | None) -> argparse.ArgumentParser:
    if command is None:
        parser = argparse.ArgumentParser(
            prog="dlq-tui",
            description="Triage a Kafka dead letter queue full-screen: merge, purge or skip, committed in one "
            "transaction. Line-mode commands: "
            + ", ".join(COMMANDS + MORE_COMMANDS)
            + " (dlq-tui COMMAND --help).",
        )
        parser.add_argument("source", metavar="SOURCE", help="the DLQ topic")
        parser.add_argument(
            "destination", metavar="DESTINATION", nargs="?", help="where merges go (retry topic)"
        )
        parser.add_argument(
            "--view",
            dest="first_view",
            choices=["groups", "records"],
            help="open on the failure groups (default) or on the records",
        )
        _common_options(parser)
        return parser
    parser = argparse.ArgumentParser(prog=f"dlq-tui {command}")
    if command == "history":
        add_history_options(parser)
        _common_options(parser)
        return parser
    parser.add_argument("source", metavar="SOURCE", help="the DLQ topic")
    if command in ("ask", "merge-all"):
        parser.add_argument(
            "destination",
            metavar="DESTINATION",
            help="where merges go (retry topic), or @origin: the topic each record's DLQ headers name",
        )
    parser.add_argument(
        "--where",
        metavar="FILTER",
        default="",
        help="only records matching FILTER (syntax: dlq-tui help filters)",
    )
    if command not in ("print", "groups"):
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would be written; write nothing"
        )
    parser.add_argument(
        "--allow-undecoded",
        action="store_true",
        help="also take records whose key or value could not be decoded, where the filter cannot "
        "tell whether they match (default: said and left out; merge-all/purge-all refuse)",
    )
    if command == "ask":
        parser.add_argument(
            "--commit-every",
            type=int,
            metavar="N",
            default=0,
            help="commit after every N decisions (default: once at the end)",
        )
    if command == "groups":
        parser.add_argument(
            "--format", choices=["table", "jsonl"], default="table", help="one row or JSON object per group"
        )
    if command == "print":
        parser.add_argument("--format", choices=["text", "jsonl"], default="text")
        parser.add_argument("--limit", type=positive_int, metavar="N", default=0, help="at most N records")
    elif command != "groups":
        add_redrive_options(parser, command)
    _common_options(parser)
    return parser


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got '{text}'") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got '{text}'")
    return number


def _normalise_transaction_flag(argv: list[str]) -> list[str]:
    """`-t` takes its ID only attached (`-tID`, `--transaction=ID`), as kafka-merge-purge's `-t[=ID]`:
    a bare `-t` followed by a topic must not swallow the topic, also not at the end of a cluster of
    flags (`-at`)."""
    out: list[str] = []
    for a in argv:
        if a in ("-t", "--transaction"):
            out.append("--transaction=")
        elif re.fullmatch(r"-[aAv]+t", a):
            out += [f"-{flag}" for flag in a[1:-1]] + ["--transaction="]
        else:
            out.append(a)
    return out


def _attach_from_value(argv: list[str]) -> list[str]:
    """`--from -1h` as `--from=-1h`: argparse would take `-1h` for an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--from" and i + 1 < len(argv) and re.fullmatch(r"-\d+[smhdw]", argv[i + 1]):
            out.append(f"--from={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _with_start(config: SessionConfig, args: argparse.Namespace) -> SessionConfig:
    """The session config with `--from` parsed (a bad value is a usage error)."""
    text = getattr(args, "start_from", None)
    if text is None:
        return config
    try:
        return dataclasses.replace(config, start=parse_start(text))
    except StartError as exc:
        raise UsageError(str(exc)) from None


def settings_from_args(args: argparse.Namespace) -> Settings:
    def props(pairs: list[str], files: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in files:
            out.update(read_properties_file(f))
        for pair in pairs:
            k, v = parse_property(pair)
            out[k] = v
        return out

    values: dict[str, Any] = {
        "profile": args.profile,
        "config": args.config,
        "bootstrap_servers": args.bootstrap_servers,
        "group": args.group,
        "from_beginning": args.from_beginning,
        "tombstones": args.tombstones,
        "keep_timestamp": args.keep_timestamp,
        "read_only": args.read_only,
        "journal": args.journal,
        "show_tombstones": getattr(args, "show_tombstones", None),
        "memory_budget": getattr(args, "memory_budget", None),
        "key_format": "avro" if args.avro_key else args.key_format,
        "value_format": "avro" if args.avro else args.value_format,
    }
    if args.transactional_id:
        values["transactional_id"] = args.transactional_id
    if getattr(args, "first_view", None):
        values["first_view"] = args.first_view
    values.update(redrive_settings(args))
    for name, pairs, files in (
        ("properties", args.properties, args.properties_files),
        ("consumer_properties", args.consumer_properties, args.consumer_files),
        ("producer_properties", args.producer_properties, args.producer_files),
    ):
        given = props(pairs, files)
        if given:
            values[name] = given
    # bootstrap.servers from -o/-O is a command-line value too: it beats the environment and the profile
    shared_bootstrap = values.get("properties", {}).get("bootstrap.servers")
    if values["bootstrap_servers"] is None and shared_bootstrap:
        values["bootstrap_servers"] = shared_bootstrap
    return Settings(**{k: v for k, v in values.items() if v is not None})


def exposed_secret_warnings(args: argparse.Namespace) -> list[str]:
    """A warning for each config or properties file that other users may read and that holds a
    credential."""
    config = getattr(args, "config", None) or os.environ.get("DLQ_TUI_CONFIG") or str(default_config_file())
    files = [config]
    for name in ("properties_files", "consumer_files", "producer_files"):
        files.extend(getattr(args, name, None) or [])
    return [
        f"{name} is readable by other users and holds a credential: chmod 600 {name}"
        for name in dict.fromkeys(files)
        if exposed_secret(Path(name))
    ]


def transactional_id_warnings(config: SessionConfig) -> list[str]:
    """`-tID` other than the default defeats fencing against everyone who uses the default."""
    default = transactional_id_for(config.group, config.source)
    if config.transactional_id and config.transactional_id != default:
        return [
            f"transactional id '{config.transactional_id}' is not this DLQ's default '{default}': only "
            "sessions with the same id fence each other, so everyone on this DLQ must use the same "
            "one, or a record may be merged twice"
        ]
    return []


def check_topics(source: str, destination: str | None) -> None:
    """A destination equal to the source would copy every merged record back into the DLQ and
    then tombstone it: the copies are unresolved again (a loop) and compaction deletes the data."""
    if destination is not None and destination == source:
        raise UsageError(
            f"the destination is the DLQ itself ('{source}'): merges would loop back into it; "
            "give the retry topic as DESTINATION"
        )


def register_secrets(settings: Settings) -> None:
    """Every secret-looking property value is masked wherever it would appear in a log record; of
    the JAAS config and the registry's user info, the password alone too."""
    for props in (settings.properties, settings.consumer_properties, settings.producer_properties):
        for name, value in props.items():
            if mask_property(name, value) != value:
                redact.register_secret(value)
                for part in re.findall(r'password\s*=\s*"([^"]*)"', value):
                    redact.register_secret(part)
                if name == "basic.auth.user.info" and ":" in value:
                    redact.register_secret(value.split(":", 1)[1])


def session_config(
    settings: Settings, source: str, destination: str | None, warnings: list[str]
) -> SessionConfig:
    if not settings.group:
        raise SettingsError(
            "no consumer group: give -g/--group (the group whose committed offsets say what is resolved)"
        )
    conn = resolve_connection(settings, warn=warnings)
    return SessionConfig(
        kafka=conn.kafka,
        source=source,
        destination=destination,
        group=settings.group,
        transactional_id=settings.transactional_id,
        from_beginning=settings.from_beginning,
        tombstones=settings.tombstones,
        keep_timestamp=settings.keep_timestamp,
        key_format=settings.key_format,
        value_format=settings.value_format,
        registry_url=conn.registry_url,
        registry_user_info=conn.registry_user_info.get_secret_value() if conn.registry_user_info else None,
        registry_tls=conn.registry_tls,
        use_journal=settings.journal,
        read_only=settings.read_only,
        show_tombstones=settings.show_tombstones,
        origin_partition=settings.origin_partition,
        max_rate=settings.max_rate,
        audit_topic=settings.audit_topic,
        operator=settings.operator,
        memory_budget=settings.memory_budget,
    )


def main(argv: Sequence[str] | None = None) -> int:
    redact.install()  # no log record, at any level, from any logger, carries a credential
    args_list = _normalise_transaction_flag(list(sys.argv[1:] if argv is None else argv))
    if args_list and args_list[0] in MORE_COMMANDS:  # produce, help: no DLQ session
        return main_more(args_list)
    args_list = _attach_from_value(args_list)
    command = args_list[0] if args_list and args_list[0] in COMMANDS else None
    parser = build_parser(command)
    try:
        args = parser.parse_args(args_list[1:] if command else args_list)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiokafka logs every failed connect; without -v the one-line error says it all. Its records
    # still reach dlq_tui.kafka.connection, which takes the reason (e.g. SASL refused) from them.
    logging.getLogger("aiokafka").propagate = bool(args.verbose)
    warnings: list[str] = []
    try:
        where: str = getattr(args, "where", "")
        if where:
            parse(where)  # a syntax error is a usage error before anything connects
        settings = settings_from_args(args)
        register_secrets(settings)
        for w in exposed_secret_warnings(args):  # said even if the settings turn out wrong
            print(f"dlq-tui: warning: {w}", file=sys.stderr)
        if command == "history":
            return _run_history(settings, args)
        check_topics(args.source, getattr(args, "destination", None))
        config = session_config(settings, args.source, getattr(args, "destination", None), warnings)
        warnings.extend(transactional_id_warnings(config))
        config = _with_start(config, args)
        for w in warnings:
            print(f"dlq-tui: warning: {w}", file=sys.stderr)
        if command is None:
            return _run_tui(config, settings)
        from dlq_tui import linemode

        return asyncio.run(run_until_signal(linemode.run(command, config, args)))
    except FilterError as exc:
        print(f"dlq-tui: invalid --where filter: {exc}", file=sys.stderr)
        for line in exc.render(exc.text if exc.text is not None else getattr(args, "where", "")).splitlines():
            print(f"  {line}", file=sys.stderr)
        return EXIT_USAGE
    except (SettingsError, UsageError) as exc:
        print(f"dlq-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SourceError as exc:  # pydantic-settings: e.g. a DLQ_TUI_* variable that is not valid JSON
        print(f"dlq-tui: invalid setting: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        print(f"dlq-tui: invalid setting: {_validation_summary(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except DlqError as exc:
        if args.verbose:
            logging.exception("failed")
        print(f"dlq-tui: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (KeyboardInterrupt, Interrupted) as exc:
        quiet_asyncio_teardown()
        cause = f" by {exc.signame}" if isinstance(exc, Interrupted) else ""
        print(
            f"dlq-tui: interrupted{cause}; a running commit was aborted, nothing was committed that "
            "was not reported",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except BrokenPipeError:
        # `dlq-tui print … | head`: the reader has what it wanted. Exit quietly, as Unix tools
        # do; stdout goes to /dev/null so that the interpreter's final flush does not complain.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if args.verbose:
            raise
        print(
            f"dlq-tui: unexpected error: {type(exc).__name__}: {exc} (run with -v for details)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _run_history(settings: Settings, args: argparse.Namespace) -> int:
    from dlq_tui.history import history

    if not settings.audit_topic:
        raise UsageError("history needs the audit topic: --audit-topic TOPIC (or the audit_topic setting)")
    conn = resolve_connection(settings)
    return asyncio.run(
        history(conn.kafka, settings.audit_topic, args.where, args.format, args.limit, sys.stdout)
    )


def _log_to_file() -> Path:
    """While the full-screen app runs, nothing may write to the terminal: logs go to a file."""
    path = private_file(journal_dir().parent / "dlq-tui.log")
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    logging.getLogger("aiokafka").propagate = True
    return path


def quiet_asyncio_teardown() -> None:
    """After an interruption, asyncio may still report the tasks it had to drop ("Task was
    destroyed but it is pending!") as the interpreter exits: that is noise, the message said it."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def _run_tui(config: SessionConfig, settings: Settings) -> int:
    from dlq_tui.tui.app import run_app

    _log_to_file()
    exit_on_terminating_signals(terminal_restorer())
    return run_app(config, settings)


def terminal_restorer() -> Callable[[], None] | None:
    """What puts the terminal back as it was when the app is ended by a signal (SIGTERM leaves the
    terminal there): its saved tty modes, the main screen, the cursor, no mouse reporting."""
    if not sys.stdin.isatty():
        return None
    import termios

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)

    def restore() -> None:
        with contextlib.suppress(Exception):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
        with contextlib.suppress(Exception):
            sys.__stdout__.write("\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1049l\x1b[?25h")  # type: ignore[union-attr]
            sys.__stdout__.flush()  # type: ignore[union-attr]

    return restore


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{loc}: {err['msg']}")  # never the input value: it may be a secret
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
