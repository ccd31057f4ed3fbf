"""JSON Schema via the registry: the payload after the 5-byte prefix as JSON, the schema's title
shown, a payload that does not validate noted (never refused), poison as hex; end to end against
the real registry (with a schema reference) and broker."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.decode.formats import decode_bytes
from dlq_tui.decode.json_schema import JsonSchema, JsonSchemaError
from dlq_tui.decode.registry import RegisteredSchema, RegistryError, SchemaRegistry
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.filter import parse
from tests.stack import Rec, Stack, create_topic, produce, unique_name

CUSTOMER = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Customer",
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}
ORDER = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "OrderCanceled",
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^ORD"},
        "customer": {"$ref": "customer.json"},
        "amount": {"type": "number", "minimum": 0},
    },
    "required": ["order_id", "customer"],
}


def wire(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + payload


class Schemas:
    def __init__(self, schema: RegisteredSchema) -> None:
        self.schema = schema

    def get_schema(self, schema_id: int | str) -> RegisteredSchema:
        if schema_id != self.schema.schema_id:
            raise RegistryError(f"schema id {schema_id}: not found")
        return self.schema


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    compiled = JsonSchema.compile(json.dumps(ORDER), {"customer.json": json.dumps(CUSTOMER)})
    return Schemas(RegisteredSchema(31, "JSON", json.dumps(ORDER), compiled, "orders-value"))


def test_valid_payload_decodes_with_title(schemas: Schemas) -> None:
    payload = {"order_id": "ORD-1", "customer": {"name": "Bob"}, "amount": 3.5}
    d = decode_bytes(wire(31, json.dumps(payload).encode()), "auto", schemas)
    assert (d.kind, d.data, d.error) == ("json", payload, None)
    assert (d.schema_id, d.subject, d.schema_type, d.schema_title) == (
        31,
        "orders-value",
        "JSON",
        "OrderCanceled",
    )


def test_payload_that_does_not_validate_is_decoded_with_a_note(schemas: Schemas) -> None:
    payload = {"order_id": "X-1", "customer": {}}
    d = decode_bytes(wire(31, json.dumps(payload).encode()), "auto", schemas)
    assert d.kind == "json" and d.data == payload  # shown, not refused
    assert d.error is not None and d.error.startswith("does not validate against schema 31: $.")
    assert "'name' is a required property" in d.error or "does not match" in d.error
    neg = decode_bytes(wire(31, b'{"order_id":"ORD","customer":{"name":"A"},"amount":-1}'), "auto", schemas)
    assert neg.error == "does not validate against schema 31: $.amount: -1 is less than the minimum of 0"


def test_poison_is_hex_with_the_reason(schemas: Schemas) -> None:
    data = wire(31, b'{"order_id": "ORD-1", "customer": ')
    d = decode_bytes(data, "auto", schemas)
    assert d.kind == "hex" and d.text == data.hex()
    assert d.error is not None and d.error.startswith("not valid JSON for schema 31: ")


def test_schema_without_title_shows_its_id_and_other_drafts() -> None:
    s = JsonSchema.compile(json.dumps({"$id": "urn:orders", "$schema": "https://json-schema.org/draft/2020-12/schema",
                                       "prefixItems": [{"type": "integer"}]}))  # fmt: skip
    assert s.title == "urn:orders"
    assert s.problem([1]) is None and s.problem(["a"]) is not None
    assert JsonSchema.compile("true").title is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("{nope", "schema is not JSON"), ('{"type": 12}', "not a valid JSON Schema: 12 is not valid")],
)
def test_bad_schemas_are_one_line_errors(text: str, expected: str) -> None:
    with pytest.raises(JsonSchemaError) as info:
        JsonSchema.compile(text)
    assert str(info.value).startswith(expected), str(info.value)


def test_relative_reference_under_an_id_resolves() -> None:
    order = {
        "$id": "https://schemas.example.com/orders/order.json",
        "properties": {"customer": {"$ref": "customer.json"}},
    }
    s = JsonSchema.compile(json.dumps(order), {"customer.json": json.dumps(CUSTOMER)})
    assert s.problem({"customer": {"name": "A"}}) is None
    assert s.problem({"customer": {}}) == "$.customer: 'name' is a required property"


def test_unresolvable_reference_is_a_note_not_a_crash() -> None:
    s = JsonSchema.compile(json.dumps({"properties": {"a": {"$ref": "missing.json"}}}))
    problem = s.problem({"a": 1})
    assert problem is not None and problem.startswith("cannot validate: ")


@settings(max_examples=300, deadline=None)
@given(tail=st.binary(max_size=200))
def test_decoding_never_raises_on_random_bytes(schemas: Schemas, tail: bytes) -> None:
    data = wire(31, tail)
    d = decode_bytes(data, "auto", schemas)
    assert d.kind in ("json", "hex") and d.raw == data


@settings(max_examples=200, deadline=None)
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                          lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3)))  # fmt: skip
def test_validation_never_raises_on_random_json(schemas: Schemas, value: object) -> None:
    compiled = schemas.schema.parsed
    assert isinstance(compiled, JsonSchema)
    problem = compiled.problem(value)
    assert problem is None or "\n" not in problem


async def test_json_schema_records_through_registry_and_engine(stack: Stack, topic_name: str) -> None:
    with SchemaRegistry(stack.registry_url) as registry:
        registry.register(f"{topic_name}-customer", json.dumps(CUSTOMER), "JSON")
        refs = [{"name": "customer.json", "subject": f"{topic_name}-customer", "version": 1}]
        schema_id = registry.register(f"{topic_name}-value", json.dumps(ORDER), "JSON", refs)
    good = {"order_id": "ORD-7", "customer": {"name": "Bob"}}
    invalid = {"order_id": "ORD-8", "customer": {"name": 42}}
    source = f"{topic_name}-dlq"
    await create_topic(stack.bootstrap, source)
    await produce(
        stack.bootstrap,
        source,
        [
            Rec(b"k1", wire(schema_id, json.dumps(good).encode())),
            Rec(b"k2", wire(schema_id, json.dumps(invalid).encode())),
            Rec(b"k3", wire(schema_id, b"\xff\xfe not json")),
        ],
    )
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
        session.prefetch_schemas(range(len(session.store)))
        first, second, third = (session.decoded(r) for r in range(3))
        assert (first.value.kind, first.value.data, first.value.error) == ("json", good, None)
        assert first.value.schema_title == "OrderCanceled" and first.value.schema_id == schema_id
        assert second.value.kind == "json" and second.value.data == invalid
        assert second.value.error == (
            f"does not validate against schema {schema_id}: $.customer.name: 42 is not of type 'string'"
        )
        assert third.value.kind == "hex" and third.value.error is not None
        assert list(session.match(parse("value.customer.name:Bob"), range(3))) == [0]
    finally:
        await session.close()
