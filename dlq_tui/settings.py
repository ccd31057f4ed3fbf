"""Settings: command line > `DLQ_TUI_*` environment > a named profile of the TOML config file >
defaults (pydantic-settings), and the mapping of Java client property names (an engineer's
existing `client.properties`) to the Python clients. Unknown properties are errors that name them;
secret values never appear in errors, logs or reprs."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from jproperties import Properties
from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dlq_tui.decode.registry_tls import (
    REGISTRY_TLS_PROPERTIES,
    RegistryTls,
    RegistryTlsError,
    registry_tls_from_properties,
)
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.arena import DEFAULT_MEMORY_BUDGET

ENV_PREFIX = "DLQ_TUI_"


class SettingsError(ValueError):
    """A configuration mistake; the message names the setting (never a secret value)."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dlq-tui"


def default_config_file() -> Path:
    return config_dir() / "config.toml"


class ProfileSource(PydanticBaseSettingsSource):
    """The values of one `[profiles.NAME]` table of the TOML config file (plus its top-level
    `[keys]` table). The profile is `--profile`, else `DLQ_TUI_PROFILE`, else `default_profile`."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, profile: str | None) -> None:
        super().__init__(settings_cls)
        self.path = path
        self.values: dict[str, Any] = {}
        if not path.is_file():
            if profile:
                raise SettingsError(f"profile '{profile}' requested but config file {path} does not exist")
            return
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read config file {path}: {exc}") from exc
        name = profile or data.get("default_profile")
        profiles = data.get("profiles", {})
        if name:
            if name not in profiles:
                known = ", ".join(sorted(profiles)) or "none"
                raise SettingsError(f"no profile '{name}' in {path} (profiles: {known})")
            self.values.update(profiles[name])
        if "keys" in data:
            self.values.setdefault("keys", data["keys"])

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


class Settings(BaseSettings):
    """Everything a session needs; field names are the TOML profile keys and, upper-cased with the
    `DLQ_TUI_` prefix, the environment variables (dict fields take JSON)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    profile: str | None = None
    config: Path | None = None
    bootstrap_servers: str | None = None
    group: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    consumer_properties: dict[str, str] = Field(default_factory=dict)
    producer_properties: dict[str, str] = Field(default_factory=dict)
    transactional_id: str | None = None
    from_beginning: bool = False
    tombstones: Literal["auto", "always", "never"] = "auto"
    keep_timestamp: bool = True
    key_format: Literal["auto", "avro", "json", "string", "bytes"] = "auto"
    value_format: Literal["auto", "avro", "json", "string", "bytes"] = "auto"
    read_only: bool = False
    journal: bool = True
    show_tombstones: bool = False
    """Show the DLQ's tombstones (null values) for triage; hidden by default."""
    keys: dict[str, str] = Field(default_factory=dict)
    """TUI key remapping: action name -> key (e.g. `merge = "M"`)."""
    canary: int = Field(default=10, ge=1)
    """How many merges the app's canary (`k` in the review) commits first."""
    canary_wait: float = Field(default=60.0, gt=0)
    """How long (seconds) the app's canary watches the DLQ for them coming back."""
    first_view: Literal["groups", "records"] = "groups"
    """What the app opens on: the failure groups (what broke, how much, from where) or the records."""
    # Safe redrive (docs/redrive.md).
    max_rate: float | None = Field(default=None, gt=0)
    """Merges and purges per second at most, in several transactions."""
    audit_topic: str | None = None
    """Topic for one JSON audit record per merge and purge, in the same transaction."""
    operator: str | None = None
    """Who audit records name (default user@host)."""
    origin_partition: bool = False
    """With DESTINATION @origin: the origin partition from the headers, not the key's."""
    # Memory (docs/performance.md, "The arena").
    memory_budget: int = Field(default=DEFAULT_MEMORY_BUDGET, ge=0)
    """Bytes of loaded payloads (keys, values, headers) kept in memory; beyond it they go to an
    unlinked 0600 file in the cache directory. `256M`, `2G`, `0` (always on disk) or `unlimited`
    (never on disk); a number without a unit is refused (except 0)."""

    @field_validator("memory_budget", mode="before")
    @classmethod
    def _memory_budget_size(cls, value: Any) -> Any:
        return parse_size(value) if isinstance(value, str) else value

    def __repr_args__(self) -> Any:
        # repr() and str() must not show sasl.jaas.config, basic.auth.user.info, ... values
        for name, value in super().__repr_args__():
            if name in ("properties", "consumer_properties", "producer_properties"):
                value = {k: mask_property(k, v) for k, v in value.items()}
            yield name, value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_kwargs: dict[str, Any] = getattr(init_settings, "init_kwargs", {})
        path = init_kwargs.get("config") or os.environ.get(f"{ENV_PREFIX}CONFIG") or default_config_file()
        profile = init_kwargs.get("profile") or os.environ.get(f"{ENV_PREFIX}PROFILE")
        return init_settings, env_settings, ProfileSource(settings_cls, Path(path), profile)


# -- Java client properties -----------------------------------------------------------------------

SECRET_PROPERTIES = frozenset({"sasl.jaas.config", "basic.auth.user.info", "ssl.key.password"})
MASK = "**********"


_SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?\s*")
_UNIT = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40}


def parse_size(text: str) -> int:
    """A size in bytes from ``256M``, ``1.5G``, ``512KiB``, ``0`` or ``unlimited`` (units are
    powers of 1024, case does not matter). A number other than 0 without a unit is refused: ``500``
    could mean bytes or megabytes."""
    if text.strip().lower() in ("unlimited", "none", "inf"):
        return 1 << 62
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"'{text}' is not a size: give e.g. 256M, 2G, 0 (always on disk) or unlimited")
    number, unit = float(m.group(1)), m.group(2)
    if unit is None:
        if number == 0:
            return 0
        raise ValueError(f"'{text}' has no unit: give e.g. {m.group(1)}M or {m.group(1)}G (powers of 1024)")
    return int(number * (1 << _UNIT[unit[0].lower()]))


def mask_url(url: str) -> str:
    """`http://user:pass@host` -> `http://**********@host` (credentials in a registry URL)."""
    return re.sub(r"(://)[^/@]*@", rf"\1{MASK}@", url)


def mask_property(name: str, value: str) -> str:
    """A property value as it may be shown: secrets masked."""
    if name in SECRET_PROPERTIES or "password" in name or "secret" in name:
        return MASK
    return mask_url(value) if "url" in name else value


_COMMON = frozenset(
    {
        "bootstrap.servers",
        "security.protocol",
        "sasl.mechanism",
        "sasl.jaas.config",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.endpoint.identification.algorithm",
        "client.id",
        "request.timeout.ms",
        "schema.registry.url",
        "basic.auth.user.info",
        "basic.auth.credentials.source",
    }
)
# dlq-tui always reads and writes raw bytes: (de)serializer settings are accepted and not used.
_IGNORED = re.compile(r"^(key|value)\.(de)?serializer$|^specific\.avro\.reader$|^auto\.register\.schemas$")
# Accepted and not used (a warning says why): common in an engineer's client.properties (e.g. the
# Confluent Cloud template), meaningless for how dlq-tui reads and commits.
_UNUSED = {
    "client.dns.lookup": "aiokafka connects to the addresses of each host itself",
    "session.timeout.ms": "dlq-tui assigns partitions and never joins the group",
    "heartbeat.interval.ms": "dlq-tui assigns partitions and never joins the group",
    "max.poll.interval.ms": "dlq-tui assigns partitions and never joins the group",
    "enable.auto.commit": "offsets are committed only by the commit transaction",
    "auto.offset.reset": "reading starts at the group's committed offset (or the earliest)",
    "group.id": "the group is given with -g/--group",
}
# Settings dlq-tui always uses: accepted when they agree, an error when they do not.
_FIXED = {
    "acks": ("all", "-1"),
    "enable.idempotence": ("true",),
    "isolation.level": ("read_committed",),
}
_CONSUMER = {
    "fetch.max.bytes": ("fetch_max_bytes", int),
    "max.partition.fetch.bytes": ("max_partition_fetch_bytes", int),
    "fetch.min.bytes": ("fetch_min_bytes", int),
    "fetch.max.wait.ms": ("fetch_max_wait_ms", int),
    "max.poll.records": ("max_poll_records", int),
}
_PRODUCER = {
    "linger.ms": ("linger_ms", int),
    "batch.size": ("max_batch_size", int),
    "compression.type": ("compression_type", str),
    "transaction.timeout.ms": ("transaction_timeout_ms", int),
    "max.request.size": ("max_request_size", int),
}
_PROTOCOLS = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
_MECHANISMS = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
_JAAS = re.compile(
    r"^\s*org\.apache\.kafka\.common\.security\.(plain\.PlainLoginModule|scram\.ScramLoginModule)\s+required\s+(.*?);?\s*$",
    re.S,
)
# one `name = value` option of a JAAS line: value double-quoted (backslash escapes), single-quoted or bare
_JAAS_OPTION = re.compile(r"""\s*([^\s=;"']+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s;"']+))""", re.S)


def read_properties_file(path: str | Path) -> dict[str, str]:
    """A Java `.properties` file (as `-O/-C/-P` take it)."""
    props = Properties()
    try:
        with open(path, "rb") as fh:
            props.load(fh, "utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read properties file {path}: {exc.strerror or exc}") from exc
    return {k: v.data for k, v in props.items()}


def parse_property(text: str) -> tuple[str, str]:
    """`key=value` as given to `-o/-c/-p`."""
    key, sep, value = text.partition("=")
    # `name:value` / `name value` (other .properties forms) would make part of the value the name
    if not sep or not key.strip() or re.search(r"[\s:]", key.strip()):
        name = re.split(r"[\s:=]", text.strip(), maxsplit=1)[0]
        raise SettingsError(f"expected key=value for a client property, got '{name}'")
    return key.strip(), value.strip()


def _jaas_credentials(value: str) -> tuple[str, str]:
    m = _JAAS.match(value)
    if not m:
        raise SettingsError(
            "sasl.jaas.config: only PlainLoginModule and ScramLoginModule with username and password are supported"
        )
    options: dict[str, str] = {}
    text, pos = m.group(2), 0
    while text[pos:].strip():
        opt = _JAAS_OPTION.match(text, pos)
        if not opt:  # never show the text: it holds the password
            raise SettingsError(
                'sasl.jaas.config: malformed options (expected name="value" pairs, with balanced quotes)'
            )
        name, dquoted, squoted, bare = opt.groups()
        if dquoted is not None:
            options[name] = re.sub(r"\\(.)", r"\1", dquoted)
        else:
            options[name] = squoted if squoted is not None else bare
        pos = opt.end()
    if "username" not in options or "password" not in options:
        raise SettingsError("sasl.jaas.config: username and password are required")
    return options["username"], options["password"]


_POSITIVE = frozenset(
    {
        "max.poll.records",
        "batch.size",
        "fetch.max.bytes",
        "max.partition.fetch.bytes",
        "max.request.size",
        "request.timeout.ms",
        "transaction.timeout.ms",
    }
)


def _as_int(name: str, value: str) -> int:
    """An integer property: sizes, counts and times, never negative (some never 0 either)."""
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got '{value}'") from None
    if number < 0 or (number == 0 and name in _POSITIVE):
        least = "a positive integer" if name in _POSITIVE else "an integer >= 0"
        raise SettingsError(f"{name}: expected {least}, got '{value}'")
    return number


_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]/]+)(?::(\d{1,5}))?$")


def check_bootstrap(servers: str) -> str:
    """`host[:port],...` as Kafka takes it; anything else is a usage error naming the entry."""
    for entry in servers.split(","):
        entry = entry.strip()
        match = _HOST_PORT.match(entry)
        port = match.group(2) if match else None
        if not match or (port is not None and not 1 <= int(port) <= 65535):
            raise SettingsError(
                f"bootstrap servers: '{entry}' is not host:port (a host name or address, and a port 1-65535)"
            )
    return servers


class ResolvedConnection:
    """The outcome of mapping settings and properties: Kafka settings, registry URL and auth."""

    def __init__(
        self,
        kafka: KafkaSettings,
        registry_url: str | None,
        registry_user_info: SecretStr | None,
        registry_tls: RegistryTls | None = None,
    ) -> None:
        self.kafka = kafka
        self.registry_url = registry_url
        self.registry_user_info = registry_user_info
        self.registry_tls = registry_tls

    def __repr__(self) -> str:
        return (
            f"ResolvedConnection(bootstrap={self.kafka.bootstrap_servers!r}, "
            f"registry={mask_url(self.registry_url) if self.registry_url else None!r})"
        )


def resolve_connection(settings: Settings, *, warn: list[str] | None = None) -> ResolvedConnection:
    """Map the Java-named properties onto the clients. Shared properties apply to both clients;
    consumer/producer ones only to theirs."""
    warnings = warn if warn is not None else []

    def warning(text: str) -> None:
        if text not in warnings:  # a shared property is seen once per client
            warnings.append(text)

    shared = dict(settings.properties)
    consumer_only = dict(settings.consumer_properties)
    producer_only = dict(settings.producer_properties)
    # kafka-merge-purge users pass schema.registry.url with -c (as in the seed command line):
    # common properties given to one client are taken for both.
    for props in (consumer_only, producer_only):
        for name in list(props):
            if name in _COMMON or name in REGISTRY_TLS_PROPERTIES:
                shared.setdefault(name, props.pop(name))

    for name in shared:
        if not _known(name):
            raise SettingsError(_unknown(name))
    consumer_extra: dict[str, Any] = {}
    producer_extra: dict[str, Any] = {}
    for source, table, target, client in (
        ({**shared, **consumer_only}, _CONSUMER, consumer_extra, "consumer"),
        ({**shared, **producer_only}, _PRODUCER, producer_extra, "producer"),
    ):
        for name, value in source.items():
            if name in table:
                kw, conv = table[name]
                target[kw] = _as_int(name, value) if conv is int else value
            elif _IGNORED.match(name):
                warning(f"{name} is ignored: dlq-tui reads and writes raw bytes")
            elif name in _UNUSED:
                warning(f"{name} is ignored: {_UNUSED[name]}")
            elif name in _FIXED:
                if value.strip().lower() not in _FIXED[name]:
                    raise SettingsError(
                        f"{name}={value.strip()} is not supported: dlq-tui always uses {name}={_FIXED[name][0]}"
                    )
            elif _known(name):
                continue
            else:
                raise SettingsError(_unknown(name, client))
    for name in consumer_only:
        if name in _PRODUCER:
            raise SettingsError(f"{name} is a producer property; give it with -p/-P")
    for name in producer_only:
        if name in _CONSUMER:
            raise SettingsError(f"{name} is a consumer property; give it with -c/-C")

    bootstrap = settings.bootstrap_servers or shared.get("bootstrap.servers")
    if not bootstrap:
        raise SettingsError("no bootstrap servers: give -b/--bootstrap-servers (or bootstrap.servers)")
    check_bootstrap(bootstrap)
    protocol = shared.get("security.protocol", "PLAINTEXT").upper()
    if protocol not in _PROTOCOLS:
        raise SettingsError(
            f"security.protocol '{protocol}' is not supported ({', '.join(sorted(_PROTOCOLS))})"
        )
    mechanism = shared.get("sasl.mechanism")
    username = password = None
    if protocol.startswith("SASL"):
        mechanism = (mechanism or "GSSAPI").upper()
        if mechanism not in _MECHANISMS:
            raise SettingsError(
                f"sasl.mechanism '{mechanism}' is not supported ({', '.join(sorted(_MECHANISMS))})"
            )
        if "sasl.jaas.config" not in shared:
            raise SettingsError(
                f"security.protocol {protocol} needs sasl.jaas.config with username and password"
            )
        username, password = _jaas_credentials(shared["sasl.jaas.config"])
    elif mechanism or "sasl.jaas.config" in shared:
        raise SettingsError(
            f"sasl.mechanism / sasl.jaas.config need security.protocol SASL_*, not {protocol}"
        )
    endpoint = shared.get("ssl.endpoint.identification.algorithm", "https").strip().lower()
    if endpoint not in ("", "https", "none"):
        raise SettingsError(f"ssl.endpoint.identification.algorithm '{endpoint}': use 'https' or ''")
    for name in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location"):
        if name in shared and not Path(shared[name]).is_file():
            raise SettingsError(f"{name}: no such file {shared[name]}")
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap,
        security_protocol=protocol,
        sasl_mechanism=mechanism if protocol.startswith("SASL") else None,
        sasl_username=username,
        sasl_password=password,
        ssl_cafile=shared.get("ssl.ca.location"),
        ssl_certfile=shared.get("ssl.certificate.location"),
        ssl_keyfile=shared.get("ssl.key.location"),
        ssl_key_password=shared.get("ssl.key.password"),
        ssl_check_hostname=endpoint == "https",
        client_id=shared.get("client.id", "dlq-tui"),
        request_timeout_ms=_as_int("request.timeout.ms", shared.get("request.timeout.ms", "30000")),
        consumer=consumer_extra,
        producer=producer_extra,
    )

    registry_url = shared.get("schema.registry.url")
    user_info: SecretStr | None = None
    credentials = shared.get(
        "basic.auth.credentials.source", "USER_INFO" if "basic.auth.user.info" in shared else "URL"
    ).upper()
    if credentials == "USER_INFO":
        if "basic.auth.user.info" not in shared:
            raise SettingsError("basic.auth.credentials.source=USER_INFO needs basic.auth.user.info")
        user_info = SecretStr(shared["basic.auth.user.info"])
    elif credentials != "URL":
        raise SettingsError(
            f"basic.auth.credentials.source '{credentials}' is not supported (USER_INFO, URL)"
        )
    if registry_url and "," in registry_url:
        registry_url = registry_url.split(",")[0].strip()
    return ResolvedConnection(kafka, registry_url, user_info, _registry_tls(shared))


def _registry_tls(shared: dict[str, str]) -> RegistryTls | None:
    """The registry's ``schema.registry.ssl.*`` settings, checked (files readable, PEM)."""
    try:
        tls = registry_tls_from_properties(shared)
        if tls is not None:
            tls.ssl_context()
    except RegistryTlsError as exc:
        raise SettingsError(str(exc)) from None
    return tls


def _known(name: str) -> bool:
    return (
        name in _COMMON
        or name in REGISTRY_TLS_PROPERTIES
        or name in _CONSUMER
        or name in _PRODUCER
        or name in _UNUSED
        or name in _FIXED
        or bool(_IGNORED.match(name))
    )


def _unknown(name: str, client: str | None = None) -> str:
    where = f" for the {client}" if client else ""
    return f"unknown or unsupported client property '{name}'{where} (see docs/commands.md for the supported ones)"
