"""The command line: kafka-merge-purge's options and the seed article's command line, exit codes,
one-line errors without tracebacks or secrets. Parsing tests stop at the line-mode entry point; the
few that need a broker use the real local stack."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dlq_tui import __version__, cli, linemode
from dlq_tui.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from dlq_tui.engine import SessionConfig
from dlq_tui.settings import Settings
from tests.stack import ROOT, SEED_COMMAND_LINE, Stack, create_topic, unique_name

SEED = SEED_COMMAND_LINE

SECRET = "hunter2-very-secret"
JAAS = (
    "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
    f'username="alice" password="{SECRET}";'
)
SASL = ["-o", "security.protocol=SASL_SSL", "-o", "sasl.mechanism=PLAIN", "-o", JAAS]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"DLQ_TUI_{name.upper()}", raising=False)
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(xdg / "state"))
    yield xdg


@dataclass
class Call:
    command: str
    config: SessionConfig
    args: argparse.Namespace


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Replace the line-mode runner: main() parses, maps settings and hands over; nothing connects."""
    seen: list[Call] = []

    async def fake_run(command: str, config: SessionConfig, args: argparse.Namespace) -> int:
        seen.append(Call(command, config, args))
        return 0

    monkeypatch.setattr(linemode, "run", fake_run)
    return seen


def run_ok(calls: list[Call], argv: list[str]) -> Call:
    assert main(argv) == EXIT_OK
    assert len(calls) == 1
    return calls[0]


BASE = ["-b", "localhost:9092", "-g", "grp"]


# -- parsing --------------------------------------------------------------------------------------


def test_seed_command_line(calls: list[Call]) -> None:
    call = run_ok(calls, SEED)
    cfg = call.config
    assert call.command == "ask"
    assert cfg.source == "order-canceled-dead-letter-queue"  # bare -t did not swallow it
    assert cfg.destination == "order-canceled-retry-1"
    assert cfg.group == "order-canceled-consumer"
    assert cfg.kafka.bootstrap_servers == "localhost:9092"
    assert cfg.registry_url == "http://localhost:8081"
    assert cfg.value_format == "avro"
    assert cfg.key_format == "auto"
    assert cfg.transactional_id is None  # -t: transactions are always on; default stable id
    assert call.args.where == ""
    assert call.args.dry_run is False
    assert call.args.commit_every == 0


def test_seed_command_line_with_long_options(calls: list[Call]) -> None:
    argv = [
        "ask",
        "--bootstrap-servers",
        "localhost:9092",
        "--consumer-property",
        "schema.registry.url=http://localhost:8081",
        "--group",
        "order-canceled-consumer",
        "--transaction",
        "--avro",
        "order-canceled-dead-letter-queue",
        "order-canceled-retry-1",
    ]
    cfg = run_ok(calls, argv).config
    assert (cfg.source, cfg.destination) == ("order-canceled-dead-letter-queue", "order-canceled-retry-1")
    assert cfg.transactional_id is None
    assert cfg.value_format == "avro"


@pytest.mark.parametrize(
    ("flags", "txid"),
    [
        (["-tMYID"], "MYID"),
        (["--transaction=MYID"], "MYID"),
        (["-t"], None),
        (["--transaction"], None),
        (["-at"], None),
        (["-aAt"], None),
        ([], None),
    ],
)
def test_transaction_flag(calls: list[Call], flags: list[str], txid: str | None) -> None:
    cfg = run_ok(calls, ["ask", *BASE, *flags, "dlq", "retry"]).config
    assert cfg.transactional_id == txid
    assert (cfg.source, cfg.destination) == ("dlq", "retry")


def test_transaction_flag_at_the_end(calls: list[Call]) -> None:
    cfg = run_ok(calls, ["ask", *BASE, "dlq", "retry", "-t"]).config
    assert (cfg.source, cfg.destination, cfg.transactional_id) == ("dlq", "retry", None)


@pytest.mark.parametrize(
    ("flags", "key", "value"),
    [
        ([], "auto", "auto"),
        (["-a"], "auto", "avro"),
        (["-A"], "avro", "auto"),
        (["-a", "-A"], "avro", "avro"),
        (["-aA"], "avro", "avro"),
        (["--avro-key", "--value-format", "json"], "avro", "json"),
        (["--key-format", "string", "--value-format", "bytes"], "string", "bytes"),
    ],
)
def test_formats(calls: list[Call], flags: list[str], key: str, value: str) -> None:
    cfg = run_ok(calls, ["print", *BASE, *flags, "dlq"]).config
    assert (cfg.key_format, cfg.value_format) == (key, value)


def test_behaviour_options(calls: list[Call]) -> None:
    argv = [
        "merge-all",
        *BASE,
        "--where",
        "error:*Timeout* partition:0",
        "--dry-run",
        "--tombstones",
        "never",
        "--new-timestamp",
        "--from-beginning",
        "dlq",
        "retry",
    ]
    call = run_ok(calls, argv)
    assert call.command == "merge-all"
    assert call.args.where == "error:*Timeout* partition:0"
    assert call.args.dry_run is True
    cfg = call.config
    assert cfg.tombstones == "never"
    assert cfg.keep_timestamp is False
    assert cfg.from_beginning is True
    assert cfg.read_only is False


def test_defaults(calls: list[Call]) -> None:
    cfg = run_ok(calls, ["purge-all", *BASE, "dlq"]).config
    assert cfg.tombstones == "auto"
    assert cfg.keep_timestamp is True
    assert cfg.from_beginning is False
    assert cfg.destination is None
    assert cfg.kafka.client_id == "dlq-tui"


def test_keep_timestamp_and_new_timestamp_exclude_each_other(calls: list[Call]) -> None:
    assert run_ok(calls, ["ask", *BASE, "--keep-timestamp", "d", "r"]).config.keep_timestamp is True
    assert main(["ask", *BASE, "--keep-timestamp", "--new-timestamp", "d", "r"]) == EXIT_USAGE


def test_commit_every_and_print_format(calls: list[Call]) -> None:
    assert run_ok(calls, ["ask", *BASE, "--commit-every", "5", "d", "r"]).args.commit_every == 5
    calls.clear()
    args = run_ok(calls, ["print", *BASE, "--format", "jsonl", "--limit", "3", "d"]).args
    assert (args.format, args.limit) == ("jsonl", 3)
    assert main(["print", *BASE, "--format", "xml", "d"]) == EXIT_USAGE


def test_read_only(calls: list[Call]) -> None:
    assert run_ok(calls, ["print", *BASE, "--read-only", "d"]).config.read_only is True


def test_read_only_refuses_writing_commands_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    # the real line-mode runner; -b points nowhere: refused before any connection
    assert main(["merge-all", "-b", "127.0.0.1:1", "-g", "g", "--read-only", "d", "r"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert "--read-only" in err and out == ""  # a refusal is an error: stderr, not the output


def test_dry_run_only_where_commands_write() -> None:
    assert main(["print", *BASE, "--dry-run", "d"]) == EXIT_USAGE


def test_commands_need_their_topics() -> None:
    assert main(["ask", *BASE, "dlq"]) == EXIT_USAGE  # no destination
    assert main(["merge-all", *BASE, "dlq"]) == EXIT_USAGE
    assert main(["purge-all", *BASE, "dlq", "extra"]) == EXIT_USAGE
    assert main(["print", *BASE]) == EXIT_USAGE


def test_tui_without_command(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[SessionConfig] = []

    def fake_tui(config: SessionConfig, settings: Settings) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr(cli, "_run_tui", fake_tui)
    assert main([*BASE, "-t", "dlq", "retry"]) == EXIT_OK
    assert (seen[0].source, seen[0].destination) == ("dlq", "retry")
    assert main([*BASE, "dlq"]) == EXIT_OK
    assert seen[1].destination is None


def test_properties_file_and_override(calls: list[Call], tmp_path: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text(
        "# from the team wiki\n"
        "bootstrap.servers=kafka-1:9092,\\\n"
        "  kafka-2:9092\n"
        "client.id=from-file\n"
        "security.protocol=PLAINTEXT\n"
    )
    cfg = run_ok(calls, ["print", "-g", "g", "-O", str(path), "-o", "client.id=from-cli", "d"]).config
    assert cfg.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert cfg.kafka.client_id == "from-cli"


def test_consumer_and_producer_options(calls: list[Call], tmp_path: Path) -> None:
    cfile = tmp_path / "consumer.properties"
    cfile.write_text("max.poll.records=42\n")
    pfile = tmp_path / "producer.properties"
    pfile.write_text("linger.ms=9\n")
    argv = ["ask", *BASE, "-C", str(cfile), "-P", str(pfile), "-p", "compression.type=zstd", "d", "r"]
    kafka = run_ok(calls, argv).config.kafka
    assert kafka.consumer_kwargs()["max_poll_records"] == 42
    producer = kafka.producer_kwargs()
    assert (producer["linger_ms"], producer["compression_type"]) == (9, "zstd")
    assert "linger_ms" not in kafka.consumer_kwargs()


def test_environment(calls: list[Call], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLQ_TUI_BOOTSTRAP_SERVERS", "env:9092")
    monkeypatch.setenv("DLQ_TUI_GROUP", "env-group")
    monkeypatch.setenv("DLQ_TUI_PROPERTIES", '{"client.id": "env", "schema.registry.url": "http://r:1"}')
    cfg = run_ok(calls, ["print", "d"]).config
    assert (cfg.kafka.bootstrap_servers, cfg.group, cfg.kafka.client_id) == ("env:9092", "env-group", "env")
    assert cfg.registry_url == "http://r:1"
    calls.clear()
    cfg = run_ok(calls, ["print", "-b", "cli:1", "-g", "cli-group", "-o", "client.id=cli", "d"]).config
    assert (cfg.kafka.bootstrap_servers, cfg.group, cfg.kafka.client_id) == ("cli:1", "cli-group", "cli")
    assert cfg.registry_url == "http://r:1"  # property tables merge key by key


def test_bootstrap_from_properties_file_beats_environment(
    calls: list[Call], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DLQ_TUI_BOOTSTRAP_SERVERS", "env:9092")
    path = tmp_path / "client.properties"
    path.write_text("bootstrap.servers=file:9092\n")
    assert run_ok(calls, ["print", "-g", "g", "-O", str(path), "d"]).config.kafka.bootstrap_servers == (
        "file:9092"
    )


def write_profiles(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        'default_profile = "local"\n'
        "[profiles.local]\n"
        'bootstrap_servers = "localhost:9092"\n'
        'group = "local-group"\n'
        "[profiles.prod]\n"
        'bootstrap_servers = "prod:9093"\n'
        'group = "prod-group"\n'
        'properties = { "schema.registry.url" = "https://registry.prod" }\n'
    )
    return path


def test_profiles(calls: list[Call], clean_env: Path) -> None:
    write_profiles(clean_env / "config" / "dlq-tui" / "config.toml")
    cfg = run_ok(calls, ["print", "d"]).config
    assert (cfg.kafka.bootstrap_servers, cfg.group) == ("localhost:9092", "local-group")
    calls.clear()
    cfg = run_ok(calls, ["print", "--profile", "prod", "-g", "mine", "d"]).config
    assert (cfg.kafka.bootstrap_servers, cfg.group) == ("prod:9093", "mine")
    assert cfg.registry_url == "https://registry.prod"


def test_config_option(calls: list[Call], tmp_path: Path) -> None:
    path = write_profiles(tmp_path / "team.toml")
    cfg = run_ok(calls, ["print", "--config", str(path), "--profile", "prod", "d"]).config
    assert cfg.kafka.bootstrap_servers == "prod:9093"


def test_unknown_profile(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_profiles(clean_env / "config" / "dlq-tui" / "config.toml")
    assert main(["print", "--profile", "staging", "d"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no profile 'staging'" in err
    assert "local, prod" in err


def test_serializer_property_warns(calls: list[Call], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["print", *BASE, "-c", "value.deserializer=io.confluent.kafka.serializers.KafkaAvroDeserializer"]
    run_ok(calls, [*argv, "d"])
    err = capsys.readouterr().err
    assert "warning: value.deserializer is ignored" in err


# -- exit codes and errors ----------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == f"dlq-tui {__version__}"


@pytest.mark.parametrize("command", [[], ["ask"], ["merge-all"], ["purge-all"], ["print"]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    for option in ("--bootstrap-servers", "--group", "--transaction", "--avro", "--profile"):
        assert option in out
    if command and command[0] != "print":
        assert "--dry-run" in out
    if command:
        assert "--where" in out


def test_help_never_shows_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DLQ_TUI_PROPERTIES", '{"basic.auth.user.info": "u:' + SECRET + '"}')
    assert main(["ask", *SASL, "--help"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert SECRET not in out + err


def test_missing_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "-b", "localhost:9092", "d", "r"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "-g/--group" in err


def test_missing_bootstrap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["print", "-g", "g", "d"]) == EXIT_USAGE
    assert "-b/--bootstrap-servers" in capsys.readouterr().err


def test_unknown_property(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["print", *BASE, "-o", "sasl.kerberos.service.name=kafka", "d"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "dlq-tui: unknown or unsupported client property 'sasl.kerberos.service.name' "
        "(see docs/commands.md for the supported ones)\n"
    )


@pytest.mark.parametrize(
    "extra",
    [
        ["-o", "no.such.property=1"],  # a bad property next to a password
        ["-c", "linger.ms=5"],  # a property for the wrong client
        ["-o", "security.protocol=TLS"],
        ["-o", "sasl.mechanism=GSSAPI"],
        ["-o", "request.timeout.ms=" + SECRET],
        ["-o", "basic.auth.user.info:u:" + SECRET],  # `:` form of .properties, given to -o
    ],
)
@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_errors_never_show_the_password(
    extra: list[str], verbose: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", *BASE, *verbose, *SASL, *extra, "d", "r"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert err.startswith("dlq-tui: ")
    assert err.count("\n") == 1
    if "request.timeout.ms" not in extra[1]:
        assert SECRET not in out + err


def test_malformed_jaas_never_shows_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    broken = JAAS.replace('";', ";")  # unbalanced quote
    argv = ["ask", *BASE, "-o", "security.protocol=SASL_SSL", "-o", "sasl.mechanism=PLAIN", "-o", broken]
    assert main([*argv, "d", "r"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert "sasl.jaas.config" in err
    assert SECRET not in out + err


def test_bad_environment_value_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DLQ_TUI_PROPERTIES", '{"sasl.jaas.config": "' + SECRET)  # not JSON
    assert main(["print", *BASE, "d"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "properties" in err
    assert SECRET not in err
    monkeypatch.setenv("DLQ_TUI_PROPERTIES", "{}")
    monkeypatch.setenv("DLQ_TUI_TOMBSTONES", "sometimes")
    assert main(["print", *BASE, "d"]) == EXIT_USAGE
    assert "tombstones" in capsys.readouterr().err


def test_filter_syntax_error(capsys: pytest.CaptureFixture[str]) -> None:
    # -b points nowhere: the filter is checked before anything connects
    assert (
        main(["merge-all", "-b", "127.0.0.1:1", "-g", "g", "--where", "(key:ORD001", "d", "r"]) == EXIT_USAGE
    )
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("dlq-tui: invalid --where filter: ")
    assert "expected ')'" in lines[0]
    assert "at column 12" in lines[0]
    assert lines[1:] == ["  (key:ORD001", "             ^"]


def test_filter_error_caret_points_at_the_column(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["print", *BASE, "--where", 'key:ORD001 value:"wrong product', "d"]) == EXIT_USAGE
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "dlq-tui: invalid --where filter: unclosed quote at column 18"
    assert lines[1] == '  key:ORD001 value:"wrong product'
    assert lines[2].index("^") == 2 + 18 - 1


def test_unreachable_broker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["print", "-b", "127.0.0.1:1", "-g", "g", "d"]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("dlq-tui: cannot reach the Kafka cluster")
    assert "Traceback" not in err


def cli_process(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlq_tui.cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_unreachable_broker_real_stderr() -> None:
    """As a user sees it: one line (not aiokafka's own log lines), no traceback; -v adds details."""
    done = cli_process("ask", "-b", "127.0.0.1:1", "-g", "g", *SASL[:4], "-o", "sasl.jaas.config=x", "d", "r")
    assert done.returncode == EXIT_USAGE  # a bad jaas line is found before connecting
    done = cli_process("print", "-b", "127.0.0.1:1", "-g", "g", "d")
    assert done.returncode == EXIT_FAILED
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("dlq-tui: cannot reach the Kafka cluster")
    verbose = cli_process("print", "-v", "-b", "127.0.0.1:1", "-g", "g", "d")
    assert verbose.returncode == EXIT_FAILED
    assert "Traceback" in verbose.stderr
    assert verbose.stderr.splitlines()[-1].startswith("dlq-tui: cannot reach the Kafka cluster")


@pytest.mark.stack
def test_unknown_topic(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    topic = unique_name("no-such-topic")
    assert main(["print", "-b", stack.bootstrap, "-g", "g", topic]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err == f"dlq-tui: topic '{topic}' does not exist\n"


@pytest.mark.stack
def test_unknown_destination_topic(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    source = unique_name("src")
    missing = unique_name("dest")
    asyncio.run(create_topic(stack.bootstrap, source))
    code = main(["ask", "-b", stack.bootstrap, "-g", "g", "--dry-run", source, missing])
    assert code == EXIT_FAILED
    err = capsys.readouterr().err
    assert err == f"dlq-tui: topic '{missing}' does not exist\n"


@pytest.mark.stack
def test_print_on_an_empty_topic(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    source = unique_name("empty")
    asyncio.run(create_topic(stack.bootstrap, source))
    assert main(["print", "-b", stack.bootstrap, "-g", unique_name("g"), source]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out == "0 of 0 unresolved records shown\n"
    assert err == ""


def test_destination_equal_to_source_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["merge-all"], ["ask"], []):
        assert main([*command, "-b", "127.0.0.1:1", "-g", "g", "the-dlq", "the-dlq"]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert err.startswith("dlq-tui: the destination is the DLQ itself ('the-dlq')"), err


def test_engine_refuses_destination_equal_to_source() -> None:
    from dlq_tui.engine import SessionConfig, TriageSession
    from dlq_tui.kafka.connection import DlqError, KafkaSettings

    cfg = SessionConfig(KafkaSettings("127.0.0.1:1"), source="d", destination="d", group="g")
    with pytest.raises(DlqError, match="destination is the DLQ itself"):
        asyncio.run(TriageSession(cfg).open())
