"""Settings: Java client property mapping, secrets, and the sources (properties files, `DLQ_TUI_*`
environment, TOML profiles) with their precedence. No broker needed."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.settings import (
    ResolvedConnection,
    Settings,
    SettingsError,
    config_dir,
    default_config_file,
    parse_property,
    read_properties_file,
    resolve_connection,
)

PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
SECRET = "s3cr=t;pa ss"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No DLQ_TUI_* setting and no config file of the machine running the tests leaks in."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"DLQ_TUI_{name.upper()}", raising=False)
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    yield xdg


def resolve(props: dict[str, str] | None = None, **kw: Any) -> ResolvedConnection:
    kw.setdefault("bootstrap_servers", "broker:9092")
    return resolve_connection(Settings(properties=props or {}, **kw))


def jaas(module: str, username: str = "alice", password: str = SECRET) -> str:
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    return f'{module} required username="{username}" password="{escaped}";'


def sasl(mechanism: str = "PLAIN", protocol: str = "SASL_PLAINTEXT", **extra: str) -> dict[str, str]:
    module = PLAIN if mechanism == "PLAIN" else SCRAM
    return {
        "security.protocol": protocol,
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": jaas(module),
        **extra,
    }


# -- Java property mapping ----------------------------------------------------------------------


def test_defaults() -> None:
    conn = resolve()
    k = conn.kafka
    assert k.bootstrap_servers == "broker:9092"
    assert k.security_protocol == "PLAINTEXT"
    assert k.sasl_mechanism is None
    assert k.client_id == "dlq-tui"
    assert conn.registry_url is None
    assert conn.registry_user_info is None
    assert "ssl_context" not in k.common()


def test_bootstrap_servers_property() -> None:
    conn = resolve_connection(Settings(properties={"bootstrap.servers": "a:1,b:2"}))
    assert conn.kafka.bootstrap_servers == "a:1,b:2"


def test_bootstrap_option_beats_property() -> None:
    conn = resolve({"bootstrap.servers": "a:1"}, bootstrap_servers="cli:9")
    assert conn.kafka.bootstrap_servers == "cli:9"


def test_no_bootstrap_is_an_error() -> None:
    with pytest.raises(SettingsError, match="bootstrap"):
        resolve_connection(Settings())


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", "sasl_ssl"])
def test_security_protocols(protocol: str) -> None:
    props = (
        sasl(protocol=protocol) if protocol.upper().startswith("SASL") else {"security.protocol": protocol}
    )
    conn = resolve(props)
    assert conn.kafka.security_protocol == protocol.upper()
    kwargs = conn.kafka.common()
    assert kwargs["security_protocol"] == protocol.upper()
    assert ("ssl_context" in kwargs) == ("SSL" in protocol.upper())


def test_bad_security_protocol() -> None:
    with pytest.raises(SettingsError, match=r"security\.protocol 'TLS' is not supported"):
        resolve({"security.protocol": "TLS"})


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_mechanisms(mechanism: str) -> None:
    conn = resolve(sasl(mechanism))
    kwargs = conn.kafka.common()
    assert kwargs["sasl_mechanism"] == mechanism
    assert kwargs["sasl_plain_username"] == "alice"
    assert kwargs["sasl_plain_password"] == SECRET


@pytest.mark.parametrize("mechanism", ["GSSAPI", "OAUTHBEARER"])
def test_unsupported_sasl_mechanism(mechanism: str) -> None:
    props = sasl()
    props["sasl.mechanism"] = mechanism
    with pytest.raises(SettingsError, match=rf"sasl\.mechanism '{mechanism}' is not supported"):
        resolve(props)


def test_sasl_mechanism_defaults_to_gssapi_as_in_java_and_says_so() -> None:
    props = sasl()
    del props["sasl.mechanism"]
    with pytest.raises(SettingsError, match="GSSAPI"):
        resolve(props)


def test_sasl_needs_jaas_config() -> None:
    with pytest.raises(SettingsError, match=r"sasl\.jaas\.config"):
        resolve({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"})


def test_sasl_settings_without_sasl_protocol() -> None:
    with pytest.raises(SettingsError, match="SASL_"):
        resolve({"sasl.mechanism": "PLAIN", "sasl.jaas.config": jaas(PLAIN)})


@pytest.mark.parametrize(
    ("line", "username", "password"),
    [
        (f'{PLAIN} required username="alice" password="pw";', "alice", "pw"),
        (f"{SCRAM} required username='bob' password='pw';", "bob", "pw"),
        (f"{PLAIN} required username=alice password=pw;", "alice", "pw"),
        (f'{PLAIN} required username="alice" password="pw"', "alice", "pw"),  # no final ';'
        (f'  {PLAIN}   required\n  username = "alice"\n  password = "pw" ;  ', "alice", "pw"),
        (f'{SCRAM} required username="a l" password="with spaces";', "a l", "with spaces"),
        (f'{PLAIN} required username="alice" password="a=b=c";', "alice", "a=b=c"),
        (f'{PLAIN} required username="alice" password="semi;colon;";', "alice", "semi;colon;"),
        (f'{PLAIN} required username="alice" password="q\\"uote\\\\";', "alice", 'q"uote\\'),
        (f'{PLAIN} required username="" password="pw";', "", "pw"),
        (f'{SCRAM} required tokenauth="false" password="pw" username="alice";', "alice", "pw"),
    ],
)
def test_jaas_lines(line: str, username: str, password: str) -> None:
    conn = resolve({**sasl(), "sasl.jaas.config": line})
    assert conn.kafka.sasl_username == username
    assert conn.kafka.sasl_password == password


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f'{PLAIN} required username="alice" password="{SECRET}', "malformed"),  # unbalanced quote
        (f'{PLAIN} required username="alice" "{SECRET}";', "malformed"),
        (f'{PLAIN} required username="alice" pass word="{SECRET}";', "malformed"),
        (f'{PLAIN} required username="alice";', "username and password are required"),
        (f'{PLAIN} required password="{SECRET}";', "username and password are required"),
        (
            f'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required password="{SECRET}";',
            "only PlainLoginModule and ScramLoginModule",
        ),
        (f'com.sun.security.auth.module.Krb5LoginModule required password="{SECRET}";', "only Plain"),
    ],
)
def test_malformed_jaas_never_shows_the_password(line: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        resolve({**sasl(), "sasl.jaas.config": line})
    for text in (str(info.value), repr(info.value)):
        assert SECRET not in text
        assert "s3cr" not in text


def test_ssl_files_must_exist(tmp_path: Path) -> None:
    for name in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location"):
        with pytest.raises(SettingsError, match=rf"{name}: no such file"):
            resolve({"security.protocol": "SSL", name: str(tmp_path / "missing.pem")})


def test_ssl_file_mapping(tmp_path: Path) -> None:
    files = {}
    for name in ("ca", "cert", "key"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text("not parsed here\n")
    conn = resolve(
        {
            "ssl.ca.location": str(files["ca"]),
            "ssl.certificate.location": str(files["cert"]),
            "ssl.key.location": str(files["key"]),
            "ssl.key.password": "keypw",
        }
    )
    k = conn.kafka
    assert (k.ssl_cafile, k.ssl_certfile, k.ssl_keyfile) == (
        str(files["ca"]),
        str(files["cert"]),
        str(files["key"]),
    )
    assert k.ssl_key_password == "keypw"
    assert k.ssl_check_hostname is True


@pytest.mark.parametrize(("value", "check"), [("", False), ("https", True), ("HTTPS", True)])
def test_endpoint_identification(value: str, check: bool) -> None:
    conn = resolve({"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": value})
    assert conn.kafka.ssl_check_hostname is check
    context = conn.kafka.common()["ssl_context"]
    assert context.check_hostname is check


def test_bad_endpoint_identification() -> None:
    with pytest.raises(SettingsError, match=r"ssl\.endpoint\.identification\.algorithm"):
        resolve({"ssl.endpoint.identification.algorithm": "ldap"})


@pytest.fixture(scope="module")
def pem_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate and its key, plain and encrypted (needs the openssl binary)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("pem")
    req = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=localhost"]
    subprocess.run(
        [*req, "-nodes", "-keyout", d / "key.pem", "-out", d / "cert.pem"], check=True, capture_output=True
    )
    subprocess.run(
        [*req, "-passout", "pass:keypw", "-keyout", d / "enc-key.pem", "-out", d / "enc-cert.pem"],
        check=True,
        capture_output=True,
    )
    return {p.stem: p for p in d.iterdir()}


def test_ssl_context_from_real_pem_files(pem_files: dict[str, Path]) -> None:
    conn = resolve(
        {
            "security.protocol": "SSL",
            "ssl.ca.location": str(pem_files["cert"]),
            "ssl.certificate.location": str(pem_files["cert"]),
            "ssl.key.location": str(pem_files["key"]),
        }
    )
    context = conn.kafka.common()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert any(c.get("subject") == ((("commonName", "localhost"),),) for c in context.get_ca_certs())


def test_ssl_context_with_encrypted_key(pem_files: dict[str, Path]) -> None:
    props = {
        "security.protocol": "SASL_SSL",
        **sasl(protocol="SASL_SSL"),
        "ssl.ca.location": str(pem_files["enc-cert"]),
        "ssl.certificate.location": str(pem_files["enc-cert"]),
        "ssl.key.location": str(pem_files["enc-key"]),
        "ssl.key.password": "keypw",
        "ssl.endpoint.identification.algorithm": "",
    }
    kwargs = resolve(props).kafka.common()
    assert kwargs["ssl_context"].check_hostname is False
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED  # a CA given: still verified
    props["ssl.key.password"] = "wrong"
    with pytest.raises(ssl.SSLError):
        resolve(props).kafka.common()


def test_no_hostname_check_still_verifies_the_certificate() -> None:
    """As in Java: an empty ssl.endpoint.identification.algorithm skips hostname matching only."""
    context = resolve(
        {"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": ""}
    ).kafka.common()["ssl_context"]
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_client_id() -> None:
    kafka = resolve({"client.id": "triage-bob"}).kafka
    assert kafka.consumer_kwargs()["client_id"] == "triage-bob"
    assert kafka.producer_kwargs()["client_id"] == "triage-bob"


def test_request_timeout() -> None:
    assert resolve({"request.timeout.ms": "5000"}).kafka.common()["request_timeout_ms"] == 5000
    with pytest.raises(SettingsError, match=r"request\.timeout\.ms: expected an integer"):
        resolve({"request.timeout.ms": "soon"})


def test_schema_registry_url() -> None:
    assert resolve({"schema.registry.url": "http://reg:8081"}).registry_url == "http://reg:8081"
    # a list of URLs (Confluent clients accept one): the first is used
    assert resolve({"schema.registry.url": "http://a:1, http://b:2"}).registry_url == "http://a:1"


def test_schema_registry_url_given_to_the_consumer_as_in_the_seed_command_line() -> None:
    conn = resolve_connection(
        Settings(
            bootstrap_servers="localhost:9092",
            consumer_properties={"schema.registry.url": "http://localhost:8081"},
        )
    )
    assert conn.registry_url == "http://localhost:8081"
    assert "schema.registry.url" not in str(conn.kafka.consumer_kwargs())


def test_basic_auth_user_info() -> None:
    conn = resolve({"schema.registry.url": "http://reg", "basic.auth.user.info": "u:" + SECRET})
    assert conn.registry_user_info is not None
    assert conn.registry_user_info.get_secret_value() == "u:" + SECRET
    conn = resolve(
        {
            "schema.registry.url": "http://reg",
            "basic.auth.credentials.source": "user_info",
            "basic.auth.user.info": "u:p",
        }
    )
    assert conn.registry_user_info is not None


def test_basic_auth_credentials_source() -> None:
    with pytest.raises(SettingsError, match=r"needs basic\.auth\.user\.info"):
        resolve({"basic.auth.credentials.source": "USER_INFO"})
    conn = resolve({"schema.registry.url": "http://u:p@reg", "basic.auth.credentials.source": "URL"})
    assert conn.registry_user_info is None
    assert conn.registry_url == "http://u:p@reg"
    with pytest.raises(SettingsError, match="'SASL_INHERIT' is not supported"):
        resolve({"basic.auth.credentials.source": "SASL_INHERIT"})


def test_consumer_and_producer_properties_land_in_their_client_only() -> None:
    conn = resolve_connection(
        Settings(
            bootstrap_servers="b:1",
            properties={"fetch.max.bytes": "1000", "linger.ms": "7"},  # shared: each goes where it applies
            consumer_properties={"max.poll.records": "10"},
            producer_properties={"compression.type": "lz4", "transaction.timeout.ms": "60000"},
        )
    )
    consumer = conn.kafka.consumer_kwargs()
    producer = conn.kafka.producer_kwargs("tx")
    assert consumer["fetch_max_bytes"] == 1000
    assert consumer["max_poll_records"] == 10
    assert producer["linger_ms"] == 7
    assert producer["compression_type"] == "lz4"
    assert producer["transaction_timeout_ms"] == 60000
    assert producer["transactional_id"] == "tx"
    for key in ("linger_ms", "compression_type", "transaction_timeout_ms"):
        assert key not in consumer
    for key in ("fetch_max_bytes", "max_poll_records"):
        assert key not in producer
    assert consumer["isolation_level"] == "read_committed"


def test_client_property_given_to_the_wrong_client() -> None:
    with pytest.raises(SettingsError, match=r"linger\.ms is a producer property"):
        resolve_connection(Settings(bootstrap_servers="b", consumer_properties={"linger.ms": "1"}))
    with pytest.raises(SettingsError, match=r"max\.poll\.records is a consumer property"):
        resolve_connection(Settings(bootstrap_servers="b", producer_properties={"max.poll.records": "1"}))


@pytest.mark.parametrize("where", ["properties", "consumer_properties", "producer_properties"])
def test_unknown_property_is_named(where: str) -> None:
    with pytest.raises(SettingsError, match=r"'sasl\.kerberos\.service\.name'"):
        resolve_connection(
            Settings(bootstrap_servers="b", **{where: {"sasl.kerberos.service.name": "kafka"}})
        )


def test_unknown_property_next_to_a_secret_does_not_show_the_secret() -> None:
    with pytest.raises(SettingsError) as info:
        resolve({**sasl(), "typo.property": "x"})
    assert "typo.property" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "name",
    ["key.deserializer", "value.deserializer", "key.serializer", "value.serializer", "specific.avro.reader"],
)
def test_serializer_properties_are_accepted_with_a_warning(name: str) -> None:
    warnings: list[str] = []
    conn = resolve_connection(
        Settings(bootstrap_servers="b", properties={name: "io.confluent.SomeSerde"}), warn=warnings
    )
    assert any(name in w and "ignored" in w for w in warnings)
    assert name.replace(".", "_") not in conn.kafka.consumer_kwargs()


# -- secrets ------------------------------------------------------------------------------------


def secret_settings() -> Settings:
    return Settings(
        bootstrap_servers="b:1",
        group="g",
        properties={**sasl(), "basic.auth.user.info": "user:" + SECRET, "ssl.key.password": SECRET},
        consumer_properties={"schema.registry.url": "http://user:" + "regpw" + "@reg:8081"},
    )


def test_settings_repr_hides_secrets() -> None:
    s = secret_settings()
    for text in (repr(s), str(s)):
        assert SECRET not in text
        assert "regpw" not in text
        assert "sasl.jaas.config" in text  # the name is shown, not the value
        assert "reg:8081" in text


def test_kafka_settings_and_resolved_connection_repr_hide_secrets() -> None:
    conn = resolve_connection(secret_settings())
    assert conn.kafka.sasl_password == SECRET
    for text in (repr(conn), repr(conn.kafka), str(conn.kafka)):
        assert SECRET not in text
        assert "regpw" not in text
    assert "b:1" in repr(conn)
    manual = KafkaSettings(bootstrap_servers="x", sasl_password=SECRET, ssl_key_password=SECRET)
    assert SECRET not in repr(manual)


def test_parse_property() -> None:
    assert parse_property("a.b=c=d") == ("a.b", "c=d")
    assert parse_property(" client.id = me ") == ("client.id", "me")
    assert parse_property("empty=") == ("empty", "")
    with pytest.raises(SettingsError, match="expected key=value"):
        parse_property("novalue")
    with pytest.raises(SettingsError, match="expected key=value") as info:
        parse_property("=x")
    with pytest.raises(SettingsError) as info:
        parse_property("basic.auth.user.info:user:" + SECRET)  # the .properties ':' form
    assert SECRET not in str(info.value)
    assert "basic.auth.user.info" in str(info.value)


# -- sources ------------------------------------------------------------------------------------


def test_properties_file(tmp_path: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text(
        "# an engineer's client.properties\n"
        "! bang comments too\n"
        "bootstrap.servers=kafka-1:9092,\\\n"
        "    kafka-2:9092\n"
        "security.protocol : SASL_SSL\n"
        "sasl.mechanism SCRAM-SHA-512\n"
        f"sasl.jaas.config={SCRAM} required \\\n"
        '    username="svc" \\\n'
        '    password="p=w;d";\n'
        "\n"
        "client.id=with\\ space\n"
    )
    props = read_properties_file(path)
    assert props["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert props["security.protocol"] == "SASL_SSL"
    assert props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["client.id"] == "with space"
    conn = resolve_connection(Settings(properties=props))
    assert conn.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert (conn.kafka.sasl_username, conn.kafka.sasl_password) == ("svc", "p=w;d")
    assert conn.kafka.sasl_mechanism == "SCRAM-SHA-512"


def test_missing_properties_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read properties file"):
        read_properties_file(tmp_path / "nope.properties")


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLQ_TUI_BOOTSTRAP_SERVERS", "env:9092")
    monkeypatch.setenv("DLQ_TUI_GROUP", "env-group")
    monkeypatch.setenv("DLQ_TUI_PROPERTIES", '{"client.id": "from-env", "security.protocol": "SSL"}')
    monkeypatch.setenv("DLQ_TUI_TOMBSTONES", "never")
    monkeypatch.setenv("DLQ_TUI_FROM_BEGINNING", "true")
    s = Settings()
    assert s.bootstrap_servers == "env:9092"
    assert s.group == "env-group"
    assert s.tombstones == "never"
    assert s.from_beginning is True
    conn = resolve_connection(s)
    assert conn.kafka.client_id == "from-env"
    assert conn.kafka.security_protocol == "SSL"


def test_bad_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLQ_TUI_TOMBSTONES", "sometimes")
    with pytest.raises(ValueError, match="tombstones"):
        Settings()


def write_config(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        'default_profile = "dev"\n'
        "\n"
        "[profiles.dev]\n"
        'bootstrap_servers = "dev-kafka:9092"\n'
        'group = "dev-group"\n'
        'properties = { "client.id" = "dev", "schema.registry.url" = "http://dev-registry:8081" }\n'
        "\n"
        "[profiles.prod]\n"
        'bootstrap_servers = "prod-kafka:9093"\n'
        'tombstones = "always"\n'
        "[profiles.prod.properties]\n"
        '"security.protocol" = "SASL_SSL"\n'
        '"sasl.mechanism" = "SCRAM-SHA-256"\n'
        f'"sasl.jaas.config" = \'{SCRAM} required username="svc" password="{SECRET}";\'\n'
        "\n"
        "[keys]\n"
        'merge = "M"\n'
    )
    return path


def test_profile_file_in_xdg_config_home(clean_env: Path) -> None:
    assert default_config_file() == clean_env / "dlq-tui" / "config.toml"
    assert config_dir() == clean_env / "dlq-tui"
    write_config(default_config_file())
    s = Settings()  # default_profile
    assert s.bootstrap_servers == "dev-kafka:9092"
    assert s.group == "dev-group"
    assert s.keys == {"merge": "M"}
    assert resolve_connection(s).registry_url == "http://dev-registry:8081"
    prod = Settings(profile="prod")
    assert prod.bootstrap_servers == "prod-kafka:9093"
    assert prod.tombstones == "always"
    conn = resolve_connection(prod)
    assert conn.kafka.sasl_password == SECRET
    assert conn.kafka.sasl_mechanism == "SCRAM-SHA-256"
    assert SECRET not in repr(prod)


def test_profile_from_environment(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(default_config_file())
    monkeypatch.setenv("DLQ_TUI_PROFILE", "prod")
    assert Settings().bootstrap_servers == "prod-kafka:9093"


def test_config_option_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path / "elsewhere.toml")
    assert Settings().bootstrap_servers is None  # nothing in XDG_CONFIG_HOME
    assert Settings(config=path).bootstrap_servers == "dev-kafka:9092"
    monkeypatch.setenv("DLQ_TUI_CONFIG", str(path))
    assert Settings(profile="prod").bootstrap_servers == "prod-kafka:9093"


def test_unknown_profile_lists_the_known_ones(clean_env: Path) -> None:
    write_config(default_config_file())
    with pytest.raises(SettingsError, match=r"no profile 'staging' in .* \(profiles: dev, prod\)"):
        Settings(profile="staging")


def test_profile_without_config_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        Settings(profile="dev")
    with pytest.raises(SettingsError, match="does not exist"):
        Settings(config=tmp_path / "missing.toml", profile="dev")


def test_broken_config_file(clean_env: Path) -> None:
    default_config_file().parent.mkdir(parents=True)
    default_config_file().write_text("[profiles.dev\n")
    with pytest.raises(SettingsError, match="cannot read config file"):
        Settings()


def test_unknown_key_in_profile(clean_env: Path) -> None:
    default_config_file().parent.mkdir(parents=True)
    default_config_file().write_text('default_profile = "x"\n[profiles.x]\nbootstrap = "typo:1"\n')
    with pytest.raises(ValueError, match="bootstrap"):
        Settings()


def test_precedence_cli_over_env_over_profile_over_defaults(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(default_config_file())
    # profile only
    s = Settings()
    assert (s.bootstrap_servers, s.group, s.tombstones) == ("dev-kafka:9092", "dev-group", "auto")
    # env over profile
    monkeypatch.setenv("DLQ_TUI_GROUP", "env-group")
    monkeypatch.setenv("DLQ_TUI_PROPERTIES", '{"client.id": "env"}')
    s = Settings()
    assert s.group == "env-group"
    assert s.bootstrap_servers == "dev-kafka:9092"
    assert s.properties["client.id"] == "env"
    # property tables merge key by key: the profile's registry URL survives
    assert s.properties["schema.registry.url"] == "http://dev-registry:8081"
    # command line (init kwargs) over env
    s = Settings(group="cli-group", properties={"client.id": "cli"})
    assert s.group == "cli-group"
    assert s.properties == {"client.id": "cli", "schema.registry.url": "http://dev-registry:8081"}
    assert s.tombstones == "auto"  # default


def test_confluent_cloud_client_properties_work(tmp_path: Path) -> None:
    """The client.properties Confluent Cloud hands out, unchanged."""
    path = tmp_path / "client.properties"
    path.write_text(
        "# Required connection configs for Kafka producer, consumer, and admin\n"
        "bootstrap.servers=pkc-abc12.eu-west-1.aws.confluent.cloud:9092\n"
        "security.protocol=SASL_SSL\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f"username='APIKEY' password='{SECRET}';\n"
        "sasl.mechanism=PLAIN\n"
        "# Required for correctness in Apache Kafka clients prior to 2.6\n"
        "client.dns.lookup=use_all_dns_ips\n"
        "# Best practice for higher availability in Apache Kafka clients prior to 3.0\n"
        "session.timeout.ms=45000\n"
        "# Best practice for Kafka producer to prevent data loss\n"
        "acks=all\n"
        "# Required connection configs for Confluent Cloud Schema Registry\n"
        "schema.registry.url=https://psrc-xyz.eu-central-1.aws.confluent.cloud\n"
        "basic.auth.credentials.source=USER_INFO\n"
        "basic.auth.user.info=SRKEY:SRSECRET\n"
    )
    warnings: list[str] = []
    conn = resolve_connection(Settings(properties=read_properties_file(path)), warn=warnings)
    assert (conn.kafka.sasl_username, conn.kafka.sasl_password) == ("APIKEY", SECRET)
    assert conn.registry_url == "https://psrc-xyz.eu-central-1.aws.confluent.cloud"
    assert conn.registry_user_info is not None
    assert conn.registry_user_info.get_secret_value() == "SRKEY:SRSECRET"
    assert sorted(w.split()[0] for w in warnings) == ["client.dns.lookup", "session.timeout.ms"]
    assert conn.kafka.producer_kwargs()["acks"] == "all"


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("acks", "-1", "1"),
        ("enable.idempotence", "TRUE", "false"),
        ("isolation.level", "read_committed", "read_uncommitted"),
    ],
)
def test_settings_dlq_tui_always_uses(name: str, good: str, bad: str) -> None:
    resolve({name: good})
    with pytest.raises(SettingsError, match=rf"{re.escape(name)}={bad} is not supported"):
        resolve({name: bad})


def test_each_warning_once() -> None:
    warnings: list[str] = []
    resolve_connection(
        Settings(
            bootstrap_servers="b",
            properties={"key.deserializer": "x", "group.id": "g"},
            consumer_properties={"key.deserializer": "y"},
        ),
        warn=warnings,
    )
    assert len(warnings) == 2
    assert any("group.id is ignored" in w and "-g/--group" in w for w in warnings)
