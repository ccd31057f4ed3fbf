"""No credential in any output (issue 13.3): `-vv` against the SASL listener (aiokafka logs the
SaslAuthenticateRequest at debug level) leaves the password out of stdout, stderr and the log
file; the log, the journal and the lock are 0600 in 0700 directories."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlq_tui import redact
from dlq_tui.cli import _log_to_file
from dlq_tui.triage.journal import Journal
from tests.stack import Rec, Stack, create_topic, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
PASSWORD = "admin-secret"  # compose/stack's SASL user admin
REGISTRY_PASSWORD = "reg-pass-7f3a9"
JAAS = f'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="{PASSWORD}";'


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_vv_over_sasl_prints_no_secret(stack: Stack, tmp_path: Path) -> None:
    topic = unique_name("secrets")
    await create_topic(stack.bootstrap, topic)
    await produce(stack.bootstrap, topic, [Rec(b"k", b"v")])
    result = subprocess.run(
        [
            DLQ_TUI,
            "print",
            "-vv",
            "-b",
            stack.sasl_bootstrap,
            "-o",
            "security.protocol=SASL_PLAINTEXT",
            "-o",
            "sasl.mechanism=PLAIN",
            "-o",
            f"sasl.jaas.config={JAAS}",
            "-o",
            f"schema.registry.url={stack.registry_root}",
            "-o",
            f"basic.auth.user.info=admin:{REGISTRY_PASSWORD}",
            "-g",
            unique_name("g"),
            topic,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert result.returncode == 0, result.stderr
    assert "1 of 1 unresolved records shown" in result.stdout
    # The debug log that used to carry the password is there, scrubbed.
    assert "SaslAuthenticateRequest" in result.stderr
    for output in (result.stdout, result.stderr):
        assert PASSWORD not in output
        assert REGISTRY_PASSWORD not in output


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


def test_log_file_is_private_and_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    old = tmp_path / "state" / "dlq-tui" / "dlq-tui.log"
    old.parent.mkdir(parents=True)
    old.write_text("")
    old.chmod(0o644)  # as an earlier version left it
    redact.install()
    path = _log_to_file()
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("aiokafka.conn").debug(
        "Request to %s: %s",
        "b:9094",
        "SaslAuthenticateRequest_v1(sasl_auth_bytes=b'alice\\x00alice\\x00s3cr3t-pw')",
    )
    logging.getLogger("dlq_tui.settings").info("props %s", {"sasl.jaas.config": JAAS})
    logging.getLogger("httpx").debug("GET http://user:h7tp-pass@registry:8081/schemas/ids/1")
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text()
    assert "SaslAuthenticateRequest" in text and "registry:8081" in text
    for secret in ("s3cr3t-pw", PASSWORD, "h7tp-pass"):
        assert secret not in text
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_journal_and_lock_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    previous = os.umask(0o022)
    try:
        journal = Journal("cluster", "group", "topic")
        journal.load()
        journal.close()
    finally:
        os.umask(previous)
    files = list(journal.path.parent.iterdir())
    assert files and all(mode(f) == 0o600 for f in files)
    assert mode(journal.path.parent) == 0o700
    assert mode(journal.path.parent.parent) == 0o700  # the dlq-tui state dir it created


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('sasl.jaas.config=org...PlainLoginModule required username="u" password="pw-1";', "pw-1"),
        ("ssl.key.password=pw-2", "pw-2"),
        ("{'sasl_plain_password': 'pw-3', 'x': 1}", "pw-3"),
        ("basic.auth.user.info=user:pw-4", "pw-4"),
        ("GET https://user:pw-5@host/x", "pw-5"),
        ("sasl_auth_bytes=b'\\x00user\\x00pw-6'", "pw-6"),
        ("c=biws,r=abc,p=cHctNw==", "cHctNw=="),
        ("Authorization: Basic dXNlcjpwdy04", "dXNlcjpwdy04"),
    ],
)
def test_scrub_masks_credential_shapes(text: str, secret: str) -> None:
    assert secret not in redact.scrub(text)


def test_scrub_masks_registered_secrets_anywhere() -> None:
    redact.register_secret("zq-registered-9")
    assert redact.scrub("a message quoting zq-registered-9 in passing") == "a message quoting *** in passing"
    assert redact.scrub("nothing to hide here") == "nothing to hide here"
