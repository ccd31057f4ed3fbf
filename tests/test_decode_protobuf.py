"""Protobuf via the registry: schema text compiled at run time, the message-index array, the proto3
JSON mapping, poison bytes; end to end against the real registry (ccompat API, a schema reference)
and broker, read back through the engine and `dlq-tui print`."""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.decode.formats import decode_bytes
from dlq_tui.decode.proto_compile import ProtoCompileError
from dlq_tui.decode.protobuf import ProtobufDecodeError, ProtoSchema
from dlq_tui.decode.registry import RegisteredSchema, RegistryError, SchemaRegistry
from dlq_tui.decode.view import DecodedRecord
from dlq_tui.decode.wire import encode_message_indexes, read_message_indexes
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.filter import parse
from dlq_tui.triage.records import RawRecord
from tests.proto_fixtures import (
    MONEY_PROTO,
    MONEY_REF_NAME,
    ORDER_PROTO,
    SAMPLE_ORDER_JSON,
    order_classes,
    sample_order,
)
from tests.stack import Rec, Stack, create_topic, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))


def wire(schema_id: int, indexes: tuple[int, ...], payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + encode_message_indexes(indexes) + payload


class Schemas:
    """In-memory SchemaSource of compiled schemas (the registry itself is tested below)."""

    def __init__(self, **by_id: RegisteredSchema) -> None:
        self.by_id = {int(k[1:]): v for k, v in by_id.items()}

    def get_schema(self, schema_id: int | str) -> RegisteredSchema:
        try:
            return self.by_id[int(schema_id)]
        except (KeyError, ValueError):
            raise RegistryError(f"schema id {schema_id}: not found") from None


@pytest.fixture(scope="module")
def order_schema() -> ProtoSchema:
    return ProtoSchema.compile(ORDER_PROTO, {MONEY_REF_NAME: MONEY_PROTO})


@pytest.fixture(scope="module")
def schemas(order_schema: ProtoSchema) -> Schemas:
    return Schemas(s21=RegisteredSchema(21, "PROTOBUF", ORDER_PROTO, order_schema, "orders-value"))


# -- compiling and decoding (no broker) -----------------------------------------------------------


def test_message_index_array_round_trip() -> None:
    for indexes in ((0,), (1,), (1, 0), (3, 2, 1), (200, 70000)):
        data = b"\xff" + encode_message_indexes(indexes) + b"rest"
        assert read_message_indexes(data, 1) == (indexes, len(data) - 4)
    assert encode_message_indexes((0,)) == b"\x00"  # the first message: one 0 byte
    assert encode_message_indexes((1,)) == b"\x02\x02"  # count 1, index 1, zigzag


def test_decodes_every_feature_of_the_schema(schemas: Schemas) -> None:
    classes = order_classes()
    data = wire(21, (1,), sample_order(classes).SerializeToString())
    d = decode_bytes(data, "auto", schemas)
    assert d.kind == "protobuf" and d.error is None, d.error
    assert d.schema_id == 21 and d.subject == "orders-value" and d.schema_type == "PROTOBUF"
    assert d.schema_title == "shop.Order"
    assert d.data == SAMPLE_ORDER_JSON
    assert json.loads(d.text) == SAMPLE_ORDER_JSON
    assert d.structured and '"units": "1099511627776"' in d.pretty()
    assert decode_bytes(data, "avro", schemas).data == SAMPLE_ORDER_JSON  # -a: any registry schema


def test_fields_at_their_default_are_shown(schemas: Schemas) -> None:
    order = order_classes()["shop.Order"](id="ORD-0")
    d = decode_bytes(wire(21, (1,), order.SerializeToString()), "auto", schemas)
    assert d.data == {"id": "ORD-0", "lines": [], "tags": {}, "status": "STATUS_UNKNOWN"}


def test_index_array_selects_the_message(schemas: Schemas) -> None:
    classes = order_classes()
    ping = decode_bytes(wire(21, (0,), classes["shop.Ping"](note="hi").SerializeToString()), "auto", schemas)
    assert (ping.kind, ping.data, ping.schema_title) == ("protobuf", {"note": "hi"}, "shop.Ping")
    customer = classes["shop.Order.Customer"](name="Ann")
    nested = decode_bytes(wire(21, (1, 0), customer.SerializeToString()), "auto", schemas)
    assert nested.schema_title == "shop.Order.Customer" and nested.data["name"] == "Ann"
    missing = decode_bytes(wire(21, (5,), b""), "auto", schemas)
    assert missing.kind == "hex" and missing.error is not None
    assert "message index [5] names no message" in missing.error


def test_poison_bytes_are_hex_with_the_reason(schemas: Schemas) -> None:
    data = wire(21, (1,), b"\x0a\xff\xff\xff\xff\x0f")  # field 1 claims a length far past the end
    d = decode_bytes(data, "auto", schemas)
    assert d.kind == "hex" and d.text == data.hex() and d.raw == data
    assert d.error is not None and d.error.startswith("not valid Protobuf for schema 21: not a shop.Order")
    cut = decode_bytes(b"\x00\x00\x00\x00\x15\x06\x02", "auto", schemas)  # index array cut short
    assert (
        cut.kind == "hex" and cut.error == "not valid Protobuf for schema 21: message index array cut short"
    )


def test_unknown_fields_are_a_note(schemas: Schemas) -> None:
    order = order_classes()["shop.Order"](id="X")
    data = wire(21, (1,), order.SerializeToString() + b"\xa0\x06\x01")  # field 100, varint
    d = decode_bytes(data, "auto", schemas)
    assert d.kind == "protobuf" and d.data["id"] == "X"
    assert d.error == "1 unknown field(s) not in shop.Order"


def test_well_known_types_and_proto2() -> None:
    text = """
    syntax = "proto3";
    import "google/protobuf/duration.proto";
    import "google/protobuf/wrappers.proto";
    import "google/protobuf/struct.proto";
    import "google/protobuf/timestamp.proto";
    message W {
      google.protobuf.Duration wait = 1;
      google.protobuf.Int64Value big = 2;
      google.protobuf.StringValue maybe = 3;
      google.protobuf.Struct extra = 4;
      google.protobuf.Timestamp at = 5;
      optional int32 opt = 6;
      bytes blob = 7;
      sint64 neg = 8;
      double ratio = 9;
    }
    """
    schema = ProtoSchema.compile(text)
    from google.protobuf import message_factory

    cls = message_factory.GetMessageClass(schema.message_type((0,)))
    msg = cls(neg=-5, blob=b"\x00\x01", ratio=float("nan"))
    msg.wait.FromSeconds(90)
    msg.big.value = 2**62
    msg.maybe.value = "x"
    msg.extra.update({"a": [1, "b"], "c": None})
    msg.at.FromSeconds(0)
    value, name, note = schema.decode(msg.SerializeToString())
    assert name == "W" and note is None
    assert value == {
        "wait": "90s",
        "big": str(2**62),
        "maybe": "x",
        "extra": {"a": [1.0, "b"], "c": None},
        "at": "1970-01-01T00:00:00Z",
        "blob": "AAE=",
        "neg": "-5",
        "ratio": "NaN",
    }
    proto2 = ProtoSchema.compile(
        'syntax = "proto2"; message P { required string a = 1; repeated int32 n = 2 [packed=true]; '
        "optional group G = 3 { optional int32 x = 4; } }"
    )
    from google.protobuf import message_factory as mf

    p = mf.GetMessageClass(proto2.message_type((0,)))(a="v", n=[1, 2])
    p.g.x = 7
    assert proto2.decode(p.SerializeToString())[0] == {"a": "v", "n": [1, 2], "g": {"x": 7}}


@pytest.mark.parametrize(
    ("text", "refs", "expected"),
    [
        ('syntax = "proto3"; message X { string a = 1 }', {}, "syntax error at line 1:"),
        ('syntax = "proto3"; message X { Missing a = 1; }', {}, "Missing"),
        ('syntax = "proto3"; import "other.proto"; message X { o.Thing a = 1; }', {}, "o.Thing"),
        ('syntax = "proto3"; message X { string a = 1; int32 b = 1; }', {}, "duplicate field number"),
        ('edition = "2023"; message X {}', {}, "editions"),
        ('syntax = "proto3"; import "a.proto";', {"a.proto": 'import "schema.proto";'}, ""),
    ],
)
def test_bad_schemas_are_one_line_errors(text: str, refs: dict[str, str], expected: str) -> None:
    with pytest.raises(ProtoCompileError) as info:
        ProtoSchema.compile(text, refs)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_field_filters_work_on_protobuf(schemas: Schemas) -> None:
    classes = order_classes()
    rec = RawRecord(0, 7, 0, 0, None, wire(21, (1,), sample_order(classes, "Bob").SerializeToString()))
    d = DecodedRecord(rec, registry=schemas)
    assert d.value_fields("customer.name") == ["Bob"]
    assert d.value_fields("lines.sku") == ["SKU-1", "SKU-2"]
    assert parse("value.customer.name:Bob").matches(d)
    assert parse("value.customer.address.city:Würz*").matches(d)
    assert parse("value.status:CANCELED value.total.units:1099511627776").matches(d)
    assert not parse("value.customer.name:Alice").matches(d)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=200), indexes=st.lists(st.integers(0, 3), min_size=1, max_size=3))
def test_protobuf_decoding_never_raises_on_random_bytes(
    order_schema: ProtoSchema, payload: bytes, indexes: list[int]
) -> None:
    try:
        value, _name, _note = order_schema.decode(payload, tuple(indexes))
    except ProtobufDecodeError:
        return
    json.dumps(value)  # always JSON-able


@settings(max_examples=300, deadline=None)
@given(tail=st.binary(max_size=200))
def test_decode_bytes_never_raises_on_random_protobuf_framing(schemas: Schemas, tail: bytes) -> None:
    data = b"\x00\x00\x00\x00\x15" + tail
    d = decode_bytes(data, "auto", schemas)
    assert d.kind in ("protobuf", "hex") and d.raw == data
    if d.kind == "hex":
        assert d.error and d.text == data.hex()


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_compiling_random_text_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(ProtoCompileError):
        ProtoSchema.compile(text)


# -- against the real registry and broker ----------------------------------------------------------


def register_order_schemas(registry: SchemaRegistry, name: str) -> int:
    money_subject = f"{name}-money"
    registry.register(money_subject, MONEY_PROTO, "PROTOBUF")
    refs = [{"name": MONEY_REF_NAME, "subject": money_subject, "version": 1}]
    return registry.register(f"{name}-value", ORDER_PROTO, "PROTOBUF", refs)


async def test_protobuf_records_decode_through_the_engine_and_print(stack: Stack, topic_name: str) -> None:
    with SchemaRegistry(stack.registry_url) as registry:
        order_id = register_order_schemas(registry, topic_name)
        key_id = registry.register(
            f"{topic_name}-key", 'syntax = "proto3"; message K { string id = 1; }', "PROTOBUF"
        )
        fetched = registry.get_schema(order_id)
        assert fetched.schema_type == "PROTOBUF" and isinstance(fetched.parsed, ProtoSchema)
    classes = order_classes()
    key_bytes = wire(key_id, (0,), b"\x0a\x06ORD-P1")  # K{id: "ORD-P1"}, encoded by hand
    good = wire(order_id, (1,), sample_order(classes, "Bob").SerializeToString())
    other = wire(order_id, (1,), sample_order(classes, "Alice").SerializeToString())
    poison = wire(order_id, (1,), b"\x12\xff\xff\xff\x7f")
    source = f"{topic_name}-dlq"
    await create_topic(stack.bootstrap, source)
    await produce(stack.bootstrap, source, [Rec(key_bytes, good), Rec(b"k2", other), Rec(b"k3", poison)])

    cfg = SessionConfig(
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        source=source,
        group=unique_name("g"),
        registry_url=stack.registry_url,
        use_journal=False,
        read_only=True,
    )
    session = TriageSession(cfg)
    try:
        await session.open()
        await session.load_all()
        pending = session.decoded(0)
        assert pending.value.pending and pending.value.text == f"… schema id {order_id} loading"
        assert pending.value.error is None and pending.pending
        session.prefetch_schemas(range(len(session.store)))
        first = session.decoded(0)
        assert first.key.kind == "protobuf" and first.key.data == {"id": "ORD-P1"}
        assert first.value.kind == "protobuf" and first.value.data == SAMPLE_ORDER_JSON
        assert not first.pending
        bad = session.decoded(2)
        assert bad.value.kind == "hex" and bad.value.error is not None
        assert bad.value.error.startswith(f"not valid Protobuf for schema {order_id}")
        matched = session.match(parse("value.customer.name:Bob"), session.visible_rows())
        assert list(matched) == [0]
        assert list(session.match(parse("value.lines.sku:SKU-2 -value.customer.name:Bob"), range(3))) == [1]
    finally:
        await session.close()

    printed = subprocess.run(
        [DLQ_TUI, "print", "-b", stack.bootstrap, "-g", unique_name("g"), "-c",
         f"schema.registry.url={stack.registry_root}", "--format", "jsonl", source],
        capture_output=True, text=True, timeout=120, env={**os.environ, "XDG_STATE_HOME": "/nonexistent-state"},
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    lines = [json.loads(line) for line in printed.stdout.splitlines() if line.strip()]
    assert [line["value_format"] for line in lines] == ["protobuf", "protobuf", "hex"]
    assert lines[0]["value"] == SAMPLE_ORDER_JSON and lines[0]["key"] == {"id": "ORD-P1"}
    assert lines[1]["value"]["customer"]["name"] == "Alice"
    assert lines[2]["decode_error"].startswith("not valid Protobuf")


def test_unusable_protobuf_schema_in_the_registry_is_a_reason_not_a_crash(
    stack: Stack, topic_name: str
) -> None:
    with SchemaRegistry(stack.registry_url) as registry:
        bad_id = registry.register(
            f"{topic_name}-value", 'syntax = "proto3"; message X { strin a = 1; }', "PROTOBUF"
        )
        with pytest.raises(RegistryError) as info:
            registry.get_schema(bad_id)
        assert info.value.message.startswith(f"schema id {bad_id} is not a usable Protobuf schema: ")
        assert "strin" in info.value.message
        d = decode_bytes(wire(bad_id, (0,), b"\x0a\x01x"), "auto", registry)
        assert d.kind == "hex" and d.error is not None and "not a usable Protobuf schema" in d.error
