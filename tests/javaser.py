"""Java-serialized exceptions written by a real JVM for the tests (java single-file source mode)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent / "java" / "SpringDeserializationException.java"


def spring_deserialization_exception(tmp: Path, data: bytes, message: str) -> bytes:
    """A `DeserializationException` as Spring's ErrorHandlingDeserializer serializes it into the
    ``springDeserializerExceptionValue`` header (`data` must be valid UTF-8: it goes in as an argument)."""
    java = shutil.which("java")
    if java is None:
        pytest.skip("needs java (the local stack's prerequisite)")
    out = tmp / f"de-{abs(hash((data, message)))}.ser"
    subprocess.run(
        [java, str(SOURCE), str(out), data.decode(), message], check=True, capture_output=True, timeout=120
    )
    return out.read_bytes()
