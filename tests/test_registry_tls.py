"""The schema registry over TLS with a private CA and client certificates: the local registry behind
a small TLS-terminating proxy started here, certificates made with openssl. Trusted -> decodes;
untrusted -> a clear error naming the CA problem, records still shown raw."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dlq_tui.decode.registry import RegistryError, SchemaRegistry
from dlq_tui.decode.registry_tls import RegistryTls, RegistryTlsError, registry_tls_from_properties
from dlq_tui.demo.data import order_canceled_schema, wire_avro
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.settings import Settings, SettingsError, resolve_connection
from tests.stack import Rec, Stack, create_topic, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
KEY_PASSWORD = "client-key-secret"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path  # encrypted with KEY_PASSWORD
    client_bundle: Path  # certificate and (unencrypted) key in one PEM file, as a PEM keystore
    other_ca: Path  # a CA that signed nothing here


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(d: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=dlq-tui test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)  # fmt: skip


def _leaf(d: Path, name: str, ext: str, *key_args: str) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", *key_args,
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)  # fmt: skip
    (d / f"{name}.ext").write_text(ext + "\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    _ca(d, "ca")
    _ca(d, "other")
    _leaf(d, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth", "-nodes")
    _leaf(d, "client", "extendedKeyUsage=clientAuth", "-passout", f"pass:{KEY_PASSWORD}")
    _openssl(
        "pkey", "-in", "client.key", "-passin", f"pass:{KEY_PASSWORD}", "-out", "client-plain.key", cwd=d
    )
    (d / "client-bundle.pem").write_text(
        (d / "client.pem").read_text() + (d / "client-plain.key").read_text()
    )
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key",
               d / "client-bundle.pem", d / "other.pem")  # fmt: skip


class TlsProxy:
    """TLS on 127.0.0.1:<port> in front of a plain TCP service; bytes piped both ways. Runs its own
    event loop in a thread; stops when the `with` block ends."""

    def __init__(self, target: tuple[str, int], ctx: ssl.SSLContext) -> None:
        self.target, self.ctx = target, ctx
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TlsProxy:
        self._thread.start()
        assert self._ready.wait(10), "proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.set_exception_handler(lambda loop, context: None)  # refused handshakes are the point
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ctx)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def server_context(pki: Pki, *, client_certs: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    if client_certs:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki.ca)
    return ctx


@contextlib.contextmanager
def tls_registry(stack: Stack, pki: Pki, *, client_certs: bool = False) -> Iterator[str]:
    """The https URL of the stack's registry (Confluent API base) behind the proxy."""
    parts = urlsplit(stack.registry_url)
    with TlsProxy(
        (parts.hostname or "127.0.0.1", parts.port or 80), server_context(pki, client_certs=client_certs)
    ) as proxy:
        yield f"https://127.0.0.1:{proxy.port}{parts.path}"


async def _dlq(stack: Stack, name: str) -> tuple[str, int]:
    with SchemaRegistry(stack.registry_url) as registry:
        schema_id = registry.register(f"{name}-value", order_canceled_schema())
    source = f"{name}-dlq"
    await create_topic(stack.bootstrap, source)
    await produce(
        stack.bootstrap,
        source,
        [Rec(b"ORD-T1", wire_avro(schema_id, {"orderNumber": "ORD-T1", "reason": "tls"}))],
    )
    return source, schema_id


async def _decoded_value(stack: Stack, source: str, url: str, tls: RegistryTls | None) -> object:
    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap), source=source, group=unique_name("g"),
        registry_url=url, registry_tls=tls, use_journal=False, read_only=True,
    )  # fmt: skip
    session = TriageSession(cfg)
    try:
        await session.open()
        await session.load_all()
        await asyncio.to_thread(session.prefetch_schemas, range(len(session.store)))
        return session.decoded(0).value
    finally:
        await session.close()


# -- settings (no broker) --------------------------------------------------------------------------


def test_properties_map_to_tls_settings(pki: Pki) -> None:
    java = {
        "schema.registry.ssl.truststore.location": str(pki.ca),
        "schema.registry.ssl.truststore.type": "PEM",
        "schema.registry.ssl.keystore.location": str(pki.client_bundle),
        "schema.registry.ssl.keystore.type": "PEM",
    }
    assert registry_tls_from_properties(java) == RegistryTls(
        str(pki.ca), str(pki.client_bundle), None, None, True
    )
    pem = {
        "schema.registry.ssl.ca.location": str(pki.ca),
        "schema.registry.ssl.certificate.location": str(pki.client_cert),
        "schema.registry.ssl.key.location": str(pki.client_key),
        "schema.registry.ssl.key.password": KEY_PASSWORD,
        "schema.registry.ssl.endpoint.identification.algorithm": "",
    }
    tls = registry_tls_from_properties(pem)
    assert tls == RegistryTls(str(pki.ca), str(pki.client_cert), str(pki.client_key), KEY_PASSWORD, False)
    assert tls is not None and isinstance(tls.ssl_context(), ssl.SSLContext)
    assert registry_tls_from_properties({"schema.registry.url": "https://r"}) is None
    # through the settings, as -c/-o properties (given to the consumer, taken for both clients)
    settings = Settings(bootstrap_servers="b:9092", consumer_properties=pem)
    conn = resolve_connection(settings)
    assert conn.registry_tls == tls
    assert "client-key-secret" not in repr(conn.registry_tls)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"schema.registry.ssl.truststore.location": "/x.jks", "schema.registry.ssl.truststore.type": "JKS"},
         "schema.registry.ssl.truststore.type=JKS is not supported: give a PEM file"),
        ({"schema.registry.ssl.ca.location": "/no/such/ca.pem"}, "schema registry TLS CA file: no such file /no/such/ca.pem"),
        ({"schema.registry.ssl.key.location": "/k.pem"}, "schema.registry.ssl.key.location needs schema.registry.ssl.certificate.location"),
        ({"schema.registry.ssl.endpoint.identification.algorithm": "dns"}, "schema.registry.ssl.endpoint.identification.algorithm 'dns'"),
    ],
)  # fmt: skip
def test_bad_tls_settings_are_clear_errors(props: dict[str, str], expected: str) -> None:
    with pytest.raises(RegistryTlsError) as info:
        registry_tls_from_properties(props)
    assert str(info.value).startswith(expected), str(info.value)
    with pytest.raises(SettingsError):
        resolve_connection(Settings(bootstrap_servers="b:9092", properties=props))


def test_wrong_key_password_is_a_settings_error(pki: Pki) -> None:
    props = {
        "schema.registry.ssl.certificate.location": str(pki.client_cert),
        "schema.registry.ssl.key.location": str(pki.client_key),
        "schema.registry.ssl.key.password": "wrong",
    }
    with pytest.raises(SettingsError) as info:
        resolve_connection(Settings(bootstrap_servers="b:9092", properties=props))
    assert str(info.value).startswith(
        f"schema registry client certificate {pki.client_cert} / {pki.client_key}:"
    )


# -- against the registry behind TLS ---------------------------------------------------------------


async def test_trusted_private_ca_decodes(stack: Stack, pki: Pki, topic_name: str) -> None:
    source, _ = await _dlq(stack, topic_name)
    with tls_registry(stack, pki) as url:
        value = await _decoded_value(stack, source, url, RegistryTls(cafile=str(pki.ca)))
    assert getattr(value, "kind", None) == "avro"
    assert getattr(value, "data", None) == {"orderNumber": "ORD-T1", "reason": "tls"}


async def test_untrusted_ca_is_a_clear_error_and_records_stay_raw(
    stack: Stack, pki: Pki, topic_name: str
) -> None:
    source, schema_id = await _dlq(stack, topic_name)
    with tls_registry(stack, pki) as url:
        for tls in (None, RegistryTls(cafile=str(pki.other_ca))):  # system CAs; the wrong private CA
            value = await _decoded_value(stack, source, url, tls)
            assert getattr(value, "kind", None) == "hex"
            error = getattr(value, "error", "") or ""
            assert error.startswith(
                f"schema id {schema_id}: schema registry at {url}: TLS certificate not trusted ("
            )
            assert "CERTIFICATE_VERIFY_FAILED" in error
            assert "schema.registry.ssl.ca.location" in error


async def test_client_certificate_required(stack: Stack, pki: Pki, topic_name: str) -> None:
    source, _ = await _dlq(stack, topic_name)
    with tls_registry(stack, pki, client_certs=True) as url:
        with_cert = RegistryTls(str(pki.ca), str(pki.client_cert), str(pki.client_key), KEY_PASSWORD)
        value = await _decoded_value(stack, source, url, with_cert)
        assert getattr(value, "data", None) == {"orderNumber": "ORD-T1", "reason": "tls"}
        bundle = RegistryTls(str(pki.ca), str(pki.client_bundle))  # a PEM keystore: cert and key in one file
        assert getattr(await _decoded_value(stack, source, url, bundle), "kind", None) == "avro"
        no_cert = RegistryTls(cafile=str(pki.ca)).ssl_context()
        with SchemaRegistry(url, verify=no_cert) as registry, pytest.raises(RegistryError) as info:
            registry.subjects()
        assert "client certificate" in info.value.message, info.value.message


async def test_print_with_java_truststore_properties(stack: Stack, pki: Pki, topic_name: str) -> None:
    source, _ = await _dlq(stack, topic_name)
    with tls_registry(stack, pki, client_certs=True) as url:
        args = [
            "print", "-b", stack.bootstrap, "-g", unique_name("g"), "--format", "jsonl",
            "-c", f"schema.registry.url={url}",
            "-c", f"schema.registry.ssl.truststore.location={pki.ca}",
            "-c", "schema.registry.ssl.truststore.type=PEM",
            "-c", f"schema.registry.ssl.keystore.location={pki.client_bundle}",
            "-c", "schema.registry.ssl.keystore.type=PEM",
            source,
        ]  # fmt: skip
        # the proxy runs in this process: run the command without blocking its event loop thread
        printed = await asyncio.to_thread(
            subprocess.run, [DLQ_TUI, *args], capture_output=True, text=True, timeout=120,
            env={**os.environ, "XDG_STATE_HOME": "/nonexistent-state"},
        )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    line = json.loads(printed.stdout.splitlines()[0])
    assert line["value"] == {"orderNumber": "ORD-T1", "reason": "tls"} and line["value_format"] == "avro"
