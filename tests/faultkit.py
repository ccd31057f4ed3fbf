"""Helpers of the fault and security suite: a private Kafka (its own state dir and ports, so killing
it never touches the shared stack), a TCP proxy between dlq-tui and a broker or registry, and the
invariants every fault test checks (all-or-nothing, no open transaction, exactly once)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.stack import ROOT, STACK_SCRIPT, KcatRecord

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
FIGURES_ENV = "DLQ_TUI_FAULT_FIGURES"
"""If set, a file where fault tests append one JSON line per measured figure (docs/reliability.md)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll `condition` until it is true; returns the seconds it took, fails after `timeout`."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(interval)


def record_figure(name: str, value: float | int) -> None:
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"figure": name, "value": value}) + "\n")


# -- the private stack ----------------------------------------------------------------------------


@dataclass
class Tls:
    """Certificates made for the private stack's SASL_SSL listener (openssl): a CA, a server
    certificate for `localhost` in a PKCS12 keystore, and an unrelated CA the broker does not use."""

    directory: Path
    ca: Path
    other_ca: Path
    keystore: Path
    password: str

    @classmethod
    def make(cls, directory: Path, password: str) -> Tls:
        directory.mkdir(parents=True, exist_ok=True)

        def run(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

        for name in ("ca", "other-ca"):
            run(
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=dlq-tui test {name}",
                "-keyout", f"{name}.key", "-out", f"{name}.pem",
            )  # fmt: skip
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        )
        (directory / "san.ext").write_text("subjectAltName=DNS:localhost\n")
        run(
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem",
        )  # fmt: skip
        run(
            "pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile", "ca.pem",
            "-out", "server.p12", "-passout", f"pass:{password}",
        )  # fmt: skip
        # A client certificate whose key is encrypted: its password (ssl.key.password) is a secret too.
        run("genrsa", "-aes256", "-passout", f"pass:{password}-client", "-out", "client.key", "2048")
        run(
            "req", "-new", "-key", "client.key", "-passin", f"pass:{password}-client", "-subj", "/CN=client",
            "-out", "client.csr",
        )  # fmt: skip
        run(
            "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", "client.pem",
        )  # fmt: skip
        return cls(
            directory, directory / "ca.pem", directory / "other-ca.pem", directory / "server.p12", password
        )

    @property
    def client_key_password(self) -> str:
        return f"{self.password}-client"


SCRAM_USERS = {"admin": "admin-scram-Secret-1", "carol": "carol-Secret-2", "dave": "dave-Secret-3"}
"""SCRAM-SHA-512 users of the private stack: admin is a super user; carol and dave get ACLs per test."""


@dataclass
class PrivateStack:
    """A second single-node Kafka run by compose/stack with its own state dir and ports."""

    state: Path
    kafka_port: int
    controller_port: int
    sasl_port: int
    proxied_port: int
    proxy_port: int
    sasl_ssl_port: int
    tls: Tls
    dist: Path
    kills: int = 0
    restarts: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def proxied_upstream(self) -> str:
        """The listener a TcpProxy forwards to; clients bootstrap at `proxied_bootstrap`."""
        return f"127.0.0.1:{self.proxied_port}"

    @property
    def proxied_bootstrap(self) -> str:
        return f"127.0.0.1:{self.proxy_port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        return f"localhost:{self.sasl_ssl_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DLQ_TUI_STACK_DIR": str(self.state),
            "DLQ_TUI_STACK_DIST": str(self.dist),
            "DLQ_TUI_KAFKA_PORT": str(self.kafka_port),
            "DLQ_TUI_CONTROLLER_PORT": str(self.controller_port),
            "DLQ_TUI_SASL_PORT": str(self.sasl_port),
            "DLQ_TUI_REGISTRY_PORT": str(free_port()),  # never started: Kafka only
            "DLQ_TUI_PROXIED_PORT": str(self.proxied_port),
            "DLQ_TUI_PROXY_PORT": str(self.proxy_port),
            "DLQ_TUI_SASL_SSL_PORT": str(self.sasl_ssl_port),
            "DLQ_TUI_SSL_KEYSTORE": str(self.tls.keystore),
            "DLQ_TUI_SSL_PASSWORD": self.tls.password,
            "DLQ_TUI_SCRAM_USERS": " ".join(f"{u}={p}" for u, p in SCRAM_USERS.items()),
            "DLQ_TUI_STACK_TIMEOUT": "180",
        }

    def _stack(self, verb: str) -> None:
        result = subprocess.run(
            [str(STACK_SCRIPT), verb], env=self.env(), capture_output=True, text=True, timeout=240
        )
        self.log.append(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(
                f"compose/stack {verb} (private stack) failed:\n{result.stdout}{result.stderr}"
            )

    def start_kafka(self) -> None:
        self._stack("kafka-up")
        self.restarts += 1

    def kill_kafka(self) -> None:
        self._stack("kill-kafka")
        self.kills += 1

    def down(self) -> None:
        self._stack("down")

    def create_acls(self, *specs: str) -> None:
        """ALLOW ACLs, each `user,OPERATION,RESOURCE_TYPE,name` (Kafka's Admin API, through Java)."""
        jars = next(self.dist.glob("kafka-*"))
        result = subprocess.run(
            ["java", "-cp", f"{jars}/*", str(ROOT / "tests" / "KafkaAcls.java"), self.bootstrap, *specs],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"creating ACLs failed:\n{result.stdout}{result.stderr}")


def shared_dist() -> Path:
    state = os.environ.get("DLQ_TUI_STACK_DIR") or str(
        Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "dlq-tui" / "stack"
    )
    return Path(state) / "dist"


@contextlib.contextmanager
def private_stack_running(directory: Path) -> Iterator[PrivateStack]:
    tls = Tls.make(directory / "tls", "ks-Secret-4")
    stack = PrivateStack(
        state=directory / "stack",
        kafka_port=free_port(),
        controller_port=free_port(),
        sasl_port=free_port(),
        proxied_port=free_port(),
        proxy_port=free_port(),
        sasl_ssl_port=free_port(),
        tls=tls,
        dist=shared_dist(),
    )
    stack.start_kafka()
    stack.restarts = 0
    try:
        yield stack
    finally:
        stack.down()


# -- a TCP proxy ----------------------------------------------------------------------------------

Mode = Literal["pass", "blackhole"]


class TcpProxy:
    """A TCP proxy in a thread of its own (so it serves in-process tests and subprocesses alike).
    Modes: `pass` (forward, after `latency` seconds per chunk), `blackhole` (new connections are
    accepted and swallowed, open ones go silent). `reset()` resets every open connection."""

    def __init__(self, listen_port: int, upstream: str) -> None:
        self.listen_port = listen_port
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self.mode: Mode = "pass"
        self.latency = 0.0
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"tcp-proxy-{listen_port}")

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def set(self, mode: Mode, latency: float = 0.0) -> None:
        self.mode, self.latency = mode, latency

    def reset(self) -> None:
        """Reset every open connection (RST, as a crashed middlebox or NAT timeout would)."""

        def close_all() -> None:
            for w in list(self._writers):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                        )
                w.transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(close_all)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._client, "127.0.0.1", self.listen_port)
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        if self.mode == "blackhole":
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    while self.mode == "blackhole":  # a path that goes silent mid-connection
                        await asyncio.sleep(0.05)
                    if self.latency:
                        await asyncio.sleep(self.latency)
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)


# -- invariants -----------------------------------------------------------------------------------


def digest(record: KcatRecord) -> tuple[bytes | None, str]:
    return record.key, hashlib.sha256(record.value or b"").hexdigest()


def by_key_and_digest(records: Iterable[KcatRecord]) -> Counter[tuple[bytes | None, str]]:
    return Counter(digest(r) for r in records if r.value is not None)


async def _end_offsets(bootstrap: str, topic: str, isolation: str) -> dict[int, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


def open_transaction_lag(bootstrap: str, topics: Iterable[str]) -> dict[str, dict[int, int]]:
    """Per topic and partition: high watermark minus last stable offset (0 = no open transaction)."""

    async def measure() -> dict[str, dict[int, int]]:
        out = {}
        for topic in topics:
            hw = await _end_offsets(bootstrap, topic, "read_uncommitted")
            lso = await _end_offsets(bootstrap, topic, "read_committed")
            out[topic] = {p: hw[p] - lso.get(p, 0) for p in hw}
        return out

    # A loop of its own in a thread: callers may be sync tests or async tests (whose loop is running).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, measure()).result()


def wait_no_open_transaction(bootstrap: str, topics: Iterable[str], bound: float = 15.0) -> float:
    """Wait until LSO == high watermark on every partition of `topics`; returns how long it took
    (recorded as a figure). Fails if a transaction stays open longer than `bound` seconds."""
    topics = list(topics)

    def closed() -> bool:
        try:
            return all(not any(lag.values()) for lag in open_transaction_lag(bootstrap, topics).values())
        except Exception:  # broker still coming back
            return False

    took = wait_until(
        closed, bound, f"no open transaction on {topics} (LSO == high watermark)", interval=0.25
    )
    record_figure("open_transaction_seconds", round(took, 2))
    return took


def dlq_tui_env(state_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DLQ_TUI_PAUSE_AT"}
    env.update({"XDG_STATE_HOME": str(state_home), "PYTHONUNBUFFERED": "1", **extra})
    return env


class Proc:
    """A dlq-tui subprocess whose stdout and stderr are collected by threads (so a test can wait
    for a line without blocking on a pipe)."""

    def __init__(self, args: list[str], env: dict[str, str], stdin: bytes | None = None) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            [DLQ_TUI, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            cwd=ROOT,
        )
        self.stdout = bytearray()
        self.stderr = bytearray()
        self._threads = [
            threading.Thread(target=self._drain, args=(self.popen.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._drain, args=(self.popen.stderr, self.stderr), daemon=True),
        ]
        for t in self._threads:
            t.start()
        if stdin is not None:
            assert self.popen.stdin is not None
            self.popen.stdin.write(stdin)
            self.popen.stdin.close()

    @staticmethod
    def _drain(pipe: object, into: bytearray) -> None:
        assert pipe is not None
        for chunk in iter(lambda: pipe.read1(65536), b""):  # type: ignore[attr-defined]
            into.extend(chunk)

    def wait_stderr(self, text: str, timeout: float = 120) -> None:
        wait_until(
            lambda: text.encode() in self.stderr or self.popen.poll() is not None,
            timeout,
            f"{text!r} on stderr of dlq-tui {' '.join(self.args)}",
        )
        assert text.encode() in self.stderr, f"exited {self.popen.returncode} first:\n{self.output()}"

    def wait(self, timeout: float = 120) -> int:
        code = self.popen.wait(timeout)
        for t in self._threads:
            t.join(10)
        return code

    def output(self) -> str:
        return (bytes(self.stdout) + b"\n--- stderr ---\n" + bytes(self.stderr)).decode("utf-8", "replace")

    def kill(self, sig: int) -> None:
        os.kill(self.popen.pid, sig)


def run_dlq_tui(
    args: list[str], env: dict[str, str], stdin: bytes | None = None, timeout: float = 180
) -> Proc:
    proc = Proc(args, env, stdin)
    proc.wait(timeout)
    return proc


async def produce_many(bootstrap: str, topic: str, records: list[tuple[int, bytes, bytes]]) -> None:
    """Produce (partition, key, value) records fast (pipelined, idempotent; order kept per partition)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, v, key=k, partition=p) for p, k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
