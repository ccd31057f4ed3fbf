"""A TCP proxy between a client and the real broker, for fault tests: it can stall the connections
it holds (a network partition: the broker neither answers nor closes) or every connection, new
ones included (a broker that is gone).

The broker advertises its own address in Metadata and FindCoordinator answers, so a client would
leave the proxy after bootstrap. The proxy rewrites that address in every answer to its own port:
a Kafka frame is a 4-byte length and a body, the broker's host is the bytes `127.0.0.1` (after a
length prefix), and the port follows it as a 4-byte big-endian integer, so the rewrite keeps every
length as it is."""

from __future__ import annotations

import asyncio
import contextlib
import struct


class KafkaProxy:
    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream_host, self.upstream_port = host, int(port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.Event] = []  # one per connection: set = flowing
        self._new_flow = True  # whether connections made from now on flow
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stall_existing(self) -> None:
        """The connections open now stop moving bytes (both ways); new ones work."""
        for flow in self._held:
            flow.clear()

    def stall_all(self) -> None:
        """No byte moves on any connection, now or later."""
        self._new_flow = False
        self.stall_existing()

    def restore(self) -> None:
        self._new_flow = True
        for flow in self._held:
            flow.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in self._writers:
            w.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        flow = asyncio.Event()
        if self._new_flow:
            flow.set()
        self._held.append(flow)
        self._writers.append(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers.append(up_writer)
        find = b"127.0.0.1" + struct.pack(">i", self.upstream_port)
        replace = b"127.0.0.1" + struct.pack(">i", self.port)
        for coro in (
            self._pipe(reader, up_writer, flow, None),
            self._pipe(up_reader, writer, flow, (find, replace)),
        ):
            task = asyncio.ensure_future(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        flow: asyncio.Event,
        rewrite: tuple[bytes, bytes] | None,
    ) -> None:
        try:
            while True:
                size = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack(">i", size)[0])
                if rewrite is not None:
                    body = body.replace(*rewrite)
                await flow.wait()
                writer.write(size + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
