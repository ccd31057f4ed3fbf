"""Failure fingerprints: which records failed the same way (pure functions; see docs/groups.md).

A record's fingerprint is

* the root-cause exception class where the DLQ headers give one, else the exception class,
* the exception message with its variable parts replaced (`normalize_message`),
* the origin topic;

records without error headers are grouped by their origin topic alone, and records with neither error
nor origin headers form one "no error headers" group. The group id is a short hash of the fingerprint,
the same on every run and machine (it goes into filters and scripts as ``group:ID``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["MESSAGE_LIMIT", "NO_ERROR_HEADERS", "Fingerprint", "fingerprint", "group_id", "normalize_message"]

MESSAGE_LIMIT = 300
"""Normalised messages are cut to this many characters (a stack trace pasted into a message must
not make every record its own group)."""

NO_ERROR_HEADERS = "no error headers"

# Quoted values first (they may hold spaces); then only the tokens that may hold a variable part
# (a digit, '@' or ':') go through the alternatives, most specific first: a whole-text search
# with every alternative tried at every position is four times slower.
_QUOTED = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`\n]*`""")
_CANDIDATE = re.compile(r"[^\s()\[\]{},;]*[\d@:][^\s()\[\]{},;]*")
_VARIABLE = re.compile(
    r"""
    (?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)
    | (?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
    | (?P<hostport>\b(?:[\w-]+(?:\.[\w-]+)*|\[[0-9a-fA-F:]+\]):\d{1,5}\b)
    | (?P<hex>\b(?:0[xX][0-9a-fA-F]+|[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*|[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*)\b)
    | (?P<num>[\w.\-+]*\d[\w.\-+]*)
    """,
    re.VERBOSE,
)
_PLACEHOLDER = {
    "uuid": "<uuid>",
    "email": "<email>",
    "hostport": "<host:port>",
    "hex": "<hex>",
    "num": "<n>",
}
_SPACE = re.compile(r"\s+")


def _replace(m: re.Match[str]) -> str:
    return _PLACEHOLDER[m.lastgroup or "num"]


def _token(m: re.Match[str]) -> str:
    return _VARIABLE.sub(_replace, m.group())


def normalize_message(message: str) -> str:
    """The message with its variable parts replaced: UUIDs, e-mail addresses, host:port, quoted
    values, hex strings (``0x1f``, ``deadbeef42``) and every other token that contains a digit;
    runs of white space become one space; cut to `MESSAGE_LIMIT` characters."""
    text = _SPACE.sub(" ", message).strip()
    if '"' in text or "'" in text or "`" in text:
        text = _QUOTED.sub("<str>", text)
    text = _CANDIDATE.sub(_token, text)
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1] + "…"
    return text


Kind = Literal["error", "origin", "none"]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """How a record failed. `kind` says what it rests on: error headers, the origin topic alone,
    or nothing (the "no error headers" group)."""

    kind: Kind
    exception: str  # root cause class, else exception class ('' if none)
    message: str  # normalised
    origin_topic: str

    @property
    def id(self) -> str:
        return group_id(self)

    def label(self) -> str:
        """A one-line description for tables."""
        if self.kind == "none":
            return NO_ERROR_HEADERS
        if self.kind == "origin":
            return f"(no error headers) from {self.origin_topic}"
        return (
            f"{self.exception}: {self.message}"
            if self.exception and self.message
            else self.exception or self.message
        )


def fingerprint(
    exception_class: str | None,
    cause_class: str | None,
    message: str | None,
    origin_topic: str | None,
    *,
    normalize: bool = True,
) -> Fingerprint:
    """The fingerprint of a record whose DLQ headers say these (None where they say nothing).
    `normalize=False` when `message` is normalised already."""
    exception = cause_class or exception_class or ""
    normalized = (normalize_message(message) if normalize else message) if message else ""
    origin = origin_topic or ""
    if exception or normalized:
        return Fingerprint("error", exception, normalized, origin)
    if origin:
        return Fingerprint("origin", "", "", origin)
    return Fingerprint("none", "", "", "")


def group_id(fp: Fingerprint) -> str:
    """A 10-hex-digit id of the fingerprint: BLAKE2b of its parts, stable across runs, machines and
    Python versions (no `hash()`, which is salted per process)."""
    text = "\x1f".join(("v1", fp.kind, fp.exception, fp.message, fp.origin_topic))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()
