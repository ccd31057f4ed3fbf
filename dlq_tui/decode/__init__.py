"""Display-only decoding: wire format, registry, Avro, JSON/text/hex, DLQ headers.

Nothing here is on the write path: the bytes written are always the raw record's. Decoding never
raises into the app; failures are results with a reason (`Decoded.error`, `DlqInfo.notes`).
"""

from .dlq_headers import DlqInfo, header_display, parse_dlq_headers
from .formats import Decoded, DecodedKind, Format, decode_bytes, hex_dump, parse_format
from .registry import RegisteredSchema, RegistryError, SchemaRegistry, SchemaSource
from .sanitize import escape_markup, one_line, safe_text
from .view import DecodedRecord, RecordDecoder
from .wire import split_wire, wire_schema_id

__all__ = [
    "Decoded",
    "DecodedKind",
    "DecodedRecord",
    "DlqInfo",
    "Format",
    "RecordDecoder",
    "RegisteredSchema",
    "RegistryError",
    "SchemaRegistry",
    "SchemaSource",
    "decode_bytes",
    "escape_markup",
    "header_display",
    "hex_dump",
    "one_line",
    "parse_dlq_headers",
    "parse_format",
    "safe_text",
    "split_wire",
    "wire_schema_id",
]
