"""A secure cluster: the private broker's SASL_SSL listener (SCRAM-SHA-512 users, TLS with a
certificate made by the tests for `localhost`, hostname verification on, ACLs enforced). Wrong
password, unknown CA, hostname mismatch, a user that may read the DLQ but not write the retry topic
(the commit fails before anything is visible; `ask`'s journal keeps the decisions), a read-only
user with --read-only: each is one clear line naming what to fix. Every run is at -vv, and its
stdout, stderr and every file it wrote are grepped for the secrets (SCRAM password, JAAS config,
registry basic auth, TLS key password); every file is 0600 in a 0700 directory."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from tests.faultkit import SCRAM_USERS, PrivateStack, dlq_tui_env, run_dlq_tui
from tests.stack import Rec, create_topic, kcat_read, produce, unique_name

REGISTRY_SECRET = "reg-Secret-5"


def scram_props(private_stack: PrivateStack, user: str, password: str, ca: Path | None = None) -> list[str]:
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )
    tls = private_stack.tls
    props = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": jaas,
        "ssl.ca.location": str(ca or tls.ca),
        "ssl.certificate.location": str(tls.directory / "client.pem"),
        "ssl.key.location": str(tls.directory / "client.key"),
        "ssl.key.password": tls.client_key_password,
        "basic.auth.user.info": f"ops:{REGISTRY_SECRET}",
    }
    out = []
    for k, v in props.items():
        out += ["-o", f"{k}={v}"]
    return out


def secrets_of(private_stack: PrivateStack) -> list[str]:
    return [*SCRAM_USERS.values(), REGISTRY_SECRET, private_stack.tls.client_key_password, "wrong-Secret-9"]


def assert_no_secret_and_private_files(private_stack: PrivateStack, state: Path, *outputs: bytes) -> None:
    secrets = [s.encode() for s in secrets_of(private_stack)]
    for output in outputs:
        for secret in secrets:
            assert secret not in output, f"secret in output:\n{output.decode(errors='replace')}"
    for path in state.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, f"{path}: {oct(mode)}"
        else:
            assert mode == 0o600, f"{path}: {oct(mode)}"
            data = path.read_bytes()
            for secret in secrets:
                assert secret not in data, f"secret in {path}"


async def _dlq(private_stack: PrivateStack, name: str) -> tuple[str, str, str]:
    source, dest, group = f"{name}-dlq", f"{name}-retry", unique_name("g")
    await create_topic(private_stack.bootstrap, source, 1, {"cleanup.policy": "delete"})
    await create_topic(private_stack.bootstrap, dest, 1)
    await produce(
        private_stack.bootstrap, source, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(4)]
    )
    return source, dest, group


def _run(
    private_stack: PrivateStack, tmp_path: Path, args: list[str], stdin: bytes | None = None
) -> tuple[int, str]:
    state = tmp_path / "state"
    proc = run_dlq_tui([args[0], "-vv", *args[1:]], dlq_tui_env(state), stdin)
    assert_no_secret_and_private_files(private_stack, state, bytes(proc.stdout), bytes(proc.stderr))
    last = [line for line in bytes(proc.stderr).decode().splitlines() if line.startswith("dlq-tui:")]
    return proc.popen.returncode, "\n".join(last) + "\n" + bytes(proc.stdout).decode()


async def test_admin_merges_over_sasl_ssl(
    private_stack: PrivateStack, tmp_path: Path, topic_name: str
) -> None:
    source, dest, group = await _dlq(private_stack, topic_name)
    props = scram_props(private_stack, "admin", SCRAM_USERS["admin"])
    code, out = await asyncio.to_thread(
        _run,
        private_stack,
        tmp_path,
        ["merge-all", "-b", private_stack.sasl_ssl_bootstrap, *props, "-g", group, source, dest],
    )
    assert code == 0, out
    assert "4 merged" in out
    assert len(kcat_read(private_stack.bootstrap, dest)) == 4


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong password", "check sasl.jaas.config"),
        ("unknown CA", "check ssl.ca.location"),
        ("hostname mismatch", "ssl.endpoint.identification.algorithm"),
    ],
)
async def test_refusals_name_what_to_fix(
    private_stack: PrivateStack, tmp_path: Path, topic_name: str, case: str, expected: str
) -> None:
    source, _dest, group = await _dlq(private_stack, topic_name)
    bootstrap = private_stack.sasl_ssl_bootstrap
    password, ca = SCRAM_USERS["admin"], None
    if case == "wrong password":
        password = "wrong-Secret-9"
    elif case == "unknown CA":
        ca = private_stack.tls.other_ca
    else:  # the certificate names localhost; 127.0.0.1 does not match it
        bootstrap = bootstrap.replace("localhost", "127.0.0.1")
    props = scram_props(private_stack, "admin", password, ca)
    code, out = await asyncio.to_thread(
        _run, private_stack, tmp_path, ["print", "-b", bootstrap, *props, "-g", group, source]
    )
    assert code == 1, out
    assert expected in out, out
    assert "unexpected error" not in out, out


async def test_user_without_write_on_the_retry_topic(
    private_stack: PrivateStack, tmp_path: Path, topic_name: str
) -> None:
    """carol may read the DLQ and commit the group's offsets, but not write the retry topic: the
    commit fails before anything is visible, names the topic, and `ask`'s journal keeps the
    decisions for the next run."""
    source, dest, group = await _dlq(private_stack, topic_name)
    txn = f"dlq-tui.{group}.{source}"
    await asyncio.to_thread(
        private_stack.create_acls,
        *(f"carol,{op},TOPIC,{source}" for op in ("READ", "DESCRIBE", "DESCRIBE_CONFIGS")),
        *(f"carol,{op},TOPIC,{dest}" for op in ("DESCRIBE", "DESCRIBE_CONFIGS")),
        *(f"carol,{op},GROUP,{group}" for op in ("READ", "DESCRIBE")),
        *(f"carol,{op},TRANSACTIONAL_ID,{txn}" for op in ("WRITE", "DESCRIBE")),
    )
    props = scram_props(private_stack, "carol", SCRAM_USERS["carol"])
    args = ["ask", "-b", private_stack.sasl_ssl_bootstrap, *props, "-g", group, source, dest]
    code, out = await asyncio.to_thread(_run, private_stack, tmp_path, args, b"m\nm\np\ns\n")
    assert code == 1, out
    assert dest in out and "ACL" in out, out
    assert kcat_read(private_stack.bootstrap, dest) == []
    journals = [p for p in (tmp_path / "state" / "dlq-tui" / "journal").glob("*") if p.suffix != ".lock"]
    assert len(journals) == 1 and journals[0].stat().st_size > 0, "the decisions are journaled"


async def test_read_only_user_with_read_only(
    private_stack: PrivateStack, tmp_path: Path, topic_name: str
) -> None:
    source, dest, group = await _dlq(private_stack, topic_name)
    await asyncio.to_thread(
        private_stack.create_acls,
        *(f"dave,{op},TOPIC,{source}" for op in ("READ", "DESCRIBE", "DESCRIBE_CONFIGS")),
        *(f"dave,{op},GROUP,{group}" for op in ("READ", "DESCRIBE")),
    )
    props = scram_props(private_stack, "dave", SCRAM_USERS["dave"])
    base = ["-b", private_stack.sasl_ssl_bootstrap, *props, "-g", group, "--read-only"]
    code, out = await asyncio.to_thread(_run, private_stack, tmp_path, ["print", *base, source])
    assert code == 0, out
    assert "4 of 4 unresolved records shown" in out
    code, out = await asyncio.to_thread(_run, private_stack, tmp_path, ["merge-all", *base, source, dest])
    assert code == 2, out
    assert "--read-only" in out, out
