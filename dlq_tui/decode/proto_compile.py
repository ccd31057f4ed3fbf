""".proto schema text -> Protobuf descriptors, at run time, without ``protoc``.

The text is parsed by `proto_schema_parser` (a pure-Python ANTLR parser of the full .proto
grammar); the syntax tree is turned into ``FileDescriptorProto`` messages here, and a private
``DescriptorPool`` (the protobuf runtime's own) resolves type names and checks the result, as
protoc would. Options are not carried over (they do not change how bytes decode), except
``allow_alias`` and ``json_name``; services and extensions are skipped. The well-known types
(``google/protobuf/*.proto``) come from the protobuf package itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from antlr4.error.ErrorListener import ErrorListener
from google.protobuf import (
    any_pb2,
    api_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    source_context_pb2,
    struct_pb2,
    timestamp_pb2,
    type_pb2,
    wrappers_pb2,
)
from proto_schema_parser import ast
from proto_schema_parser.parser import Parser

from .protobuf import ProtoCompileError

__all__ = ["ProtoCompileError", "compile_files"]

F = descriptor_pb2.FieldDescriptorProto

_SCALARS = {
    "double": F.TYPE_DOUBLE,
    "float": F.TYPE_FLOAT,
    "int64": F.TYPE_INT64,
    "uint64": F.TYPE_UINT64,
    "int32": F.TYPE_INT32,
    "fixed64": F.TYPE_FIXED64,
    "fixed32": F.TYPE_FIXED32,
    "bool": F.TYPE_BOOL,
    "string": F.TYPE_STRING,
    "bytes": F.TYPE_BYTES,
    "uint32": F.TYPE_UINT32,
    "sfixed32": F.TYPE_SFIXED32,
    "sfixed64": F.TYPE_SFIXED64,
    "sint32": F.TYPE_SINT32,
    "sint64": F.TYPE_SINT64,
}

_WELL_KNOWN: dict[str, Any] = {
    m.DESCRIPTOR.name: m
    for m in (
        any_pb2,
        api_pb2,
        duration_pb2,
        empty_pb2,
        field_mask_pb2,
        source_context_pb2,
        struct_pb2,
        timestamp_pb2,
        type_pb2,
        wrappers_pb2,
    )
}
_DESCRIPTOR_PROTO = descriptor_pb2.DESCRIPTOR.name  # google/protobuf/descriptor.proto (for custom options)


class _RaisingListener(ErrorListener):  # type: ignore[misc]
    """ANTLR prints syntax errors to stderr by default (that would corrupt a full-screen app)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def syntaxError(
        self, recognizer: Any, offendingSymbol: Any, line: int, column: int, msg: str, e: Any
    ) -> None:
        raise ProtoCompileError(f"{self.what}: syntax error at line {line}:{column + 1}: {msg}")


def _parse(text: str, what: str) -> ast.File:
    listener = _RaisingListener(what)

    def quiet(recognizer: Any) -> None:
        recognizer.removeErrorListeners()
        recognizer.addErrorListener(listener)

    try:
        return Parser(setup_lexer=quiet, setup_parser=quiet).parse(text)
    except ProtoCompileError:
        raise
    except RecursionError:
        raise ProtoCompileError(f"{what}: nested too deeply") from None
    except Exception as exc:  # the parser's own checks (ValueError, ...)
        raise ProtoCompileError(f"{what}: cannot parse: {' '.join(str(exc).split())[:200]}") from None


def _camel(name: str) -> str:
    """protoc's map entry naming: ``my_tags`` -> ``MyTags``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _type_of(field: Any, type_name: str) -> None:
    scalar = _SCALARS.get(type_name)
    if scalar is not None:
        field.type = scalar
    else:
        field.type_name = type_name  # resolved (message or enum, relative or absolute) by the pool


def _option_value(options: Sequence[ast.Option], name: str) -> Any:
    for option in options:
        if option.name == name:
            value = option.value
            return value.name if isinstance(value, ast.Identifier) else value
    return None


class _Builder:
    def __init__(self, proto3: bool) -> None:
        self.proto3 = proto3

    def field(self, msg: Any, node: ast.Field, oneof_index: int | None, synthetic: list[Any]) -> None:
        f = msg.field.add(name=node.name, number=node.number)
        _type_of(f, node.type)
        cardinality = node.cardinality
        if cardinality == ast.FieldCardinality.REPEATED:
            f.label = F.LABEL_REPEATED
        elif cardinality == ast.FieldCardinality.REQUIRED:
            f.label = F.LABEL_REQUIRED
        else:
            f.label = F.LABEL_OPTIONAL
        json_name = _option_value(node.options, "json_name")
        if isinstance(json_name, str):
            f.json_name = json_name
        if oneof_index is not None:
            f.oneof_index = oneof_index
        elif self.proto3 and cardinality == ast.FieldCardinality.OPTIONAL:
            f.proto3_optional = True
            synthetic.append(f)  # gets its synthetic oneof after the real ones

    def group(self, msg: Any, node: ast.Group, oneof_index: int | None, synthetic: list[Any]) -> None:
        nested = msg.nested_type.add(name=node.name)
        self.elements(nested, node.elements)
        f = msg.field.add(name=node.name.lower(), number=node.number, type=F.TYPE_GROUP, type_name=node.name)
        f.label = (
            F.LABEL_REPEATED
            if node.cardinality == ast.FieldCardinality.REPEATED
            else F.LABEL_REQUIRED
            if node.cardinality == ast.FieldCardinality.REQUIRED
            else F.LABEL_OPTIONAL
        )
        if oneof_index is not None:
            f.oneof_index = oneof_index

    def map_field(self, msg: Any, node: ast.MapField) -> None:
        entry_name = _camel(node.name) + "Entry"
        entry = msg.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        key = entry.field.add(name="key", number=1, label=F.LABEL_OPTIONAL)
        _type_of(key, node.key_type)
        value = entry.field.add(name="value", number=2, label=F.LABEL_OPTIONAL)
        _type_of(value, node.value_type)
        f = msg.field.add(name=node.name, number=node.number, label=F.LABEL_REPEATED, type_name=entry_name)
        f.type = F.TYPE_MESSAGE

    def enum(self, container: Any, node: ast.Enum) -> None:
        e = container.enum_type.add(name=node.name)
        numbers: set[int] = set()
        for element in node.elements:
            if isinstance(element, ast.EnumValue):
                if element.number in numbers:
                    e.options.allow_alias = True
                numbers.add(element.number)
                e.value.add(name=element.name, number=element.number)

    def elements(self, msg: Any, elements: Sequence[Any]) -> None:
        synthetic: list[Any] = []
        for element in elements:
            if isinstance(element, ast.Field):
                self.field(msg, element, None, synthetic)
            elif isinstance(element, ast.MapField):
                self.map_field(msg, element)
            elif isinstance(element, ast.Group):
                self.group(msg, element, None, synthetic)
            elif isinstance(element, ast.OneOf):
                index = len(msg.oneof_decl)
                msg.oneof_decl.add(name=element.name)
                for member in element.elements:
                    if isinstance(member, ast.Field):
                        self.field(msg, member, index, synthetic)
                    elif isinstance(member, ast.Group):
                        self.group(msg, member, index, synthetic)
            elif isinstance(element, ast.Message):
                nested = msg.nested_type.add(name=element.name)
                self.elements(nested, element.elements)
            elif isinstance(element, ast.Enum):
                self.enum(msg, element)
            # options, reserved ranges, extension ranges, extensions, comments: not needed to decode
        taken = {o.name for o in msg.oneof_decl}
        for f in synthetic:
            name = "_" + f.name
            while name in taken:
                name = "X" + name
            taken.add(name)
            f.oneof_index = len(msg.oneof_decl)
            msg.oneof_decl.add(name=name)


def _file_proto(name: str, text: str, available: set[str]) -> Any:
    tree = _parse(text, name)
    if tree.edition is not None:
        raise ProtoCompileError(f"{name}: Protobuf editions ({tree.edition}) are not supported")
    syntax = (tree.syntax or "proto2").strip("'\"")
    fd = descriptor_pb2.FileDescriptorProto(name=name, syntax=syntax)
    builder = _Builder(proto3=syntax == "proto3")
    for element in tree.file_elements:
        if isinstance(element, ast.Package):
            fd.package = element.name
        elif isinstance(element, ast.Import):
            # An import that is neither a reference nor a well-known type is dropped: it is often
            # there only for options (confluent/meta.proto); a type used from it fails to resolve.
            if element.name in available:
                if element.public:
                    fd.public_dependency.append(len(fd.dependency))
                fd.dependency.append(element.name)
        elif isinstance(element, ast.Message):
            msg = fd.message_type.add(name=element.name)
            builder.elements(msg, element.elements)
        elif isinstance(element, ast.Enum):
            builder.enum(fd, element)
    return fd


def compile_files(
    main: str, references: Mapping[str, str] = {}, main_name: str = "schema.proto"
) -> tuple[descriptor_pool.DescriptorPool, Any]:
    """Compile `main` (schema text) with its `references` (import name -> schema text, in any
    order) into a new pool; returns ``(pool, main FileDescriptor)``. Raises `ProtoCompileError`."""
    pool = descriptor_pool.DescriptorPool()
    texts = dict(references)
    while main_name in texts:
        main_name = "_" + main_name
    texts[main_name] = main
    available = set(texts) | set(_WELL_KNOWN) | {_DESCRIPTOR_PROTO}
    protos = {name: _file_proto(name, text, available) for name, text in texts.items()}
    added: set[str] = set()

    def add(name: str, chain: tuple[str, ...]) -> None:
        if name in added:
            return
        if name in chain:
            raise ProtoCompileError(f"import cycle: {' -> '.join((*chain, name))}")
        if name in protos:
            for dep in protos[name].dependency:
                add(dep, (*chain, name))
            fd = protos[name]
        elif name == _DESCRIPTOR_PROTO:
            fd = descriptor_pb2.FileDescriptorProto.FromString(descriptor_pb2.DESCRIPTOR.serialized_pb)
        else:
            module = _WELL_KNOWN[name]
            fd = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
            for dep in fd.dependency:
                add(dep, (*chain, name))
        try:
            pool.Add(fd)
        except Exception as exc:  # TypeError / KeyError from the pool: unresolved names, duplicates, ...
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise ProtoCompileError(f"{name}: {text[:300]}") from None
        added.add(name)

    for name in texts:
        add(name, ())
    try:
        return pool, pool.FindFileByName(main_name)
    except Exception as exc:
        raise ProtoCompileError(f"{main_name}: {' '.join(str(exc).split())[:300]}") from None
