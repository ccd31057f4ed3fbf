"""JSON Schema from the registry: compiled once per schema id, used to *note* (never to refuse) a
payload that does not validate. The draft is the schema's ``$schema``, draft 7 when it has none
(the Confluent serializers' default)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

if TYPE_CHECKING:
    from referencing import Resource

# jsonschema and referencing are imported where a JSON Schema is compiled or checked: most runs
# (print over JSON, Avro) never need them, and they take ~0.1 s to import.

__all__ = ["JsonSchema", "JsonSchemaError"]

_MAX_NOTE = 300


class JsonSchemaError(ValueError):
    """The schema text is not a usable JSON Schema (one line, for the user)."""


@dataclass(frozen=True, slots=True)
class JsonSchema:
    """A compiled JSON Schema: its title (or ``$id``) for display and a validator."""

    title: str | None
    validator: Any

    @classmethod
    def compile(cls, text: str, references: Mapping[str, str] = {}) -> JsonSchema:
        """`references` maps a reference name (the URI the schema's ``$ref`` uses) to its schema
        text. Raises `JsonSchemaError`."""
        import jsonschema
        from jsonschema.exceptions import SchemaError
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT7

        schema = _load(text, "schema")
        base = schema.get("$id") if isinstance(schema, dict) else None
        resources: list[tuple[str, Resource[Any]]] = []
        for name, ref_text in references.items():
            ref = _load(ref_text, f"referenced schema {name!r}")
            resource = Resource.from_contents(ref, default_specification=DRAFT7)
            # Found by the reference name, by that name relative to the schema's own $id (a
            # relative "$ref": "customer.json" under "$id": "https://x/order.json"), and by its $id.
            uris = {name}
            if isinstance(base, str):
                uris.add(urljoin(base, name))
            ref_id = ref.get("$id") if isinstance(ref, dict) else None
            if isinstance(ref_id, str):
                uris.add(ref_id)
            resources.extend((uri, resource) for uri in uris)
        registry: Registry[Any] = Registry().with_resources(resources)
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        try:
            validator_cls.check_schema(schema)
        except SchemaError as exc:
            raise JsonSchemaError(f"not a valid JSON Schema: {_one_line(exc.message)}") from None
        title = None
        if isinstance(schema, dict):
            for key in ("title", "$id"):
                if isinstance(schema.get(key), str):
                    title = schema[key]
                    break
        return cls(title, validator_cls(schema, registry=registry))

    def problem(self, value: Any) -> str | None:
        """Why `value` does not validate (the most relevant error, with its JSON path), or None."""
        import jsonschema.exceptions

        try:
            error = jsonschema.exceptions.best_match(self.validator.iter_errors(value))
        except Exception as exc:  # an unresolvable $ref, a bad regex in the schema, deep recursion ...
            return _one_line(f"cannot validate: {type(exc).__name__}: {exc}")
        if error is None:
            return None
        return _one_line(f"{error.json_path}: {error.message}")


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise JsonSchemaError(f"{what} is not JSON: {_one_line(str(exc))}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:_MAX_NOTE]
