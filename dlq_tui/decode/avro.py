"""Avro payload decoding (fastavro) and conversion of the result to JSON-able Python."""

from __future__ import annotations

import datetime as _dt
import decimal
import io
import math
import uuid
from typing import Any

from fastavro import schemaless_reader

__all__ = ["BYTES_PREFIX", "AvroDecodeError", "decode_avro", "to_jsonable"]

#: Avro ``bytes``/``fixed`` values become strings of this prefix plus lowercase hex.
BYTES_PREFIX = "hex:"


class AvroDecodeError(ValueError):
    """The bytes are not a datum of the writer schema."""


def decode_avro(data: bytes, parsed_schema: Any, start: int = 0) -> tuple[Any, int]:
    """Read one Avro datum from ``data[start:]`` with a fastavro-parsed writer schema.

    Returns ``(JSON-able value, number of trailing bytes left unread)``. Raises `AvroDecodeError`
    with a one-line reason for anything fastavro (or logical-type conversion) rejects.
    """
    fo = io.BytesIO(data)
    if start:
        fo.seek(start)
    try:
        datum = schemaless_reader(fo, parsed_schema, None)
    except RecursionError:
        raise AvroDecodeError("schema or data nested too deeply") from None
    except MemoryError:
        raise AvroDecodeError("declared length too large") from None
    except Exception as exc:  # EOFError, UnicodeDecodeError, IndexError, ValueError, OverflowError...
        reason = " ".join(str(exc).split()) or "unexpected end of data"
        raise AvroDecodeError(f"{type(exc).__name__}: {reason}"[:200]) from None
    return to_jsonable(datum), len(data) - fo.tell()


def to_jsonable(obj: Any) -> Any:
    """`obj` with only JSON types: bytes -> ``"hex:..."``, Decimal/UUID -> str, date/time -> ISO
    8601, non-finite float -> ``"NaN"``/``"Infinity"``/``"-Infinity"``, tuples/sets -> lists,
    mapping keys -> str. JSON-native values are returned unchanged (no copy)."""
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return BYTES_PREFIX + bytes(obj).hex()
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, (decimal.Decimal, uuid.UUID)):
        return str(obj)
    if isinstance(obj, _dt.timedelta):
        return str(obj.total_seconds())
    return str(obj)
