"""Schema registry client. Happy paths run against a real registry (Apicurio's ccompat API or a
Confluent Schema Registry) at $DLQ_TUI_TEST_REGISTRY_URL; failure paths use a closed port and a
small real HTTP server on loopback (no httpx mocks)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import fastavro
import httpx
import pytest

from dlq_tui.decode.formats import decode_bytes
from dlq_tui.decode.registry import RegistryError, SchemaRegistry
from dlq_tui.decode.view import RecordDecoder
from dlq_tui.triage.records import RawRecord

REGISTRY_URL = os.environ.get("DLQ_TUI_TEST_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7")
CLOSED = "http://127.0.0.1:1"

ORDER = {
    "type": "record",
    "name": "OrderCanceled",
    "namespace": "dlqtui.test",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "reason", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    ],
}


def wire(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + payload


def avro_payload(schema: Any, record: object) -> bytes:
    bio = io.BytesIO()
    fastavro.schemaless_writer(bio, fastavro.parse_schema(schema), record)
    return bio.getvalue()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- real registry -------------------------------------------------------------------------------


@pytest.fixture
def registry() -> Iterator[SchemaRegistry]:
    reg = SchemaRegistry(REGISTRY_URL)
    try:
        reg.subjects()
    except RegistryError as exc:
        reg.close()
        pytest.fail(f"test registry not available ({exc}); start the stack or set DLQ_TUI_TEST_REGISTRY_URL")
    yield reg
    reg.close()


@pytest.fixture
def subject() -> str:
    return f"dlqtui-test-{uuid.uuid4().hex[:12]}-value"


@pytest.mark.stack
def test_register_fetch_and_decode(registry: SchemaRegistry, subject: str) -> None:
    unique = {**ORDER, "doc": subject}  # ids are per content: a fresh schema has only this subject
    schema_id = registry.register(subject, unique)
    # Not `subject in registry.subjects()`: Apicurio's ccompat API lists at most 1,000 subjects, and
    # the shared stack holds more after a few test runs.
    import httpx

    versions = httpx.get(f"{REGISTRY_URL}/subjects/{subject}/versions", timeout=10).json()
    assert versions == [1]

    fresh = SchemaRegistry(REGISTRY_URL)  # no subject known from register(): looked up
    try:
        schema = fresh.get_schema(schema_id)
        assert schema.schema_id == schema_id and schema.schema_type == "AVRO"
        assert schema.subject == subject
        assert json.loads(schema.schema_str)["name"] == "OrderCanceled"
        count = fresh.request_count
        assert fresh.get_schema(schema_id) is schema  # cached by id
        assert fresh.request_count == count

        data = wire(
            schema_id,
            avro_payload(ORDER, {"order_id": "ORD1", "reason": "wrong product", "amount": Decimal("9.99")}),
        )
        d = decode_bytes(data, "auto", fresh)
        assert d.kind == "avro" and d.error is None
        assert d.data == {"order_id": "ORD1", "reason": "wrong product", "amount": "9.99"}
        assert (d.schema_id, d.subject) == (schema_id, subject)
        assert fresh.request_count == count
    finally:
        fresh.close()


@pytest.mark.stack
def test_record_decoder_end_to_end(registry: SchemaRegistry, subject: str) -> None:
    key_schema = {"type": "string"}
    key_id = registry.register(subject.replace("-value", "-key"), key_schema)
    value_id = registry.register(subject, ORDER)
    raw = RawRecord(
        0,
        7,
        0,
        0,
        wire(key_id, avro_payload(key_schema, "ORD7")),
        wire(
            value_id, avro_payload(ORDER, {"order_id": "ORD7", "reason": "late", "amount": Decimal("1.00")})
        ),
        (("kafka_dlt-exception-fqcn", b"x.Timeout"),),
    )
    rec = RecordDecoder(key_format="avro", value_format="auto", registry=registry).decode(raw)
    assert rec.key.data == "ORD7" and rec.key_text() == '"ORD7"'
    assert rec.value_fields("reason") == ["late"]
    assert rec.error_text() == "x.Timeout"


@pytest.mark.stack
def test_schema_references(registry: SchemaRegistry, subject: str) -> None:
    item = {
        "type": "record",
        "name": "Item",
        "namespace": "dlqtui.ref",
        "fields": [{"name": "sku", "type": "string"}],
    }
    item_subject = subject.replace("-value", "-item")
    registry.register(item_subject, item)
    order = {
        "type": "record",
        "name": "Order",
        "namespace": "dlqtui.ref",
        "fields": [{"name": "item", "type": "dlqtui.ref.Item"}],
    }
    refs = [{"name": "dlqtui.ref.Item", "subject": item_subject, "version": 1}]
    order_id = registry.register(subject, order, references=refs)
    payload = avro_payload({**order, "fields": [{"name": "item", "type": item}]}, {"item": {"sku": "A-1"}})
    with SchemaRegistry(REGISTRY_URL) as fresh:  # references resolved from the registry
        d = decode_bytes(wire(order_id, payload), "auto", fresh)
    assert d.kind == "avro" and d.data == {"item": {"sku": "A-1"}}


@pytest.mark.stack
def test_json_schema_type(registry: SchemaRegistry, subject: str) -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"a": {"type": "integer"}},
    }
    schema_id = registry.register(subject, schema, schema_type="JSON")
    d = decode_bytes(wire(schema_id, b'{"a": 1}'), "auto", registry)
    assert (d.kind, d.data, d.schema_id, d.error) == ("json", {"a": 1}, schema_id, None)


@pytest.mark.stack
def test_unknown_schema_id(registry: SchemaRegistry) -> None:
    unknown = 2_000_000_000 + uuid.uuid4().int % 100_000_000
    with pytest.raises(RegistryError) as info:
        registry.get_schema(unknown)
    msg = info.value.message
    assert msg.startswith(f"fetching schema id {unknown}: not found in schema registry at ")
    assert info.value.status == 404 and not info.value.outage
    count = registry.request_count
    d = decode_bytes(wire(unknown, b"\x02x"), "auto", registry)
    assert d.kind == "hex" and d.error == msg and d.schema_id == unknown
    assert registry.request_count == count  # negative cache: no second request


@pytest.mark.stack
def test_poison_avro_behind_registered_id(registry: SchemaRegistry, subject: str) -> None:
    schema_id = registry.register(subject, ORDER)
    data = wire(schema_id, b"\xff\xff\xff\xff\x7f not avro")
    d = decode_bytes(data, "auto", registry)
    assert d.kind == "hex" and d.text == data.hex()
    assert d.error is not None and d.error.startswith(f"not valid Avro for schema {schema_id}: ")


# -- registry down (closed port) -----------------------------------------------------------------


def test_registry_down_is_a_clear_message_and_hex_fallback() -> None:
    clock = FakeClock()
    reg = SchemaRegistry(CLOSED + "/apis/ccompat/v7", user_info="bob:s3cr3t-pw", clock=clock)
    with pytest.raises(RegistryError) as info:
        reg.get_schema(7)
    msg = info.value.message
    assert msg.startswith("schema registry at http://127.0.0.1:1/apis/ccompat/v7 unreachable: ")
    assert "refused" in msg.lower()
    assert "s3cr3t" not in msg and "\n" not in msg and info.value.outage

    data = wire(7, b"\x02x")
    d = decode_bytes(data, "auto", reg)
    assert d.kind == "hex" and d.text == data.hex()
    assert d.error == f"schema id 7: {msg}"
    # the outage is cached for all ids: a million records cost one connection attempt
    assert reg.request_count == 1
    assert decode_bytes(wire(8, b"\x02x"), "avro", reg).error == f"schema id 8: {msg}"
    assert reg.request_count == 1
    clock.now += 31
    with pytest.raises(RegistryError):
        reg.get_schema(7)
    assert reg.request_count == 2
    reg.close()


def test_credentials_in_url_are_used_and_never_shown() -> None:
    reg = SchemaRegistry("http://alice:hunter2-secret@127.0.0.1:1/, http://other:8081")
    assert reg.url == "http://127.0.0.1:1" and "hunter2" not in repr(reg)
    with pytest.raises(RegistryError) as info:
        reg.subjects()
    assert "hunter2" not in str(info.value)
    reg.close()


# -- a real local HTTP server for 401 / 500 / bad JSON / timeouts --------------------------------


class _Handler(BaseHTTPRequestHandler):
    seen_auth: ClassVar[list[str | None]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        _Handler.seen_auth.append(self.headers.get("Authorization"))
        path = self.path
        if path.startswith("/auth/"):
            self._send(401, b'{"error_code":40101,"message":"Unauthorized"}')
        elif path.startswith("/boom/"):
            self._send(503, b"<html>down</html>", "text/html")
        elif path.startswith("/badjson/"):
            self._send(200, b"{not json", "application/json")
        elif path.startswith("/badschema/"):
            self._send(200, json.dumps({"schema": '{"type": "recrod"}'}).encode())
        elif path.startswith("/slow/"):
            time.sleep(1.0)
            self._send(200, b"{}")
        else:
            self._send(404, b'{"error_code":40403,"message":"Schema not found"}')

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client timed out on /slow
            self.wfile.write(body)


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_basic_auth_sent_and_401_message_has_no_password(local_server: str) -> None:
    _Handler.seen_auth.clear()
    reg = SchemaRegistry(local_server + "/auth", user_info="bob:pa55-word")
    with pytest.raises(RegistryError) as info:
        reg.get_schema(1)
    msg = info.value.message
    assert msg == (
        f"schema registry at {local_server}/auth: 401 Unauthorized fetching schema id 1 "
        "(check basic.auth.user.info): Unauthorized (error_code 40101)"
    )
    assert "pa55" not in msg and info.value.outage
    assert _Handler.seen_auth[0] == httpx.BasicAuth("bob", "pa55-word")._auth_header
    reg.close()


def test_server_error_bad_json_bad_schema(local_server: str) -> None:
    with (
        SchemaRegistry(local_server + "/boom") as reg,
        pytest.raises(RegistryError, match=r"503 Service Unavailable fetching schema id 1$"),
    ):
        reg.get_schema(1)
    with SchemaRegistry(local_server + "/badjson") as reg:
        with pytest.raises(RegistryError, match=r"invalid JSON in response fetching schema id 1$") as info:
            reg.get_schema(1)
        assert not info.value.outage
    with SchemaRegistry(local_server + "/badschema") as reg:
        d = decode_bytes(wire(5, b"\x02x"), "auto", reg)
        assert d.kind == "hex"
        assert d.error is not None and d.error.startswith("schema id 5 is not a valid Avro schema: ")
    with (
        SchemaRegistry(local_server) as reg,
        pytest.raises(
            RegistryError, match=r"not found in schema registry .*: Schema not found \(error_code 40403\)"
        ),
    ):
        reg.get_schema(1)


def test_read_timeout(local_server: str) -> None:
    with SchemaRegistry(local_server + "/slow", read_timeout=0.2) as reg:
        started = time.monotonic()
        with pytest.raises(RegistryError, match=r"request timed out fetching schema id 1$") as info:
            reg.get_schema(1)
        assert time.monotonic() - started < 0.9
        assert info.value.outage


def test_threads_share_one_fetch() -> None:
    """Concurrent look-ups of an unreachable registry make one request, not one per thread."""
    reg = SchemaRegistry(CLOSED)
    results: list[str] = []

    def work() -> None:
        d = decode_bytes(wire(3, b"x"), "auto", reg)
        results.append(d.error or "")

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16 and len(set(results)) == 1
    assert reg.request_count == 1
    reg.close()
