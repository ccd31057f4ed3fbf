"""Java object serialization streams read as DATA ONLY.

Spring Kafka's `ErrorHandlingDeserializer` puts a Java-serialized `DeserializationException` into the
``springDeserializerExceptionKey`` / ``springDeserializerExceptionValue`` headers. This module walks the
stream grammar of the Java Object Serialization Specification (protocol version 2, chapter 6) into plain
Python values — no class is looked up, loaded or instantiated, nothing is executed — and pulls out what a
person triaging the record needs: the exception class, its message, the cause chain and the bytes that
failed to deserialize.

Anything the walker cannot follow (externalizable data in protocol 1, truncated or hostile input, too
deep nesting) ends the walk with `JavaSerialError`; `summarize_throwable` then falls back to the strings
found in the stream, so a reader always gets something to show.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "JavaArray",
    "JavaClassDesc",
    "JavaEnum",
    "JavaObject",
    "JavaSerialError",
    "ThrowableSummary",
    "parse_stream",
    "summarize_throwable",
]

MAGIC = b"\xac\xed\x00\x05"
_BASE_HANDLE = 0x7E0000
_MAX_DEPTH = 64
_MAX_HANDLES = 100_000

TC_NULL = 0x70
TC_REFERENCE = 0x71
TC_CLASSDESC = 0x72
TC_OBJECT = 0x73
TC_STRING = 0x74
TC_ARRAY = 0x75
TC_CLASS = 0x76
TC_BLOCKDATA = 0x77
TC_ENDBLOCKDATA = 0x78
TC_RESET = 0x79
TC_BLOCKDATALONG = 0x7A
TC_EXCEPTION = 0x7B
TC_LONGSTRING = 0x7C
TC_PROXYCLASSDESC = 0x7D
TC_ENUM = 0x7E

SC_WRITE_METHOD = 0x01
SC_SERIALIZABLE = 0x02
SC_EXTERNALIZABLE = 0x04
SC_BLOCK_DATA = 0x08

_PRIMITIVES: dict[str, struct.Struct] = {
    "B": struct.Struct(">b"),
    "C": struct.Struct(">H"),
    "D": struct.Struct(">d"),
    "F": struct.Struct(">f"),
    "I": struct.Struct(">i"),
    "J": struct.Struct(">q"),
    "S": struct.Struct(">h"),
    "Z": struct.Struct(">?"),
}


class JavaSerialError(ValueError):
    """The stream is not one this walker can follow (with the byte position where it stopped)."""


@dataclass(eq=False)
class JavaClassDesc:
    name: str
    flags: int
    fields: list[tuple[str, str]]  # (type code, field name)
    superclass: JavaClassDesc | None


@dataclass(eq=False)
class JavaObject:
    """An object as data: its class name and the field values of each class of its hierarchy
    (`fields` merges them; a subclass's field hides a superclass's field of the same name)."""

    class_name: str
    fields: dict[str, Any] = field(default_factory=dict)
    annotations: list[Any] = field(default_factory=list)

    def __repr__(self) -> str:  # fields may refer back to the object itself
        return f"JavaObject({self.class_name})"


@dataclass(eq=False)
class JavaArray:
    class_name: str  # e.g. "[B"
    items: list[Any] | bytes


@dataclass(frozen=True)
class JavaEnum:
    class_name: str
    constant: str


def _modified_utf8(data: bytes) -> str:
    """Java's modified UTF-8: NUL as C0 80, supplementary characters as surrogate pairs."""
    data = data.replace(b"\xc0\x80", b"\x00")
    try:
        text = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:  # a lone surrogate
        return text.encode("utf-8", "replace").decode("utf-8", "replace")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.handles: list[Any] = []
        self.strings: list[str] = []
        self.class_names: list[str] = []

    def fail(self, message: str) -> JavaSerialError:
        return JavaSerialError(f"{message} at byte {self.pos}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"truncated: wanted {n} bytes")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: struct.Struct) -> Any:
        return fmt.unpack(self.take(fmt.size))[0]

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def i32(self) -> int:
        return int.from_bytes(self.take(4), "big", signed=True)

    def utf(self) -> str:
        return _modified_utf8(self.take(self.u16()))

    def new_handle(self, value: Any) -> int:
        if len(self.handles) >= _MAX_HANDLES:
            raise self.fail("too many objects")
        self.handles.append(value)
        return len(self.handles) - 1

    def peek(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("truncated: wanted a type code")
        return self.data[self.pos]

    # -- grammar ---------------------------------------------------------------------------------

    def content(self, depth: int) -> Any:
        """One `content`: an object, or a block of data (returned as bytes)."""
        tc = self.peek()
        if tc == TC_BLOCKDATA:
            self.pos += 1
            return self.take(self.u8())
        if tc == TC_BLOCKDATALONG:
            self.pos += 1
            return self.take(self.i32())
        return self.object(depth)

    def object(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail("nested too deeply")
        tc = self.u8()
        if tc == TC_NULL:
            return None
        if tc == TC_REFERENCE:
            handle = self.i32() - _BASE_HANDLE
            if not 0 <= handle < len(self.handles):
                raise self.fail(f"reference to unknown handle {handle}")
            return self.handles[handle]
        if tc == TC_STRING:
            return self._string(self.utf())
        if tc == TC_LONGSTRING:
            n = int.from_bytes(self.take(8), "big")
            return self._string(_modified_utf8(self.take(n)))
        if tc in (TC_CLASSDESC, TC_PROXYCLASSDESC):
            self.pos -= 1
            return self.class_desc(depth)
        if tc == TC_OBJECT:
            return self._object(depth)
        if tc == TC_ARRAY:
            return self._array(depth)
        if tc == TC_ENUM:
            desc = self.class_desc(depth + 1)
            handle = self.new_handle(None)
            name = self.object(depth + 1)
            value = JavaEnum(desc.name if desc else "?", str(name))
            self.handles[handle] = value
            return value
        if tc == TC_CLASS:
            desc = self.class_desc(depth + 1)
            self.new_handle(desc)
            return desc
        if tc == TC_RESET:
            self.handles.clear()
            return self.object(depth)
        if tc == TC_EXCEPTION:
            self.handles.clear()
            value = self.object(depth + 1)
            self.handles.clear()
            return value
        raise self.fail(f"unexpected type code 0x{tc:02x}")

    def _string(self, text: str) -> str:
        self.new_handle(text)
        self.strings.append(text)
        return text

    def class_desc(self, depth: int) -> JavaClassDesc | None:
        tc = self.u8()
        if tc == TC_NULL:
            return None
        if tc == TC_REFERENCE:
            self.pos -= 1
            ref = self.object(depth)
            if ref is not None and not isinstance(ref, JavaClassDesc):
                raise self.fail("reference to something that is not a class description")
            return ref
        if tc == TC_PROXYCLASSDESC:
            handle = self.new_handle(None)
            names = [self.utf() for _ in range(self.i32())]
            self._annotation(depth + 1)
            superclass = self.class_desc(depth + 1)
            desc = JavaClassDesc("Proxy(" + ",".join(names) + ")", SC_SERIALIZABLE, [], superclass)
            self.handles[handle] = desc
            return desc
        if tc != TC_CLASSDESC:
            raise self.fail(f"expected a class description, found type code 0x{tc:02x}")
        name = self.utf()
        self.class_names.append(name)
        self.take(8)  # serialVersionUID
        desc = JavaClassDesc(name, 0, [], None)
        self.new_handle(desc)
        desc.flags = self.u8()
        for _ in range(self.u16()):
            code = chr(self.u8())
            fname = self.utf()
            if code in "L[":
                self.object(depth + 1)  # the field's type name, a string
            elif code not in _PRIMITIVES:
                raise self.fail(f"unknown field type code {code!r}")
            desc.fields.append((code, fname))
        self._annotation(depth + 1)
        desc.superclass = self.class_desc(depth + 1)
        return desc

    def _annotation(self, depth: int) -> list[Any]:
        out: list[Any] = []
        while self.peek() != TC_ENDBLOCKDATA:
            out.append(self.content(depth))
        self.pos += 1
        return out

    def _object(self, depth: int) -> JavaObject:
        desc = self.class_desc(depth + 1)
        if desc is None:
            raise self.fail("object without a class description")
        obj = JavaObject(desc.name)
        self.new_handle(obj)
        chain: list[JavaClassDesc] = []
        d: JavaClassDesc | None = desc
        while d is not None:
            chain.append(d)
            d = d.superclass
        for cls in reversed(chain):  # superclass data first
            if cls.flags & SC_EXTERNALIZABLE:
                if not cls.flags & SC_BLOCK_DATA:
                    raise self.fail(f"{cls.name}: externalizable data of protocol version 1")
                obj.annotations.extend(self._annotation(depth + 1))
                continue
            for code, fname in cls.fields:
                obj.fields[fname] = self._value(code, depth + 1)
            if cls.flags & SC_WRITE_METHOD:
                obj.annotations.extend(self._annotation(depth + 1))
        return obj

    def _value(self, code: str, depth: int) -> Any:
        fmt = _PRIMITIVES.get(code)
        if fmt is not None:
            return self.unpack(fmt)
        return self.object(depth)

    def _array(self, depth: int) -> JavaArray:
        desc = self.class_desc(depth + 1)
        if desc is None:
            raise self.fail("array without a class description")
        arr = JavaArray(desc.name, [])
        self.new_handle(arr)
        n = self.i32()
        if n < 0 or n > len(self.data):
            raise self.fail(f"array length {n}")
        code = desc.name[1:2]
        if code == "B":
            arr.items = self.take(n)
        elif code in _PRIMITIVES:
            fmt = _PRIMITIVES[code]
            arr.items = [self.unpack(fmt) for _ in range(n)]
        else:
            arr.items = [self.object(depth + 1) for _ in range(n)]
        return arr


def parse_stream(data: bytes) -> list[Any]:
    """The top-level contents of a serialization stream, as data. Raises `JavaSerialError`."""
    if not data.startswith(MAGIC):
        raise JavaSerialError("not a Java serialization stream (no ACED0005 header)")
    reader = _Reader(data)
    reader.pos = len(MAGIC)
    out = []
    while reader.pos < len(data):
        out.append(reader.content(0))
    return out


@dataclass(frozen=True)
class ThrowableSummary:
    """What a serialized exception says: class, message, the cause chain (outermost first, the
    exception itself not included) and, for Spring's `DeserializationException`, the failed bytes."""

    exception_class: str | None = None
    message: str | None = None
    causes: tuple[tuple[str, str | None], ...] = ()
    data: bytes | None = None
    is_key: bool | None = None
    strings: tuple[str, ...] = ()  # every string of the stream (what is shown when the walk failed)
    error: str | None = None  # why the walk stopped early, if it did

    @property
    def root_cause_class(self) -> str | None:
        return self.causes[-1][0] if self.causes else None


def summarize_throwable(data: bytes) -> ThrowableSummary:
    """Exception class, message, causes and failed bytes of a Java-serialized exception. Never
    raises: on a stream it cannot follow, it returns the strings it saw and the reason."""
    reader = _Reader(data)
    error = None
    top: Any = None
    if not data.startswith(MAGIC):
        error = "not a Java serialization stream (no ACED0005 header)"
    else:
        reader.pos = len(MAGIC)
        try:
            top = reader.content(0)
        except JavaSerialError as exc:
            error = str(exc)
        except RecursionError:  # defensive: _MAX_DEPTH keeps well below the limit
            error = "nested too deeply"
    strings = tuple(reader.strings)
    if not isinstance(top, JavaObject):
        # the first class described is the outermost object's
        names = [n for n in reader.class_names if not n.startswith("[")]
        guess = names[0] if names else None
        return ThrowableSummary(exception_class=guess, strings=strings, error=error or "no object at the top")
    causes: list[tuple[str, str | None]] = []
    seen = {id(top)}
    cause = top.fields.get("cause")
    while isinstance(cause, JavaObject) and id(cause) not in seen:  # Throwable.cause == this: none
        seen.add(id(cause))
        causes.append((cause.class_name, _str_or_none(cause.fields.get("detailMessage"))))
        cause = cause.fields.get("cause")
    raw = top.fields.get("data")
    failed = raw.items if isinstance(raw, JavaArray) and isinstance(raw.items, bytes) else None
    is_key = top.fields.get("isKey")
    return ThrowableSummary(
        exception_class=top.class_name,
        message=_str_or_none(top.fields.get("detailMessage")),
        causes=tuple(causes),
        data=failed,
        is_key=is_key if isinstance(is_key, bool) else None,
        strings=strings,
        error=error,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
