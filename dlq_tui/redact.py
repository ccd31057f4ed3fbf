"""Credentials never reach a log (issue 13.3): every log record, at any level and from any logger
(aiokafka's debug log of a SaslAuthenticateRequest carries `user\\x00user\\x00password`), is
scrubbed when it is made — the secrets this process was given, plus anything shaped like a
password, a JAAS config, basic-auth user info, URL credentials or a SASL PLAIN payload."""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 3
"""Shorter values are not masked wherever they occur (a one-letter password would mangle every
line); the patterns below still catch them where they look like credentials."""

_secrets: set[str] = set()
_lock = threading.Lock()

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # JAAS options and properties: password="x", password=x, key.password=x, sasl.password: x
    (re.compile(r"""(?i)(password['"]?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s;,'"})]+)"""), r"\1" + MASK),
    # the whole JAAS config / basic-auth user info, in properties and in repr()s of dicts
    (re.compile(r"""(?i)(sasl\.jaas\.config['"]?\s*[=:]\s*)("[^"]*"|'[^']*'|.+)"""), r"\1" + MASK),
    (re.compile(r"""(?i)(user\.info['"]?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,'"})]+)"""), r"\1" + MASK),
    (re.compile(r"""(?i)(user_info['"]?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,'"})]+)"""), r"\1" + MASK),
    # http(s)://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@"), r"\1" + MASK + "@"),
    # Authorization: Basic/Bearer ...
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._-]{6,}"), r"\1 " + MASK),
    # SASL PLAIN payload authzid\0user\0password, raw or as bytes repr
    (re.compile(r"(\\x00|\x00)([^\\\x00'\"]*)(\\x00|\x00)[^'\"\s\\\x00]+"), r"\1\2\3" + MASK),
    # SCRAM client-final message proof
    (re.compile(r"(,p=)[A-Za-z0-9+/=]+"), r"\1" + MASK),
]


def register_secret(*values: str | None) -> None:
    """Values (passwords, JAAS configs, user info) masked wherever they occur in a log record."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                _secrets.add(value)


def scrub(text: str) -> str:
    """`text` with every known secret and every credential-shaped part masked."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Scrub a record in place: message and arguments become one scrubbed message; a traceback
    is formatted now and scrubbed too (exception messages may quote a config)."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what there is, scrubbed
        message = f"{record.msg} {record.args}"
    record.msg = scrub(message)
    record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


class ScrubFilter(logging.Filter):
    """For a handler: scrubs what it is about to write (also records made before `install`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_installed = False


def install() -> None:
    """Scrub every log record of this process when it is made, whatever the logger and level."""
    global _installed
    if _installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True


def add_handler_filters(handlers: Iterable[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
