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


# -- Protobuf message indexes and schema ids in headers --------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dlq_tui.decode.wire import (  # noqa: E402
    WireError,
    encode_message_indexes,
    header_schema_ref,
    read_message_indexes,
)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=40), start=st.integers(0, 5))
def test_reading_message_indexes_never_raises_anything_but_wire_error(data: bytes, start: int) -> None:
    try:
        indexes, end = read_message_indexes(data, start)
    except WireError as exc:
        assert "\n" not in str(exc)
        return
    assert indexes and all(i >= 0 for i in indexes) and start < end <= len(data)


@given(indexes=st.lists(st.integers(0, 2**31), min_size=1, max_size=10))
def test_message_indexes_round_trip(indexes: list[int]) -> None:
    encoded = encode_message_indexes(indexes)
    assert read_message_indexes(encoded + b"tail", 0) == (tuple(indexes), len(encoded))


@settings(max_examples=300, deadline=None)
@given(value=st.binary(max_size=30))
def test_header_schema_ref_never_raises(value: bytes) -> None:
    ref = header_schema_ref(value)
    if ref is not None:
        assert value[0] in (0, 1) and ref[1] in (5, 17)
