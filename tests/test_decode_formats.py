"""Format modes and fallbacks. Registry look-ups go through a small in-memory `SchemaSource`
here; the real registry (HTTP) is exercised in test_decode_registry.py."""

import io
import json
import struct
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.decode.formats import Decoded, Format, decode_bytes, hex_dump, parse_format
from dlq_tui.decode.json_schema import JsonSchema
from dlq_tui.decode.protobuf import ProtoSchema
from dlq_tui.decode.registry import RegisteredSchema, RegistryError

ORDER = {
    "type": "record",
    "name": "OrderCanceled",
    "fields": [{"name": "order_id", "type": "string"}, {"name": "reason", "type": "string"}],
}


class Schemas:
    """In-memory SchemaSource: id -> schema, unknown ids raise like the registry does."""

    def __init__(self) -> None:
        self.by_id: dict[int, RegisteredSchema] = {}
        self.calls = 0

    def add(self, schema_id: int, schema: Any, schema_type: str = "AVRO") -> None:
        text = schema if isinstance(schema, str) else json.dumps(schema)
        parsed: Any = None
        if schema_type == "AVRO":
            parsed = fastavro.parse_schema(schema)
        elif schema_type == "PROTOBUF":
            parsed = ProtoSchema.compile(text)
        elif schema_type == "JSON":
            parsed = JsonSchema.compile(text)
        self.by_id[schema_id] = RegisteredSchema(schema_id, schema_type, text, parsed, "orders-value")

    def get_schema(self, schema_id: int) -> RegisteredSchema:
        self.calls += 1
        try:
            return self.by_id[schema_id]
        except KeyError:
            raise RegistryError(f"fetching schema id {schema_id}: not found in schema registry") from None


def wire(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + payload


def avro_bytes(schema: Any, record: object) -> bytes:
    bio = io.BytesIO()
    fastavro.schemaless_writer(bio, fastavro.parse_schema(schema), record)
    return bio.getvalue()


@pytest.fixture
def schemas() -> Schemas:
    s = Schemas()
    s.add(7, ORDER)
    s.add(8, {"type": "object"}, "JSON")
    s.add(9, "syntax = 'proto3';", "PROTOBUF")
    return s


def test_auto_avro_via_registry(schemas: Schemas) -> None:
    data = wire(7, avro_bytes(ORDER, {"order_id": "ORD001", "reason": "wrong product"}))
    d = decode_bytes(data, "auto", schemas)
    assert d.kind == "avro"
    assert d.data == {"order_id": "ORD001", "reason": "wrong product"}
    assert d.text == '{"order_id":"ORD001","reason":"wrong product"}'
    assert (d.schema_id, d.subject, d.error, d.size, d.raw) == (7, "orders-value", None, len(data), data)
    assert json.loads(d.pretty()) == d.data and "\n" in d.pretty()
    assert decode_bytes(data, Format.AVRO, schemas) == d


def test_poison_avro_behind_valid_header_falls_back_to_hex(schemas: Schemas) -> None:
    data = wire(7, b"\xff\xff\xff\xff\x0f garbage")
    for mode in ("auto", "avro"):
        d = decode_bytes(data, mode, schemas)
        assert d.kind == "hex"
        assert d.text == data.hex()
        assert d.schema_id == 7
        assert d.error is not None and d.error.startswith("not valid Avro for schema 7: ")
        assert d.pretty().startswith("00000000  00 00 00 00 07 ff ff ff  ff 0f 20 67")


def test_trailing_bytes_keep_the_data_with_a_note(schemas: Schemas) -> None:
    data = wire(7, avro_bytes(ORDER, {"order_id": "A", "reason": "B"}) + b"\x00\x01")
    d = decode_bytes(data, "auto", schemas)
    assert d.kind == "avro" and d.data == {"order_id": "A", "reason": "B"}
    assert d.error == "2 trailing bytes after the Avro datum (schema 7)"


def test_unknown_schema_id_falls_back_to_hex_with_reason(schemas: Schemas) -> None:
    data = wire(4242, b"\x02x")
    d = decode_bytes(data, "auto", schemas)
    assert d.kind == "hex" and d.schema_id == 4242
    assert d.error == "fetching schema id 4242: not found in schema registry"


def test_wire_format_without_registry(schemas: Schemas) -> None:
    data = wire(7, avro_bytes(ORDER, {"order_id": "A", "reason": "B"}))
    d = decode_bytes(data, "auto", None)
    assert d.kind == "hex" and d.error == "schema id 7: no schema registry configured"
    assert decode_bytes(data, "avro", None).error == "schema id 7: no schema registry configured"
    # JSON Schema serializer framing is still readable without a registry in auto mode
    j = decode_bytes(wire(8, b'{"a": 1}'), "auto", None)
    assert (j.kind, j.data, j.schema_id) == ("json", {"a": 1}, 8)


def test_json_schema_and_protobuf_schema_types(schemas: Schemas) -> None:
    j = decode_bytes(wire(8, b'{"a":[1,2]}'), "auto", schemas)
    assert (j.kind, j.data, j.schema_id, j.subject) == ("json", {"a": [1, 2]}, 8, "orders-value")
    bad = decode_bytes(wire(8, b"{nope"), "auto", schemas)
    assert bad.kind == "hex" and bad.error is not None and bad.error.startswith("not valid JSON for schema 8")
    p = decode_bytes(wire(9, b"\x00\x08\x01"), "auto", schemas)
    assert p.kind == "hex" and p.error == (
        "not valid Protobuf for schema 9: message index [0] names no message (the schema has 0)"
    )


def test_avro_mode_on_non_wire_data() -> None:
    d = decode_bytes(b'{"a":1}', "avro", None)
    assert d.kind == "text" and d.text == '{"a":1}'
    assert d.error == "not Avro: not Confluent wire format (magic byte 0x7b, expected 0x00)"
    short = decode_bytes(b"\x00\x01", "avro", None)
    assert short.kind == "hex" and short.error == "not Avro: too short for Confluent wire format (2 bytes)"


@pytest.mark.parametrize(
    ("raw", "data"),
    [
        (b'{"order_id": "ORD001", "n": 1.5, "ok": true}', {"order_id": "ORD001", "n": 1.5, "ok": True}),
        (b"  [1, 2, 3]\n", [1, 2, 3]),
        (b"42", 42),
        (b"-1", -1),
        (b'"quoted"', "quoted"),
        (b"true", True),
        (b"null", None),
    ],
)
def test_auto_json(raw: bytes, data: object) -> None:
    d = decode_bytes(raw, "auto")
    assert d.kind == "json" and d.data == data and d.error is None and d.schema_id is None


def test_json_text_is_one_line() -> None:
    d = decode_bytes(b'{\n  "a": 1,\n  "b": "\xc3\xa9"\n}\n', "auto")
    assert d.text == '{"a":1,"b":"é"}'
    assert decode_bytes(b'{"a": 1}', "auto").text == '{"a": 1}'  # one-line input kept as written


@pytest.mark.parametrize(
    "raw",
    [b"hello world", b"truly not json", b"123 apples", b"NaN", b"-Infinity", b"nonsense", b"tab\there\r\n"],
)
def test_auto_text(raw: bytes) -> None:
    d = decode_bytes(raw, "auto")
    assert d.kind == "text" and d.text == raw.decode() and d.error is None


def test_auto_text_keeps_ansi_colored_text_as_text() -> None:
    assert decode_bytes(b"\x1b[31merror\x1b[0m", "auto").kind == "text"


@pytest.mark.parametrize("raw", [b"\xff\xfe\x00\x01", b"abc\x00def", b"\xc3\x28", b"a\xc2\x9bb", b"\x7f"])
def test_auto_hex(raw: bytes) -> None:
    d = decode_bytes(raw, "auto")
    assert d.kind == "hex" and d.text == raw.hex() and d.error is None and d.size == len(raw)


def test_null_and_empty() -> None:
    for mode in Format:
        n = decode_bytes(None, mode)
        assert (n.kind, n.text, n.size, n.pretty()) == ("null", "", 0, "(null)")
    e = decode_bytes(b"", "auto")
    assert (e.kind, e.text, e.size) == ("text", "", 0)


def test_json_mode() -> None:
    assert decode_bytes(b'{"a":1}', "json").data == {"a": 1}
    bad = decode_bytes(b"plain text", "json")
    assert bad.kind == "text" and bad.text == "plain text"
    assert bad.error is not None and bad.error.startswith("not valid JSON: unexpected first byte 0x70")
    binary = decode_bytes(b"\x01\x02", "json")
    assert binary.kind == "hex" and binary.error is not None
    framed = decode_bytes(wire(3, b'{"x":true}'), "json")
    assert (framed.kind, framed.data, framed.schema_id) == ("json", {"x": True}, 3)


def test_string_mode_valid_and_invalid_utf8() -> None:
    ok = decode_bytes("grüße\x00".encode(), "string")
    assert (ok.kind, ok.text, ok.error) == ("text", "grüße\x00", None)
    bad = decode_bytes(b"ok \xff\xfe end", "string")
    assert bad.kind == "text"
    assert bad.text == "ok \ufffd\ufffd end"
    assert bad.error == "invalid UTF-8 at byte 3; shown with U+FFFD replacement characters"


def test_bytes_mode() -> None:
    d = decode_bytes(b'{"a":1}', "bytes")
    assert (d.kind, d.text, d.data) == ("hex", "7b2261223a317d", None)


def test_hex_dump_layout() -> None:
    data = bytes(range(0x41, 0x41 + 20))
    lines = hex_dump(data).splitlines()
    assert lines[0] == "00000000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|"
    assert lines[1] == "00000010  51 52 53 54" + " " * 39 + "|QRST|"
    assert hex_dump(b"\x00\x1b\x7f\x80") == "00000000  00 1b 7f 80" + " " * 39 + "|....|"
    assert hex_dump(b"x" * 100, max_bytes=16).splitlines()[-1] == "… 84 more bytes"
    assert hex_dump(b"") == ""


def test_parse_format() -> None:
    assert parse_format(" AVRO ") is Format.AVRO
    with pytest.raises(ValueError, match="choose one of: auto, avro, json, string, bytes"):
        parse_format("protobuf")


def test_never_raises() -> None:
    class Broken:
        def get_schema(self, schema_id: int) -> RegisteredSchema:
            raise RuntimeError("boom")

    d = decode_bytes(wire(1, b"x"), "auto", Broken())
    assert d.kind == "error" and d.text == wire(1, b"x").hex()
    assert d.error == "internal decode error: RuntimeError: boom"
    u = decode_bytes(b"x", "yaml")
    assert u.kind == "hex" and u.error == "unknown format 'yaml'"


def test_decoded_is_frozen() -> None:
    d = decode_bytes(b"x", "auto")
    assert isinstance(d, Decoded)
    with pytest.raises(AttributeError):
        d.text = "y"  # type: ignore[misc]


@settings(max_examples=300)
@given(st.binary(max_size=64), st.sampled_from(list(Format)))
def test_fuzz_never_raises_and_text_is_consistent(payload: bytes, mode: Format) -> None:
    s = Schemas()
    s.add(7, ORDER)
    s.add(8, {"type": "object", "required": ["a"]}, "JSON")
    s.add(9, 'syntax = "proto3"; message M { string a = 1; repeated int64 n = 2; M child = 3; }', "PROTOBUF")
    for data in (payload, wire(7, payload), wire(8, payload), wire(9, payload)):
        d = decode_bytes(data, mode, s)
        assert d.kind in ("avro", "protobuf", "json", "text", "hex")
        assert d.error is None or "\n" not in d.error  # a lazy note is worked out without raising
        assert d.size == len(data) and d.raw is data
        if d.kind == "hex":
            assert d.text == data.hex()
        assert isinstance(d.pretty(), str)
        json.dumps(d.data)  # always JSON-able
