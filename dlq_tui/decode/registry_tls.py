"""TLS settings of the schema registry client: a private CA, a client certificate, host name check.

Given as the Java serializers' ``schema.registry.ssl.*`` properties (PEM stores) or their PEM
variants (``schema.registry.ssl.ca.location`` etc., as confluent-kafka-python names them);
settings.py maps the properties to a `RegistryTls`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REGISTRY_TLS_PROPERTIES", "RegistryTls", "RegistryTlsError", "registry_tls_from_properties"]

_P = "schema.registry.ssl."
REGISTRY_TLS_PROPERTIES = frozenset(
    _P + name
    for name in (
        "truststore.location",
        "truststore.type",
        "truststore.password",
        "keystore.location",
        "keystore.type",
        "keystore.password",
        "key.password",
        "ca.location",
        "certificate.location",
        "key.location",
        "endpoint.identification.algorithm",
    )
)


class RegistryTlsError(ValueError):
    """Unusable TLS settings (one line, for the user)."""


@dataclass(frozen=True)
class RegistryTls:
    """PEM files for the registry's TLS: `cafile` (trusted CAs; the system's when None),
    `certfile` + `keyfile` (client certificate; one file may hold both), `check_hostname`."""

    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    key_password: str | None = field(default=None, repr=False)
    check_hostname: bool = True

    def ssl_context(self) -> ssl.SSLContext:
        """The context for httpx (``verify=``); raises `RegistryTlsError` for unreadable files."""
        try:
            ctx = ssl.create_default_context(cafile=self.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise RegistryTlsError(f"schema registry CA file {self.cafile}: {_reason(exc)}") from None
        # Certificates are still verified without the host name check (as for Kafka).
        ctx.check_hostname = self.check_hostname
        if self.certfile:
            try:
                ctx.load_cert_chain(self.certfile, self.keyfile, password=self.key_password)
            except (OSError, ssl.SSLError) as exc:
                files = self.certfile if not self.keyfile else f"{self.certfile} / {self.keyfile}"
                raise RegistryTlsError(
                    f"schema registry client certificate {files}: {_reason(exc)} "
                    "(PEM certificate and private key; key password in schema.registry.ssl.key.password)"
                ) from None
        return ctx


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _pem_store(props: Mapping[str, str], kind: str) -> str | None:
    """The location of a ``truststore``/``keystore`` property set, which must be a PEM file."""
    location = props.get(f"{_P}{kind}.location")
    if location is None:
        return None
    store_type = props.get(f"{_P}{kind}.type", "PEM").strip().upper()
    if store_type != "PEM":
        hint = (
            "keytool -exportcert -rfc -alias ALIAS -keystore STORE > ca.pem"
            if kind == "truststore"
            else "openssl pkcs12 -in STORE.p12 -out client.pem"
        )
        raise RegistryTlsError(
            f"{_P}{kind}.type={store_type} is not supported: give a PEM file "
            f"({_P}{kind}.type=PEM), e.g. converted with `{hint}`"
        )
    return location


def registry_tls_from_properties(props: Mapping[str, str]) -> RegistryTls | None:
    """The registry TLS settings in `props`, or None when there are none. Raises
    `RegistryTlsError` for a missing file, a non-PEM store or contradicting properties."""
    given = {k: v for k, v in props.items() if k in REGISTRY_TLS_PROPERTIES}
    if not given:
        return None
    truststore = _pem_store(given, "truststore")
    keystore = _pem_store(given, "keystore")
    cafile = given.get(f"{_P}ca.location")
    if cafile and truststore and cafile != truststore:
        raise RegistryTlsError(f"give either {_P}ca.location or {_P}truststore.location, not both")
    cafile = cafile or truststore
    certfile = given.get(f"{_P}certificate.location")
    keyfile = given.get(f"{_P}key.location")
    if keystore and (certfile or keyfile):
        raise RegistryTlsError(
            f"give either {_P}keystore.location or {_P}certificate.location + key.location, not both"
        )
    if keystore:
        certfile = keystore  # one PEM file with the certificate chain and the private key
    if keyfile and not certfile:
        raise RegistryTlsError(f"{_P}key.location needs {_P}certificate.location")
    for name, path in (("CA", cafile), ("certificate", certfile), ("key", keyfile)):
        if path is not None and not Path(path).is_file():
            raise RegistryTlsError(f"schema registry TLS {name} file: no such file {path}")
    key_password = given.get(f"{_P}key.password") or given.get(f"{_P}keystore.password")
    endpoint = given.get(f"{_P}endpoint.identification.algorithm", "https").strip().lower()
    if endpoint not in ("", "https", "none"):
        raise RegistryTlsError(f"{_P}endpoint.identification.algorithm '{endpoint}': use 'https' or ''")
    return RegistryTls(cafile, certfile, keyfile, key_password, endpoint == "https")
