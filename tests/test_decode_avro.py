import datetime as dt
import io
import uuid
from decimal import Decimal

import fastavro
import pytest

from dlq_tui.decode.avro import AvroDecodeError, decode_avro, to_jsonable

SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "Order",
        "namespace": "test",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "qty", "type": "long"},
            {"name": "blob", "type": "bytes"},
            {"name": "note", "type": ["null", "string"], "default": None},
            {
                "name": "price",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            },
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "attrs", "type": {"type": "map", "values": "double"}},
            {"name": "hash", "type": {"type": "fixed", "name": "H", "size": 2}},
            {"name": "state", "type": {"type": "enum", "name": "S", "symbols": ["NEW", "DONE"]}},
        ],
    }
)
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")
RECORD = {
    "id": "ORD001",
    "qty": 3,
    "blob": b"\x00\xff",
    "note": None,
    "price": Decimal("12.34"),
    "at": dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC),
    "day": dt.date(2026, 11, 1),
    "uid": UID,
    "tags": ["a", "b"],
    "attrs": {"x": 1.5, "nan": float("nan")},
    "hash": b"\xab\xcd",
    "state": "NEW",
}


def _encode(record: object) -> bytes:
    bio = io.BytesIO()
    fastavro.schemaless_writer(bio, SCHEMA, record)
    return bio.getvalue()


def test_round_trip_to_jsonable() -> None:
    value, trailing = decode_avro(_encode(RECORD), SCHEMA)
    assert trailing == 0
    assert value == {
        "id": "ORD001",
        "qty": 3,
        "blob": "hex:00ff",
        "note": None,
        "price": "12.34",
        "at": "2026-11-01T12:00:00+00:00",
        "day": "2026-11-01",
        "uid": str(UID),
        "tags": ["a", "b"],
        "attrs": {"x": 1.5, "nan": "NaN"},
        "hash": "hex:abcd",
        "state": "NEW",
    }


def test_start_offset_and_trailing_bytes() -> None:
    data = b"\x00\x00\x00\x00\x07" + _encode(RECORD) + b"xyz"
    value, trailing = decode_avro(data, SCHEMA, 5)
    assert value["id"] == "ORD001"
    assert trailing == 3


@pytest.mark.parametrize("poison", [b"", b"\x02", b"hello world, not avro", b"\xff" * 10, b'{"id":"x"}'])
def test_poison_raises_avro_decode_error(poison: bytes) -> None:
    with pytest.raises(AvroDecodeError) as info:
        decode_avro(poison, SCHEMA)
    assert "\n" not in str(info.value)


def test_to_jsonable_misc() -> None:
    assert to_jsonable((1, b"a", float("inf"), float("-inf"))) == [1, "hex:61", "Infinity", "-Infinity"]
    assert to_jsonable({1: dt.time(1, 2)}) == {"1": "01:02:00"}
    assert to_jsonable(dt.timedelta(seconds=2)) == "2.0"
