import io
import json
import struct
import threading

import fastavro

from dlq_tui.decode.cache import LruCache
from dlq_tui.decode.formats import Format
from dlq_tui.decode.registry import RegisteredSchema, RegistryError
from dlq_tui.decode.view import DecodedRecord, RecordDecoder
from dlq_tui.triage.records import FilterSubject, RawRecord

SCHEMA = {
    "type": "record",
    "name": "OrderCanceled",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "reason", "type": "string"},
        {
            "name": "items",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Item",
                    "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}],
                },
            },
        },
        {"name": "meta", "type": ["null", {"type": "map", "values": "string"}]},
    ],
}


class OneSchema:
    def __init__(self) -> None:
        self.parsed = fastavro.parse_schema(SCHEMA)
        self.calls = 0

    def get_schema(self, schema_id: int) -> RegisteredSchema:
        self.calls += 1
        if schema_id != 7:
            raise RegistryError(f"fetching schema id {schema_id}: not found")
        return RegisteredSchema(7, "AVRO", json.dumps(SCHEMA), self.parsed, "invoice-voided-value")


def avro_value(record: object) -> bytes:
    bio = io.BytesIO()
    fastavro.schemaless_writer(bio, fastavro.parse_schema(SCHEMA), record)
    return b"\x00" + struct.pack(">I", 7) + bio.getvalue()


VALUE = {
    "order_id": "ORD0042",
    "reason": "wrong product",
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
    "meta": None,
}
HEADERS = (
    ("kafka_dlt-original-partition", struct.pack(">i", 1)),
    ("kafka_dlt-exception-fqcn", b"java.util.concurrent.TimeoutException"),
    ("kafka_dlt-exception-message", b"no answer in 30s"),
    ("x-null", None),
    ("x-trace", b"abc"),
    ("x-trace", b"def"),
)
RAW = RawRecord(2, 100, 1_767_225_600_000, 0, b"ORD0042", avro_value(VALUE), HEADERS)


def test_decoded_record_is_a_filter_subject() -> None:
    rec = RecordDecoder(registry=OneSchema()).decode(RAW)
    subject: FilterSubject = rec
    assert (subject.partition, subject.offset, subject.timestamp) == (2, 100, 1_767_225_600_000)
    assert rec.key.kind == "text" and rec.key_text() == "ORD0042"
    assert rec.value.kind == "avro" and rec.value.subject == "invoice-voided-value"
    assert json.loads(rec.value_text()) == VALUE
    assert rec.error_text() == "java.util.concurrent.TimeoutException: no answer in 30s"
    assert rec.dlq.original_partition == 1
    assert rec.raw is RAW
    assert rec.rid == (2, 100)


def test_value_fields() -> None:
    rec = RecordDecoder(registry=OneSchema()).decode(RAW)
    assert rec.value_fields("reason") == ["wrong product"]
    assert rec.value_fields("items.sku") == ["A-1", "B-2"]
    assert rec.value_fields("items.1.qty") == ["1"]
    assert rec.value_fields("items.-1.sku") == ["B-2"]
    assert rec.value_fields("items.5.sku") is None
    assert rec.value_fields("meta") == ["null"]
    assert rec.value_fields("items.0") == ['{"sku":"A-1","qty":2}']
    assert rec.value_fields("nope") is None
    assert rec.value_fields("reason.deeper") is None
    assert rec.value_fields("") == [rec.value_text()]
    plain = RecordDecoder().decode(RawRecord(0, 1, 0, 0, None, b"just text"))
    assert plain.value_fields("reason") is None
    js = RecordDecoder().decode(RawRecord(0, 2, 0, 0, None, b'{"ok": true, "n": 1.5, "s": [1, "x"]}'))
    assert js.value_fields("ok") == ["true"] and js.value_fields("n") == ["1.5"]
    assert js.value_fields("s") == ['[1,"x"]']


def test_header_text_and_full_text() -> None:
    rec = RecordDecoder(registry=OneSchema()).decode(RAW)
    assert rec.header_text("kafka_dlt-original-partition") == "1"
    assert rec.header_text("x-trace") == "def"  # last one wins
    assert rec.header_text("x-null") == ""
    assert rec.header_text("absent") is None
    full = rec.full_text()
    for part in (
        "ORD0042",
        "wrong product",
        "kafka_dlt-original-partition: 1",
        "x-trace: abc",
        "no answer in 30s",
    ):
        assert part in full
    assert rec.full_text() is full


def test_keyless_tombstone_and_formats() -> None:
    dec = RecordDecoder(key_format="bytes", value_format=Format.STRING)
    rec = dec.decode(RawRecord(0, 5, 0, 0, b"k", None))
    assert (rec.key.kind, rec.key_text()) == ("hex", "6b")
    assert (rec.value.kind, rec.value_text(), rec.error_text()) == ("null", "", "")
    assert rec.full_text() == "6b\n\n"
    assert "DecodedRecord(p0@5" in repr(rec)


def test_registry_failure_is_a_result_not_an_exception() -> None:
    raw = RawRecord(0, 1, 0, 0, None, b"\x00\x00\x00\x00\x63" + b"\x02x")
    rec = RecordDecoder(registry=OneSchema()).decode(raw)
    assert rec.value.kind == "hex" and rec.value.error == "fetching schema id 99: not found"
    assert rec.value_text() == raw.value.hex()  # type: ignore[union-attr]


def test_cache_by_partition_offset() -> None:
    schemas = OneSchema()
    dec = RecordDecoder(registry=schemas, cache_size=2)
    first = dec.decode(RAW)
    assert first.value.kind == "avro"
    assert dec.decode(RAW) is first
    assert dec.decode(RAW).value is first.value
    assert schemas.calls == 1
    dec.decode(RawRecord(0, 1, 0, 0, None, b"a"))
    dec.decode(RawRecord(0, 2, 0, 0, None, b"b"))  # evicts (2, 100)
    assert dec.decode(RAW) is not first
    assert dec.decode_uncached(RAW) is not dec.decode(RAW)
    dec.clear_cache()
    assert isinstance(dec.decode(RAW), DecodedRecord)


def test_lru_cache() -> None:
    c: LruCache[int, str] = LruCache(2)
    c.put(1, "a")
    c.put(2, "b")
    assert c.get(1) == "a"  # 1 is now most recent
    c.put(3, "c")
    assert 2 not in c and 1 in c and 3 in c and len(c) == 2
    assert c.get(2) is None and (c.hits, c.misses) == (1, 1)


def test_decoder_is_thread_safe() -> None:
    dec = RecordDecoder(registry=OneSchema(), cache_size=64)
    raws = [RawRecord(p, o, 0, 0, b"k%d" % o, avro_value(VALUE)) for p in range(2) for o in range(200)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for raw in raws:
                assert dec.decode(raw).value.kind == "avro"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_parts_decode_lazily() -> None:
    schemas = OneSchema()
    raw = RawRecord(0, 1, 0, 0, avro_value(VALUE), b'{"reason": "x"}', HEADERS)
    rec = RecordDecoder(registry=schemas).decode(raw)
    assert rec.value_fields("reason") == ["x"]
    assert schemas.calls == 0  # the (Avro) key was not needed
    assert rec.key.kind == "avro" and schemas.calls == 1
    assert rec.key is rec.key and rec.dlq is rec.dlq
