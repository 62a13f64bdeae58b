"""The gateway's method paths and message codecs (proto/scarcity/v1/governor.proto, service scarcity.v1.Governor).

The client calls the methods by path through grpc's generic multi-callables, so only the message code is generated.
"""
from __future__ import annotations

import grpc
import grpc.aio

from ._proto import governor_pb2 as pb

SERVICE = "scarcity.v1.Governor"
GOVERN = f"/{SERVICE}/Govern"
GET_FLEET_STATUS = f"/{SERVICE}/GetFleetStatus"
GET_DECISIONS = f"/{SERVICE}/GetDecisions"


def govern(channel: grpc.aio.Channel) -> grpc.aio.StreamStreamMultiCallable:
    """The Govern stream: SubsystemMessage in, GovernorMessage out."""
    return channel.stream_stream(
        GOVERN,
        request_serializer=pb.SubsystemMessage.SerializeToString,
        response_deserializer=pb.GovernorMessage.FromString,
    )


def get_fleet_status(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable:
    """The unary fleet status call."""
    return channel.unary_unary(
        GET_FLEET_STATUS,
        request_serializer=pb.GetFleetStatusRequest.SerializeToString,
        response_deserializer=pb.FleetStatus.FromString,
    )


def get_decisions(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable:
    """The unary decisions call."""
    return channel.unary_unary(
        GET_DECISIONS,
        request_serializer=pb.GetDecisionsRequest.SerializeToString,
        response_deserializer=pb.GetDecisionsResponse.FromString,
    )
