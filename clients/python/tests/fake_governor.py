"""An in-process grpc.aio server implementing scarcity.v1.Governor/Govern, as a test double of the gateway: it feeds
the client conditions a real governor produces only rarely (throttles out of order, rejections, stream drops, a wrong
token) through the same wire and the same client code path."""
from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Optional, Union

import grpc
import grpc.aio

from scarcity_client._proto import governor_pb2 as pb

DROP = object()
"""Put on a stream's outbox: the server aborts the stream with UNAVAILABLE."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class FakeStream:
    """One Govern stream as the server sees it."""

    metadata: dict[str, str]
    register: Optional[pb.Register] = None
    received: "asyncio.Queue[pb.SubsystemMessage]" = field(default_factory=asyncio.Queue)
    outbox: "asyncio.Queue[Union[pb.GovernorMessage, object]]" = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def throttle(self, action: str, level: float, sequence: int, reason: str = "test") -> None:
        self.outbox.put_nowait(pb.GovernorMessage(throttle=pb.Throttle(
            action=action, level=level, sequence=sequence, reason=reason, host="test-host")))

    async def next(self, kind: str, timeout: float = 10.0) -> pb.SubsystemMessage:
        """The next message received of ``kind`` (``ack`` or ``report``), skipping others."""
        async def wait() -> pb.SubsystemMessage:
            while True:
                message = await self.received.get()
                if message.WhichOneof("kind") == kind:
                    return message
        return await asyncio.wait_for(wait(), timeout)


class FakeGovernor:
    """The test double. ``levels``/``last_sequence`` are what a registration gets; ``reject_reason`` refuses
    registrations; ``token`` requires ``authorization: Bearer <token>``."""

    def __init__(self, port: Optional[int] = None, tls: Optional[tuple[bytes, bytes]] = None) -> None:
        self.port = port or free_port()
        self.tls = tls
        self.levels: dict[str, float] = {}
        self.last_sequence = 0
        self.reject_reason: Optional[str] = None
        self.token: Optional[str] = None
        self.streams: list[FakeStream] = []
        self.unauthenticated = 0
        self._opened = asyncio.Condition()
        self._server: Optional[grpc.aio.Server] = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> "FakeGovernor":
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("scarcity.v1.Governor", {
            "Govern": grpc.stream_stream_rpc_method_handler(
                self._govern, request_deserializer=pb.SubsystemMessage.FromString,
                response_serializer=pb.GovernorMessage.SerializeToString),
        }),))
        if self.tls is not None:
            key, cert = self.tls
            server.add_secure_port(self.target, grpc.ssl_server_credentials([(key, cert)]))
        else:
            server.add_insecure_port(self.target)
        await server.start()
        self._server = server
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)
            self._server = None

    async def stream(self, index: int, timeout: float = 10.0) -> FakeStream:
        """The ``index``-th registered stream (0-based), waiting for it."""
        async def wait() -> FakeStream:
            async with self._opened:
                await self._opened.wait_for(lambda: len(self.streams) > index)
                return self.streams[index]
        return await asyncio.wait_for(wait(), timeout)

    async def _govern(self, requests, context: grpc.aio.ServicerContext):
        metadata = {k: v for k, v in context.invocation_metadata()}
        if self.token is not None and metadata.get("authorization") != f"Bearer {self.token}":
            self.unauthenticated += 1
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        stream = FakeStream(metadata)
        first = await requests.__anext__()
        if first.WhichOneof("kind") != "register":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be register")
        stream.register = first.register
        if self.reject_reason is not None:
            yield pb.GovernorMessage(rejected=pb.Rejected(name=first.register.name, reason=self.reject_reason))
            return
        yield pb.GovernorMessage(registered=pb.Registered(
            name=first.register.name, levels=self.levels, last_sequence=self.last_sequence))
        async with self._opened:
            self.streams.append(stream)
            self._opened.notify_all()

        async def read() -> None:
            async for message in requests:
                stream.received.put_nowait(message)

        reader = asyncio.get_running_loop().create_task(read())
        try:
            while True:
                item = await stream.outbox.get()
                if item is DROP:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "dropped by the test")
                yield item
        finally:
            reader.cancel()
            stream.ended.set()
