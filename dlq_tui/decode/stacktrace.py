"""Java stack traces, as Spring Kafka (`kafka_dlt-exception-stacktrace`) and Kafka Connect
(`__connect.errors.exception.stacktrace`) headers carry them, split into lines a viewer can lay out:
one frame per line (also when a frame arrives as ``at`` + newline + frame), ``Caused by:`` and
``Suppressed:`` lines, ``... N more``, and each frame flagged as the project's own or a framework's.

The project's own package is the first two segments of the first exception class (the top one or a
``Caused by``) that is not a framework class — ``com.flyeralarm`` for
``com.flyeralarm.crm.OrderNotFoundException`` — else of the first frame that is not a framework
frame. Pure functions; no Textual."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FRAMEWORK_PREFIXES", "LineKind", "TraceLine", "own_package", "split_stack_trace"]

FRAMEWORK_PREFIXES: tuple[str, ...] = (
    "java.",
    "javax.",
    "jakarta.",
    "jdk.",
    "sun.",
    "com.sun.",
    "org.springframework.",
    "org.apache.kafka.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "reactor.",
    "io.micrometer.",
    "io.netty.",
    "io.opentelemetry.",
    "io.smallrye.",
    "io.quarkus.",
    "io.vertx.",
    "org.hibernate.",
    "org.jboss.",
    "com.fasterxml.jackson.",
    "org.slf4j.",
    "ch.qos.logback.",
    "org.apache.logging.",
    "org.junit.",
    "org.aspectj.",
    "net.bytebuddy.",
)


class LineKind(StrEnum):
    EXCEPTION = "exception"  # the first line: class and message
    CAUSED_BY = "caused_by"  # "Caused by: class: message"
    SUPPRESSED = "suppressed"  # "Suppressed: class: message"
    FRAME = "frame"  # "at pkg.Class.method(File.java:42)"
    MORE = "more"  # "... 12 more" (frames in common with the enclosing trace)
    TEXT = "text"  # anything else (a message's further lines)


@dataclass(frozen=True, slots=True)
class TraceLine:
    kind: LineKind
    text: str
    """The line as to show it, without its indentation: frames as ``at FRAME``."""
    depth: int = 0
    """Nesting of ``Suppressed:`` blocks (0 for the main trace and its causes)."""
    frame: str | None = None
    """For frames: ``pkg.Class.method(File.java:42)``, module prefix (``java.base/``) kept."""
    exception: str | None = None
    """For exception, caused-by and suppressed lines: the exception class."""
    own: bool = False
    """A frame of the project's own package."""
    framework: bool = False
    """A frame (or exception class) of a framework or the JDK (`FRAMEWORK_PREFIXES`)."""


_FRAME = re.compile(r"^at\s+(\S.*?)\s*$")
_MORE = re.compile(r"^\.\.\.\s*\d+\s+(more|common frames omitted)\s*$")
_CLASS = re.compile(r"^([A-Za-z_$][\w$]*(?:\.[\w$]+)+)(?::\s?(.*))?$")
_NESTED = re.compile(r"^(Caused by|Suppressed):\s*(.*)$")


def _class_of_frame(frame: str) -> str:
    """``java.base/java.lang.Thread.run(Thread.java:833)`` -> ``java.lang.Thread``."""
    head = frame.split("(", 1)[0]
    head = head.rsplit("/", 1)[-1]  # module or class loader prefix: java.base/, app//
    return head.rsplit(".", 1)[0] if "." in head else head


def _is_framework(class_name: str) -> bool:
    return class_name.startswith(FRAMEWORK_PREFIXES)


def own_package(class_name: str) -> str | None:
    """The first two segments of a class name (``com.flyeralarm``); None for fewer."""
    parts = class_name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else None


def _physical_lines(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        # some producers put a whole trace on one line, frames separated by a tab
        parts = re.split(r"\t(?=at\s)", line)
        lines.extend(parts[1:] if len(parts) > 1 and not parts[0].strip() else parts)
    # a frame that arrives as "at" + newline + frame is one frame
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "at" and i + 1 < len(lines) and lines[i + 1].strip():
            out.append(line.rstrip() + " " + lines[i + 1].strip())
            i += 2
            continue
        out.append(line)
        i += 1
    while out and not out[-1].strip():
        out.pop()
    return out


def split_stack_trace(text: str) -> list[TraceLine]:
    """`text` as trace lines, frames flagged own / framework. Never raises; text that is not a
    stack trace comes back as `TEXT` lines."""
    parsed: list[TraceLine] = []
    depth = 0
    for n, raw in enumerate(_physical_lines(text)):
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        frame = _FRAME.match(stripped)
        if frame:
            parsed.append(TraceLine(LineKind.FRAME, f"at {frame.group(1)}", depth, frame=frame.group(1)))
            continue
        if _MORE.match(stripped):
            parsed.append(TraceLine(LineKind.MORE, stripped, depth))
            continue
        nested = _NESTED.match(stripped)
        if nested:
            kind = LineKind.CAUSED_BY if nested.group(1) == "Caused by" else LineKind.SUPPRESSED
            # Suppressed blocks are indented by a tab per level; a Caused by keeps the level.
            depth = indent if kind is LineKind.SUPPRESSED else min(depth, indent)
            cls = _CLASS.match(nested.group(2))
            name = cls.group(1) if cls else None
            parsed.append(
                TraceLine(
                    kind, stripped, depth, exception=name, framework=bool(name) and _is_framework(name or "")
                )
            )
            continue
        cls = _CLASS.match(stripped) if n == 0 else None
        if cls:
            name = cls.group(1)
            parsed.append(
                TraceLine(LineKind.EXCEPTION, stripped, 0, exception=name, framework=_is_framework(name))
            )
            continue
        parsed.append(TraceLine(LineKind.TEXT, raw.rstrip(), depth))
    own = _own_prefix(parsed)
    out: list[TraceLine] = []
    for line in parsed:
        if line.kind is LineKind.FRAME and line.frame is not None:
            cls_name = _class_of_frame(line.frame)
            framework = _is_framework(cls_name)
            mine = own is not None and not framework and (cls_name == own or cls_name.startswith(own + "."))
            line = TraceLine(
                line.kind, line.text, line.depth, frame=line.frame, own=mine, framework=framework
            )
        out.append(line)
    return out


def _own_prefix(lines: list[TraceLine]) -> str | None:
    for line in lines:
        if line.exception and not line.framework:
            prefix = own_package(line.exception)
            if prefix:
                return prefix
    for line in lines:
        if line.kind is LineKind.FRAME and line.frame is not None:
            cls_name = _class_of_frame(line.frame)
            if not _is_framework(cls_name):
                return own_package(cls_name)
    return None
