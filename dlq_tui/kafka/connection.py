"""How to reach the cluster: the aiokafka keyword arguments for one set of connection settings, and
the translation of client errors into one clear line for the engineer."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import errors as kafka_errors

log = logging.getLogger(__name__)


class DlqError(Exception):
    """A failure the engineer can act on; its message is one clear line without secrets."""


class FencedError(DlqError):
    """Another session took over the transactional id (another engineer committing on the same DLQ)."""


@dataclass(frozen=True)
class KafkaSettings:
    """Connection settings, already mapped from Java client property names by `dlq_tui.settings`."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
    ssl_check_hostname: bool = True
    client_id: str = "dlq-tui"
    request_timeout_ms: int = 30_000
    consumer: dict[str, Any] = field(default_factory=dict)
    producer: dict[str, Any] = field(default_factory=dict)

    def _ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.security_protocol:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        # As in Java, an empty ssl.endpoint.identification.algorithm turns off hostname matching
        # only: the broker's certificate is still verified.
        context.check_hostname = self.ssl_check_hostname
        context.verify_mode = ssl.CERT_REQUIRED
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, self.ssl_key_password)
        return context

    def common(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client takes."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "client_id": self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
        }
        context = self._ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.sasl_mechanism:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs

    def admin_kwargs(self) -> dict[str, Any]:
        return self.common()

    def consumer_kwargs(self) -> dict[str, Any]:
        kwargs = self.common()
        kwargs.update(
            {
                "group_id": None,  # partitions are assigned, never joined; offsets go through the committer
                "enable_auto_commit": False,
                "isolation_level": "read_committed",
                "auto_offset_reset": "earliest",
                "max_partition_fetch_bytes": 8 * 1024 * 1024,
                "fetch_max_bytes": 64 * 1024 * 1024,
            }
        )
        kwargs.update(self.consumer)
        kwargs["isolation_level"] = "read_committed"  # the resolution model depends on it
        return kwargs

    def producer_kwargs(self, transactional_id: str | None = None) -> dict[str, Any]:
        kwargs = self.common()
        kwargs.update(
            {"acks": "all", "enable_idempotence": True, "linger_ms": 5, "max_batch_size": 1024 * 1024}
        )
        kwargs.update(self.producer)
        if transactional_id is not None:
            kwargs["transactional_id"] = transactional_id
        return kwargs


class _ConnectFailures(logging.Handler):
    """aiokafka says why a bootstrap failed (refused, SASL authentication failed, TLS) only in its
    log, then raises a bare "Unable to bootstrap". This keeps the last such reason for the message."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: tuple[float, str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Unable connect to"):
            self.last = (time.monotonic(), message.split(": ", 1)[-1])

    def recent(self, within: float = 60.0) -> str | None:
        if self.last is None or time.monotonic() - self.last[0] > within:
            return None
        return self.last[1]


_connect_failures = _ConnectFailures()
logging.getLogger("aiokafka").addHandler(_connect_failures)


def describe_error(exc: BaseException, *, topic: str | None = None, group: str | None = None) -> str:
    """One line for the engineer, naming what failed and what to check."""
    bootstrap_hint = "check -b/--bootstrap-servers and that the broker is reachable"
    if isinstance(exc, DlqError):
        return str(exc)
    if isinstance(exc, kafka_errors.KafkaConnectionError):
        reason = _connect_failures.recent()
        if reason and "SaslAuthenticationFailed" in reason:
            return f"Kafka refused the credentials: {reason} (check sasl.jaas.config and sasl.mechanism)"
        if reason and "UnsupportedSaslMechanism" in reason:
            return (
                "Kafka does not accept this SASL mechanism on that listener (check sasl.mechanism: "
                "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, as the cluster is set up)"
            )
        detail = reason or _first_line(exc)
        tls_hint = _tls_hint(detail)
        if tls_hint:
            return f"the broker's TLS certificate was not accepted: {detail} ({tls_hint})"
        return f"cannot reach the Kafka cluster: {detail} ({bootstrap_hint})"
    if isinstance(exc, kafka_errors.UnknownTopicOrPartitionError):
        return f"topic '{topic}' does not exist" if topic else "unknown topic or partition"
    if isinstance(exc, kafka_errors.TopicAuthorizationFailedError):
        return (
            f"not authorized to access topic '{topic}' (missing ACL)"
            if topic
            else "topic authorization failed"
        )
    if isinstance(exc, kafka_errors.GroupAuthorizationFailedError):
        return (
            f"not authorized for consumer group '{group}' (missing ACL)"
            if group
            else "group authorization failed"
        )
    if isinstance(exc, kafka_errors.TransactionalIdAuthorizationFailed):
        return "not authorized to use the transactional id (missing ACL for TransactionalId)"
    if isinstance(exc, kafka_errors.ClusterAuthorizationFailedError):
        return "not authorized on the cluster (missing ACL: IdempotentWrite or ClusterAction)"
    if isinstance(exc, (kafka_errors.ProducerFenced, kafka_errors.InvalidProducerEpoch)):
        return "fenced: another dlq-tui session committed on this DLQ with the same transactional id"
    if isinstance(exc, kafka_errors.KafkaTimeoutError):
        return f"Kafka did not answer in time: {_first_line(exc)}"
    if isinstance(exc, kafka_errors.UnknownError):
        # aiokafka maps codes it does not know (e.g. 87 INVALID_RECORD) to UnknownError.
        return (
            "the broker refused a record (e.g. a record without key on a compacted topic, or over "
            "max.message.bytes); see the broker log for the reason"
        )
    if isinstance(exc, kafka_errors.KafkaError):
        return f"Kafka error: {type(exc).__name__}: {_first_line(exc)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _tls_hint(detail: str) -> str | None:
    """What to fix when TLS verification of the broker failed (None if that is not the failure)."""
    if "CERTIFICATE_VERIFY_FAILED" not in detail:
        return None
    if "mismatch" in detail or "not valid for" in detail:
        return (
            "connect with a host name that the certificate names (-b), or, only if you must, turn "
            "hostname matching off with ssl.endpoint.identification.algorithm="
        )
    if "expired" in detail:
        return "the certificate has expired: renew it on the broker, or check this machine's clock"
    return "check ssl.ca.location: it must name the CA that signed the broker's certificate"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def quiet_unretrieved_kafka_errors(loop: asyncio.AbstractEventLoop) -> None:
    """aiokafka leaves internal futures holding an error it already raised to us (e.g. after a
    transaction was fenced); when they are garbage-collected asyncio prints "Future exception was
    never retrieved" with a traceback over the terminal (and, on CPython 3.11, formatting that
    traceback from a finalizer can even break a concurrent `ast.parse`). Such Kafka errors have been
    reported through the call that failed, so they are logged at debug level only."""
    previous = loop.get_exception_handler()
    if getattr(previous, "_dlq_tui_quiet", False):
        return

    def handler(the_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, kafka_errors.KafkaError) and "never retrieved" in str(context.get("message", "")):
            log.debug("unretrieved Kafka error (already reported): %s", type(exc).__name__)
            return
        if previous is not None:
            previous(the_loop, context)
        else:
            the_loop.default_exception_handler(context)

    handler._dlq_tui_quiet = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
