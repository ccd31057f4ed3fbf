"""Schema registry client (Confluent REST API) on a synchronous httpx client.

Works against the Confluent Schema Registry and Apicurio's ``/apis/ccompat/v7``. The TUI decodes
from worker threads, so the client is thread-safe: look-ups of cached ids take no network lock;
network fetches are serialised (schemas are fetched once per id, so there is nothing to gain from
parallel fetches, and a down registry sees one request, not one per thread).

Failures raise `RegistryError` (one line, never containing the password). They are cached too:
an unknown or unparsable id for `negative_ttl` seconds, and a registry-wide outage (connection
refused, timeout, 401/403, 5xx) for `negative_ttl` seconds across all ids, so a million records
behind a down registry cost one connection attempt, not a million.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import fastavro
import httpx

from .json_schema import JsonSchema, JsonSchemaError
from .protobuf import ProtoCompileError, ProtoSchema
from .wire import SchemaRef

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_NEGATIVE_TTL",
    "DEFAULT_READ_TIMEOUT",
    "GuidSchemaSource",
    "RegisteredSchema",
    "RegistryError",
    "SchemaPending",
    "SchemaRegistry",
    "SchemaSource",
]

DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 5.0
DEFAULT_NEGATIVE_TTL = 30.0
APICURIO_CCOMPAT_PATH = "/apis/ccompat/v7"
_ACCEPT = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_MAX_REFERENCE_DEPTH = 16


class RegistryError(Exception):
    """A schema registry failure, as one line of text fit to show the user."""

    def __init__(self, message: str, *, status: int | None = None, outage: bool = False) -> None:
        super().__init__(" ".join(message.split()))
        self.status = status
        #: True when the registry as a whole is unusable (unreachable, timeout, 401/403, 5xx),
        #: False when only this request failed (unknown id, unparsable schema, odd response).
        self.outage = outage

    @property
    def message(self) -> str:
        return str(self.args[0])


class SchemaPending(RegistryError):
    """The schema has not been fetched yet (decoding from the cache only): not a failure."""


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """A schema fetched by id (or GUID). `parsed` is what decodes with it: the fastavro-parsed
    schema for AVRO, a `ProtoSchema` for PROTOBUF, a `JsonSchema` for JSON (None if unknown).

    `subject` is a subject the id is registered under, when known: the one passed to `register`,
    else the first the registry lists (ids are per content, so several subjects may share one).
    """

    schema_id: SchemaRef
    schema_type: str  # "AVRO", "JSON" or "PROTOBUF"
    schema_str: str
    parsed: Any
    subject: str | None = None


class SchemaSource(Protocol):
    """What the decoders need from a registry."""

    def get_schema(self, schema_id: int) -> RegisteredSchema:
        """The schema for `schema_id`; raises `RegistryError`."""
        ...


@runtime_checkable
class GuidSchemaSource(Protocol):
    """A `SchemaSource` that also resolves Confluent Schema Registry 8 GUIDs (header schema ids)."""

    def get_schema_by_guid(self, guid: str) -> RegisteredSchema:
        """The schema for `guid`; raises `RegistryError`."""
        ...


def _split_credentials(url: str) -> tuple[str, str | None]:
    """``(url without userinfo, "user:password" or None)``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), f"{user}:{password}"


class SchemaRegistry:
    """Confluent-compatible schema registry client with a thread-safe schema cache.

    `url` is the API base, e.g. ``http://127.0.0.1:8081`` (Confluent) or
    ``http://127.0.0.1:8080/apis/ccompat/v7`` (Apicurio). `user_info` is Java's
    ``basic.auth.user.info`` (``user:password``); credentials in the URL are used when it is None.
    Of a comma-separated ``schema.registry.url`` list the first URL is used. `verify` is
    httpx's: False, or an ``ssl.SSLContext`` for a private CA / client certificate.
    """

    def __init__(
        self,
        url: str,
        *,
        user_info: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
        verify: bool | ssl.SSLContext = True,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        first = next((u.strip() for u in url.split(",") if u.strip()), "")
        base, url_user_info = _split_credentials(first.rstrip("/"))
        self.url = base
        user_info = user_info if user_info is not None else url_user_info
        self._secret: str | None = None
        auth: httpx.BasicAuth | None = None
        if user_info:
            user, _, password = user_info.partition(":")
            auth = httpx.BasicAuth(user, password)
            self._secret = password or None
        self._read_timeout = read_timeout
        self._client = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"Accept": _ACCEPT},
            verify=verify,
            transport=transport,
            follow_redirects=True,
        )
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._lock = threading.Lock()  # guards the dicts below
        self._fetch_lock = threading.Lock()  # serialises network fetches
        self._probe_lock = threading.Lock()
        self._probed = False
        self._schemas: dict[SchemaRef, RegisteredSchema] = {}
        self._failures: dict[SchemaRef, tuple[float, RegistryError]] = {}
        self._outage: tuple[float, RegistryError] | None = None
        # The last failure seen, kept until a fetch succeeds (for `cached_schema`).
        self._last_failures: dict[SchemaRef, RegistryError] = {}
        self._last_outage: RegistryError | None = None
        self._subjects: dict[int, str] = {}
        self.request_count = 0  # HTTP requests attempted (for tests and diagnostics)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SchemaRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SchemaRegistry({self.url!r})"

    # -- public API -----------------------------------------------------------------------------

    def get_schema(self, schema_id: SchemaRef) -> RegisteredSchema:
        """The schema registered under `schema_id` (cached): an int id, or a Confluent Schema
        Registry 8 GUID (``GET /schemas/guids/{guid}``); raises `RegistryError`."""
        hit = self._schemas.get(schema_id)
        if hit is not None:
            return hit
        self._raise_cached_failure(schema_id)
        with self._fetch_lock:
            hit = self._schemas.get(schema_id)
            if hit is not None:
                return hit
            self._raise_cached_failure(schema_id)
            try:
                schema = self._fetch(schema_id)
            except RegistryError as exc:
                until = self._clock() + self._negative_ttl
                with self._lock:
                    if exc.outage:
                        self._outage = (until, exc)
                        self._last_outage = exc
                    else:
                        self._failures[schema_id] = (until, exc)
                        self._last_failures[schema_id] = exc
                raise
            with self._lock:
                self._schemas[schema_id] = schema
                self._failures.pop(schema_id, None)
                self._last_failures.pop(schema_id, None)
                self._last_outage = None
            return schema

    def get_schema_by_guid(self, guid: str) -> RegisteredSchema:
        """The schema with Confluent Schema Registry 8 GUID `guid` (cached); raises `RegistryError`."""
        return self.get_schema(guid)

    def cached_schema(self, schema_id: SchemaRef) -> RegisteredSchema:
        """The schema if it was fetched, never touching the network (for decoding on a UI
        thread). Raises the last failure for this id (or the last outage), however old, or a
        "not fetched yet" `RegistryError` if it was never asked for."""
        hit = self._schemas.get(schema_id)
        if hit is not None:
            return hit
        with self._lock:
            failure = self._last_failures.get(schema_id) or self._last_outage
        if failure is not None:
            raise failure
        raise SchemaPending(f"{_what(schema_id)} not fetched yet from the schema registry")

    def is_known(self, schema_id: SchemaRef) -> bool:
        """Whether asking for `schema_id` now would be answered from the cache (the schema, or a
        failure not yet expired) rather than by a request."""
        now = self._clock()
        with self._lock:
            if schema_id in self._schemas:
                return True
            if self._outage is not None and now < self._outage[0]:
                return True
            failure = self._failures.get(schema_id)
            return failure is not None and now < failure[0]

    def register(
        self,
        subject: str,
        schema: str | Mapping[str, Any],
        schema_type: str = "AVRO",
        references: Sequence[Mapping[str, Any]] = (),
    ) -> int:
        """Register `schema` under `subject` (idempotent in the registry); returns its id.
        `references` are Confluent schema references (``{"name", "subject", "version"}``)."""
        schema_str = schema if isinstance(schema, str) else json.dumps(schema)
        body: dict[str, Any] = {"schema": schema_str}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        if references:
            body["references"] = [dict(r) for r in references]
        what = f"registering subject {subject!r}"
        payload = self._request("POST", f"/subjects/{quote(subject, safe='')}/versions", what, json_body=body)
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
            raise RegistryError(f"schema registry at {self.url}: unexpected response {what}")
        schema_id: int = payload["id"]
        with self._lock:
            self._subjects[schema_id] = subject
            self._failures.pop(schema_id, None)
            cached = self._schemas.get(schema_id)
            if cached is not None and cached.subject is None:
                self._schemas[schema_id] = _with_subject(cached, subject)
        return schema_id

    def subjects(self) -> list[str]:
        """All subject names."""
        payload = self._request("GET", "/subjects", "listing subjects")
        if not isinstance(payload, list) or not all(isinstance(s, str) for s in payload):
            raise RegistryError(f"schema registry at {self.url}: unexpected response listing subjects")
        return list(payload)

    def failing(self) -> bool:
        """Whether a fetch failed (an id, or the registry as a whole) and none succeeded since."""
        with self._lock:
            return bool(self._last_failures) or self._last_outage is not None

    def known_count(self) -> int:
        """How many schemas are cached."""
        with self._lock:
            return len(self._schemas)

    def clear_cache(self) -> None:
        with self._lock:
            self._schemas.clear()
            self._failures.clear()
            self._outage = None
            self._last_failures.clear()
            self._last_outage = None

    # -- internals ------------------------------------------------------------------------------

    def _raise_cached_failure(self, schema_id: SchemaRef) -> None:
        now = self._clock()
        with self._lock:
            if self._outage is not None:
                if now < self._outage[0]:
                    raise self._outage[1]
                self._outage = None
            failure = self._failures.get(schema_id)
            if failure is not None:
                if now < failure[0]:
                    raise failure[1]
                del self._failures[schema_id]

    def _fetch(self, schema_id: SchemaRef) -> RegisteredSchema:
        what = _what(schema_id)
        if isinstance(schema_id, str):
            path = f"/schemas/guids/{quote(schema_id, safe='')}"
        else:
            path = f"/schemas/ids/{schema_id}"
        payload = self._request("GET", path, f"fetching {what}")
        if not isinstance(payload, dict) or not isinstance(payload.get("schema"), str):
            raise RegistryError(f"schema registry at {self.url}: unexpected response for {what}")
        schema_str: str = payload["schema"]
        schema_type = str(payload.get("schemaType") or "AVRO").upper()
        parsed: Any = None
        if schema_type == "AVRO":
            named: dict[str, Any] = {}
            self._parse_references(payload.get("references"), named, 0)
            parsed = _parse_avro(schema_str, named, what)
        elif schema_type == "PROTOBUF":
            texts: dict[str, str] = {}
            self._reference_texts(payload.get("references"), texts, 0)
            try:
                parsed = ProtoSchema.compile(schema_str, texts)
            except ProtoCompileError as exc:
                raise RegistryError(f"{what} is not a usable Protobuf schema: {exc}") from None
        elif schema_type == "JSON":
            texts = {}
            self._reference_texts(payload.get("references"), texts, 0)
            try:
                parsed = JsonSchema.compile(schema_str, texts)
            except JsonSchemaError as exc:
                raise RegistryError(f"{what} is not a usable JSON Schema: {exc}") from None
        subject = None
        if isinstance(schema_id, int):
            subject = self._subjects.get(schema_id) or self._lookup_subject(schema_id)
        elif isinstance(payload.get("subject"), str):
            subject = payload["subject"]
        return RegisteredSchema(schema_id, schema_type, schema_str, parsed, subject)

    def _reference_texts(self, refs: object, out: dict[str, str], depth: int) -> None:
        """The texts of referenced schemas (and theirs), by reference name (the import path of a
        Protobuf schema, the ``$ref`` URI of a JSON Schema)."""
        if not refs:
            return
        if not isinstance(refs, list) or depth > _MAX_REFERENCE_DEPTH:
            raise RegistryError(f"schema registry at {self.url}: unusable schema references")
        for ref in refs:
            if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
                raise RegistryError(f"schema registry at {self.url}: unusable schema reference")
            if ref["name"] in out:
                continue
            subject, version = str(ref.get("subject")), str(ref.get("version"))
            what = f"fetching referenced schema {subject!r} version {version}"
            path = f"/subjects/{quote(subject, safe='')}/versions/{quote(version, safe='')}"
            payload = self._request("GET", path, what)
            if not isinstance(payload, dict) or not isinstance(payload.get("schema"), str):
                raise RegistryError(f"schema registry at {self.url}: unexpected response {what}")
            out[ref["name"]] = payload["schema"]
            self._reference_texts(payload.get("references"), out, depth + 1)

    def _parse_references(self, refs: object, named: dict[str, Any], depth: int) -> None:
        """Parse referenced schemas (Confluent schema references) into `named`, dependencies first."""
        if not refs:
            return
        if not isinstance(refs, list) or depth > _MAX_REFERENCE_DEPTH:
            raise RegistryError(f"schema registry at {self.url}: unusable schema references")
        for ref in refs:
            if not isinstance(ref, dict):
                raise RegistryError(f"schema registry at {self.url}: unusable schema reference")
            subject, version = str(ref.get("subject")), str(ref.get("version"))
            what = f"fetching referenced schema {subject!r} version {version}"
            path = f"/subjects/{quote(subject, safe='')}/versions/{quote(version, safe='')}"
            payload = self._request("GET", path, what)
            if not isinstance(payload, dict) or not isinstance(payload.get("schema"), str):
                raise RegistryError(f"schema registry at {self.url}: unexpected response {what}")
            self._parse_references(payload.get("references"), named, depth + 1)
            _parse_avro(payload["schema"], named, f"referenced schema {subject!r}")

    def _lookup_subject(self, schema_id: int) -> str | None:
        """Best effort: the first subject using `schema_id` (``GET /schemas/ids/{id}/versions``)."""
        try:
            payload = self._request("GET", f"/schemas/ids/{schema_id}/versions", "looking up subject")
        except RegistryError:
            return None
        if isinstance(payload, list) and payload and isinstance(payload[0], dict):
            subject = payload[0].get("subject")
            if isinstance(subject, str):
                with self._lock:
                    self._subjects[schema_id] = subject
                return subject
        return None

    def _probe_base(self) -> None:
        """Apicurio serves the Confluent API under /apis/ccompat/v7: an engineer who passes the
        server root (``schema.registry.url=http://host:8081``, as for Confluent) still gets there.
        Probed once, on the first request, only for a URL without a path."""
        with self._probe_lock:
            if self._probed:
                return
            self._probed = True
            if urlsplit(self.url).path not in ("", "/"):
                return
            try:
                if self._client.get(self.url + "/subjects").status_code != 404:
                    return
                candidate = self.url + APICURIO_CCOMPAT_PATH
                if self._client.get(candidate + "/subjects").status_code == 200:
                    self.url = candidate
            except httpx.HTTPError:
                return  # the real request reports the outage

    def _request(self, method: str, path: str, what: str, json_body: Any = None) -> Any:
        if not self._probed:
            self._probe_base()
        with self._lock:
            self.request_count += 1
        where = f"schema registry at {self.url}"
        try:
            if json_body is None:
                response = self._client.request(method, self.url + path)
            else:
                response = self._client.request(
                    method,
                    self.url + path,
                    content=json.dumps(json_body).encode(),
                    headers={"Content-Type": _CONTENT_TYPE},
                )
        except httpx.TimeoutException as exc:
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "request"
            raise self._error(f"{where}: {kind} timed out {what}", outage=True) from None
        except httpx.ConnectError as exc:
            tls = _tls_problem(_reason(exc))
            if tls is not None:
                raise self._error(f"{where}: {tls}", outage=True) from None
            raise self._error(f"{where} unreachable: {_reason(exc)}", outage=True) from None
        except httpx.HTTPError as exc:
            tls = _tls_problem(_reason(exc))
            if tls is not None:  # TLS 1.3 reports a refused client certificate on the first read
                raise self._error(f"{where}: {tls}", outage=True) from None
            msg = f"{where}: {type(exc).__name__} {what}: {_reason(exc)}"
            if isinstance(exc, httpx.RemoteProtocolError) and self.url.startswith("https:"):
                msg += (
                    " (a TLS server that requires a client certificate may hang up like this: "
                    "see schema.registry.ssl.certificate.location / keystore.location)"
                )
            raise self._error(msg, outage=True) from None
        status = response.status_code
        if status >= 400:
            detail = _error_detail(response)
            if status in (401, 403):
                hint = " (check basic.auth.user.info)"
                msg = f"{where}: {status} {response.reason_phrase} {what}{hint}"
            elif status == 404:
                msg = f"{what}: not found in {where}"
            else:
                msg = f"{where}: {status} {response.reason_phrase} {what}"
            outage = status in (401, 403) or status >= 500
            raise self._error(f"{msg}: {detail}" if detail else msg, status=status, outage=outage)
        try:
            return response.json()
        except ValueError:
            raise self._error(f"{where}: invalid JSON in response {what}", status=status) from None

    def _error(self, message: str, status: int | None = None, outage: bool = False) -> RegistryError:
        if self._secret:
            message = message.replace(self._secret, "***")
        return RegistryError(message, status=status, outage=outage)


def _what(schema_id: SchemaRef) -> str:
    return f"schema GUID {schema_id}" if isinstance(schema_id, str) else f"schema id {schema_id}"


def _with_subject(schema: RegisteredSchema, subject: str) -> RegisteredSchema:
    return RegisteredSchema(schema.schema_id, schema.schema_type, schema.schema_str, schema.parsed, subject)


def _parse_avro(schema_str: str, named: dict[str, Any], what: str) -> Any:
    try:
        return fastavro.parse_schema(json.loads(schema_str), named_schemas=named)
    except Exception as exc:  # fastavro raises several types (SchemaParseException, ValueError, ...)
        raise RegistryError(f"{what} is not a valid Avro schema: {_reason(exc)}") from None


def _tls_problem(reason: str) -> str | None:
    """A TLS handshake failure said in the settings' terms, or None if `reason` is not one."""
    upper = reason.upper()
    if "CERTIFICATE_VERIFY_FAILED" in upper:
        if "HOSTNAME MISMATCH" in upper or "IP ADDRESS MISMATCH" in upper:
            return (
                f"TLS certificate does not name this host ({reason}); fix the URL, or set "
                "schema.registry.ssl.endpoint.identification.algorithm= to skip the host name check"
            )
        return (
            f"TLS certificate not trusted ({reason}); give the CA that signed the registry's "
            "certificate with schema.registry.ssl.ca.location (PEM) or schema.registry.ssl.truststore.location"
        )
    if "CERTIFICATE_REQUIRED" in upper or "CERTIFICATE REQUIRED" in upper:
        return (
            f"the registry requires a client certificate ({reason}); give it with "
            "schema.registry.ssl.certificate.location and schema.registry.ssl.key.location "
            "(or schema.registry.ssl.keystore.location)"
        )
    if "[SSL" in upper or ("TLS" in upper and "ALERT" in upper):
        return f"TLS handshake failed ({reason})"
    return None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if not text:
        text = type(exc).__name__
    return text[:200]


def _error_detail(response: httpx.Response) -> str:
    """The registry's own error message (Confluent ``{"error_code", "message"}``), one line, short."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        message = body.get("message")
        code = body.get("error_code")
        parts = [str(message)] if message else []
        if code is not None:
            parts.append(f"(error_code {code})")
        return " ".join(" ".join(parts).split())[:200]
    return ""


class CachedSchemas:
    """A `SchemaSource` that only answers from a registry's cache: decoding through it never
    waits on the network (schemas are fetched by a background prefetch)."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry

    def get_schema(self, schema_id: SchemaRef) -> RegisteredSchema:
        return self.registry.cached_schema(schema_id)

    def get_schema_by_guid(self, guid: str) -> RegisteredSchema:
        return self.registry.cached_schema(guid)
