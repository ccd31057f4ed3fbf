import struct

from dlq_tui.decode.wire import HEADER_SIZE, is_wire_format, split_wire, wire_schema_id


def test_split_wire_format() -> None:
    data = b"\x00" + struct.pack(">I", 7) + b"payload"
    assert wire_schema_id(data) == 7
    assert split_wire(data) == (7, b"payload")
    assert is_wire_format(data)


def test_large_schema_id_is_unsigned_big_endian() -> None:
    assert wire_schema_id(b"\x00\xff\xff\xff\xfe") == 0xFFFFFFFE
    assert wire_schema_id(b"\x00\x00\x00\x01\x00") == 256


def test_header_only_has_empty_payload() -> None:
    assert split_wire(b"\x00\x00\x00\x00\x01") == (1, b"")


def test_not_wire_format() -> None:
    for data in (None, b"", b"\x00\x00\x00\x01", b'{"a":1}', b"\x01\x00\x00\x00\x01x"):
        assert wire_schema_id(data) is None
        assert split_wire(data) is None
        assert not is_wire_format(data)
    assert HEADER_SIZE == 5
