"""Unary calls of the gateway: the fleet status and the decisions, as `scarcity status` and `scarcity decisions` show."""
from __future__ import annotations

from typing import Optional

import grpc
import grpc.aio

from . import _wire
from ._proto import governor_pb2 as pb
from .subsystem import TlsOptions


class GovernorClient:
    """Reads the fleet through one gateway address.

    Args:
        target: the gateway, ``host:port``.
        token: the bearer token (``authorization: Bearer <token>``); None sends none.
        tls: TLS options; None for cleartext (h2c).
        timeout_s: deadline of each call, seconds (default 10).

    Calls raise ``grpc.aio.AioRpcError`` (e.g. ``UNAUTHENTICATED``, ``DEADLINE_EXCEEDED``, ``UNAVAILABLE``).
    """

    def __init__(self, target: str, *, token: Optional[str] = None, tls: Optional[TlsOptions] = None,
                 timeout_s: float = 10.0) -> None:
        if not target:
            raise ValueError("GovernorClient: target must be 'host:port'")
        self._channel = (grpc.aio.secure_channel(target, tls.credentials()) if tls is not None
                         else grpc.aio.insecure_channel(target))
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout_s = timeout_s

    async def fleet_status(self) -> pb.FleetStatus:
        """Every host profiled and every subsystem registered."""
        return await _wire.get_fleet_status(self._channel)(
            pb.GetFleetStatusRequest(), metadata=self._metadata, timeout=self._timeout_s)

    async def decisions(self, subsystem: str = "", limit: int = 20) -> list[pb.Decision]:
        """The newest decisions of ``subsystem`` (every subsystem's when empty), newest last; ``limit`` 1..1000."""
        reply = await _wire.get_decisions(self._channel)(
            pb.GetDecisionsRequest(subsystem=subsystem, limit=limit), metadata=self._metadata, timeout=self._timeout_s)
        return list(reply.decisions)

    async def close(self) -> None:
        """Closes the channel."""
        await self._channel.close()

    async def __aenter__(self) -> "GovernorClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
