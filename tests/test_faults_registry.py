"""Registry faults through an HTTP proxy in front of the real registry (the shared registry itself
is never stopped): stopped (nothing listens), slow (every request hangs), 500, 401. Records show as
undecoded with the reason within a bound, a negated field filter does not silently match them, and
merges still write the exact bytes (kcat)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from dlq_tui.decode.wire import wire_schema_id
from dlq_tui.engine import SessionConfig, TriageSession
from dlq_tui.kafka.connection import KafkaSettings
from dlq_tui.triage.decisions import Decision
from dlq_tui.triage.filter import parse
from tests.faultkit import free_port, record_figure
from tests.stack import Stack, kcat_read, unique_name

DECODE_BOUND = 30.0
"""Seconds within which every record must show as decoded or undecoded-with-a-reason."""


class _Handler(BaseHTTPRequestHandler):
    server: RegistryProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        mode = self.server.mode
        self.server.requests += 1
        if mode == "hang":
            self.server.release.wait(60)
            self.close_connection = True
            return
        if mode in ("500", "401"):
            body = b'{"error_code": %s01, "message": "injected"}' % mode.encode()
            self.send_response(int(mode))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        upstream = httpx.request(
            self.command,
            self.server.upstream + self.path,
            content=self.rfile.read(length) if length else None,
            headers={k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")},
            timeout=30,
        )
        self.send_response(upstream.status_code)
        self.send_header("Content-Type", upstream.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    do_GET = do_POST = _answer


class RegistryProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.mode = mode
        self.requests = 0
        self.release = threading.Event()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def registry_proxy(upstream: str, mode: str) -> Iterator[RegistryProxy]:
    proxy = RegistryProxy(upstream, mode)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.release.set()
        proxy.shutdown()
        proxy.server_close()


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


EXPECTED_REASON = {"stopped": "unreachable", "hang": "timed out", "500": "500", "401": "basic.auth.user.info"}


@pytest.mark.parametrize("mode", list(EXPECTED_REASON))
async def test_registry_fault_shows_the_reason_and_merges_exact_bytes(
    stack: Stack, topic_name: str, mode: str
) -> None:
    from dlq_tui.demo.__main__ import seed

    source, dest = f"{topic_name}-dlq", f"{topic_name}-retry"
    await seed(stack.bootstrap, stack.registry_url, 12, dlq_topic=source, retry_topic=dest, quiet=True)
    path = stack.registry_url.removeprefix(stack.registry_root)
    with registry_proxy(stack.registry_root, "pass" if mode == "stopped" else mode) as proxy:
        url = f"http://127.0.0.1:{free_port()}{path}" if mode == "stopped" else proxy.root + path
        cfg = SessionConfig(
            kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
            source=source,
            destination=dest,
            group=unique_name("g"),
            registry_url=url,
        )
        session = TriageSession(cfg)
        await session.open()
        try:
            await session.load_all()
            rows = list(session.visible_rows())
            started = time.monotonic()
            await asyncio.wait_for(asyncio.to_thread(session.prefetch_schemas, rows), DECODE_BOUND)
            avro = [r for r in rows if wire_schema_id(session.store.value_at(r)) is not None]
            assert avro, "the demo DLQ holds Avro records"
            for row in avro:
                error = session.decoded(row).value.error or ""
                assert EXPECTED_REASON[mode] in error, f"row {row}: {error!r}"
            record_figure(f"registry_{mode}_undecoded_seconds", round(time.monotonic() - started, 2))

            flt = parse("NOT value.reason:*wrong*")
            result = await asyncio.wait_for(
                asyncio.to_thread(session.match_with_unknown, flt, avro), DECODE_BOUND
            )
            assert list(result.matched) == [], "an undecodable value never matches a negation"
            assert sorted(result.unknown) == sorted(avro)

            keyed = [r for r in avro if session.store.key_at(r) is not None]
            session.decide(keyed, Decision.MERGE)
            report = await session.commit()
            assert report.merged == len(keyed)
        finally:
            await session.close()
    originals = {(r.key, r.value, tuple(r.headers), r.timestamp) for r in kcat_read(stack.bootstrap, source)}
    merged = kcat_read(stack.bootstrap, dest)
    assert len(merged) == len(keyed)
    for m in merged:
        assert (m.key, m.value, tuple(m.headers), m.timestamp) in originals, "merged byte for byte"
