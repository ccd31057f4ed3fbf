"""Schema ids in headers (`__key_schema_id` / `__value_schema_id`, as Confluent Schema Registry 8
serializers write them), the pending state while a schema is fetched, and merges that keep those
headers byte-exact."""

from __future__ import annotations

import io
import struct
import uuid
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.decode.formats import decode_bytes
from dlq_tui.decode.registry import RegisteredSchema, RegistryError, SchemaPending, SchemaRegistry
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.decode.wire import encode_message_indexes, header_schema_ref, schema_refs
from dlq_tui.demo.data import order_canceled_schema
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.records import RawRecord
from tests.proto_fixtures import MONEY_PROTO, MONEY_REF_NAME, ORDER_PROTO, order_classes, sample_order
from tests.stack import Rec, Stack, create_topic, kcat_read, produce, unique_name

GUID = uuid.UUID("89791762-2336-4186-9674-299b90a802e2")


def avro(datum: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(order_canceled_schema()), datum)
    return buf.getvalue()


def id_header(schema_id: int, indexes: tuple[int, ...] | None = None) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + (encode_message_indexes(indexes) if indexes else b"")


def guid_header(guid: uuid.UUID = GUID, indexes: tuple[int, ...] | None = None) -> bytes:
    return b"\x01" + guid.bytes + (encode_message_indexes(indexes) if indexes else b"")


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


# -- no broker -------------------------------------------------------------------------------------


def test_header_schema_ref_forms() -> None:
    assert header_schema_ref(id_header(7)) == (7, 5)
    assert header_schema_ref(guid_header()) == (str(GUID), 17)
    assert header_schema_ref(guid_header(indexes=(1,))) == (str(GUID), 17)
    for bad in (None, b"", b"\x02abc", b"\x00\x01", b"\x01" + bytes(15)):
        assert header_schema_ref(bad) is None
    refs = schema_refs(
        b"\x00\x00\x00\x00\x09x",
        None,
        [("__value_schema_id", guid_header()), ("other", b"\x00\x00\x00\x00\x08")],
    )
    assert refs == {9, str(GUID)}


class Pending:
    """A registry cache that has not fetched anything yet."""

    def get_schema(self, schema_id: int) -> RegisteredSchema:
        raise SchemaPending(f"schema id {schema_id} not fetched yet from the schema registry")

    def get_schema_by_guid(self, guid: str) -> RegisteredSchema:
        raise SchemaPending(f"schema GUID {guid} not fetched yet from the schema registry")


class Failing:
    def get_schema(self, schema_id: int | str) -> RegisteredSchema:
        raise RegistryError(f"fetching schema id {schema_id}: not found in schema registry at http://r")


def test_pending_schema_is_a_neutral_state_not_an_error() -> None:
    data = b"\x00\x00\x00\x00\x07" + avro({"orderNumber": "A", "reason": "B"})
    d = decode_bytes(data, "auto", Pending())
    assert d.pending and d.error is None and d.kind == "text"
    assert d.text == "… schema id 7 loading" and d.schema_id == 7 and d.raw == data
    rec = DecodedRecord(
        RawRecord(0, 1, 0, 0, b"k", b"v", (("__value_schema_id", guid_header()),)), registry=Pending()
    )
    assert rec.pending and rec.value.text == f"… schema GUID {GUID} loading"
    assert not rec.key.pending
    failed = decode_bytes(data, "auto", Failing())
    assert not failed.pending and failed.kind == "hex" and failed.error is not None  # a real failure


def test_header_schema_without_registry_falls_back_to_auto_with_a_note() -> None:
    rec = DecodedRecord(RawRecord(0, 1, 0, 0, None, b'{"a":1}', (("__value_schema_id", id_header(5)),)))
    assert rec.value.kind == "json" and rec.value.data == {"a": 1}
    assert rec.value.error == "header __value_schema_id: schema id 5: no schema registry configured"


@settings(max_examples=300, deadline=None)
@given(header=st.binary(max_size=40), value=st.binary(max_size=60))
def test_decoding_with_random_schema_headers_never_raises(header: bytes, value: bytes) -> None:
    for registry in (None, Pending(), Failing()):
        rec = DecodedRecord(
            RawRecord(0, 1, 0, 0, value, value, (("__key_schema_id", header), ("__value_schema_id", header))),
            registry=registry,
        )
        assert rec.value.raw == value and rec.key.raw == value
        rec.full_text()


# -- against the real registry and broker ----------------------------------------------------------


async def test_header_schema_ids_decode_and_merge_keeps_them_byte_exact(
    stack: Stack, topic_name: str
) -> None:
    with SchemaRegistry(stack.registry_url) as registry:
        avro_id = registry.register(f"{topic_name}-value", order_canceled_schema())
        registry.register(f"{topic_name}-money", MONEY_PROTO, "PROTOBUF")
        refs = [{"name": MONEY_REF_NAME, "subject": f"{topic_name}-money", "version": 1}]
        proto_id = registry.register(f"{topic_name}-order", ORDER_PROTO, "PROTOBUF", refs)
        key_id = registry.register(f"{topic_name}-key", {"type": "string"})
    order = sample_order(order_classes())
    key_header = ("__key_schema_id", id_header(key_id))
    records = [
        Rec(b"\x0cORD-H1", avro({"orderNumber": "ORD-H1", "reason": "late"}),
            headers=[("__value_schema_id", id_header(avro_id)), key_header, ("trace", b"\x00\xff")]),
        Rec(b"k-proto", order.SerializeToString(), headers=[("__value_schema_id", id_header(proto_id, (1,)))]),
        Rec(b"k-guid", b'{"orderNumber": "ORD-G"}', headers=[("__value_schema_id", guid_header())]),
        Rec(b"k-poison", b"\x12\xff\xff\xff\x7f", headers=[("__value_schema_id", id_header(proto_id, (1,)))]),
    ]  # fmt: skip
    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await create_topic(stack.bootstrap, source)
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, records)
    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        destination=dest,
        group=unique_name("g"),
        registry_url=stack.registry_url,
    )
    session = TriageSession(cfg)
    try:
        await session.open()
        await session.load_all()
        assert session.prefetch_schemas(range(4)) == 4  # three ids and the GUID
        by_avro, by_proto, by_guid = (session.decoded(r) for r in range(3))
        assert by_avro.value.kind == "avro" and by_avro.value.schema_id == avro_id
        assert by_avro.value.data == {"orderNumber": "ORD-H1", "reason": "late"}
        assert (by_avro.key.kind, by_avro.key.data) == ("avro", "ORD-H1")
        assert by_proto.value.kind == "protobuf" and by_proto.value.schema_title == "shop.Order"
        assert by_proto.value.data["customer"]["name"] == "Bob"
        # Apicurio's Confluent API has no GUIDs: shown as auto would, saying so clearly
        assert by_guid.value.kind == "json" and by_guid.value.data == {"orderNumber": "ORD-G"}
        error = by_guid.value.error or ""
        assert error.startswith(f"header __value_schema_id: fetching schema GUID {GUID}: not found")
        assert "cannot resolve this GUID" in error

        poison = session.decoded(3).value  # shown as hex with the reason, and merged like the others
        assert poison.kind == "hex" and (poison.error or "").startswith(
            f"header __value_schema_id: not valid Protobuf for schema {proto_id}"
        )
        session.decide(range(4), Decision.MERGE)
        report = await session.commit()
        assert len(report.committed) == 4
    finally:
        await session.close()
    merged = kcat_read(stack.bootstrap, dest)
    assert [(m.key, m.value, m.headers) for m in merged] == [(r.key, r.value, r.headers) for r in records]


class GuidFront:
    """Confluent Schema Registry 8's ``GET /schemas/guids/{guid}`` in front of the stack's registry
    (Apicurio's Confluent API has no GUIDs): a small HTTP server in a thread that answers a GUID with
    the real registry's answer for the id it stands for, and passes every other GET through."""

    def __init__(self, upstream: str, guids: dict[str, int]) -> None:
        import http.server
        import threading
        import urllib.request

        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path
                marker = "/schemas/guids/"
                if marker in path:
                    guid = path.split(marker, 1)[1]
                    if guid not in guids:
                        self._send(404, b'{"error_code": 40403, "message": "Schema not found"}')
                        return
                    path = path.split(marker, 1)[0] + f"/schemas/ids/{guids[guid]}"
                    front.guid_requests += 1
                try:
                    with urllib.request.urlopen(upstream + path, timeout=10) as r:
                        self._send(r.status, r.read())
                except urllib.error.HTTPError as e:
                    self._send(e.code, e.read())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.guid_requests = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GuidFront:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_guid_header_decodes_when_the_registry_resolves_it(stack: Stack, topic_name: str) -> None:
    from urllib.parse import urlsplit

    with SchemaRegistry(stack.registry_url) as registry:
        registry.register(f"{topic_name}-money", MONEY_PROTO, "PROTOBUF")
        refs = [{"name": MONEY_REF_NAME, "subject": f"{topic_name}-money", "version": 1}]
        proto_id = registry.register(f"{topic_name}-order", ORDER_PROTO, "PROTOBUF", refs)
    guid = uuid.uuid4()
    root = stack.registry_url[: -len(urlsplit(stack.registry_url).path)]
    order = sample_order(order_classes())
    with (
        GuidFront(root, {str(guid): proto_id}) as front,
        SchemaRegistry(front.url + urlsplit(stack.registry_url).path) as client,
    ):
        header = ("__value_schema_id", guid_header(guid, (1,)))
        rec = DecodedRecord(
            RawRecord(0, 1, 0, 0, None, order.SerializeToString(), (header,)), registry=client
        )
        assert rec.value.kind == "protobuf" and rec.value.error is None, rec.value.error
        assert rec.value.schema_id == str(guid) and rec.value.schema_title == "shop.Order"
        assert rec.value.data["customer"]["name"] == "Bob"
        assert front.guid_requests == 1
        other = DecodedRecord(
            RawRecord(0, 2, 0, 0, None, b"\x0a\x01x", (("__value_schema_id", guid_header()),)),
            registry=client,
        )
        assert other.value.kind == "hex" and other.value.error is not None
        assert "cannot resolve this GUID" in other.value.error
