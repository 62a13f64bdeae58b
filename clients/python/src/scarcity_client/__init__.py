"""Python client of the Scarcity.Actors governor (the gRPC gateway, proto/scarcity/v1/governor.proto).

- :class:`GovernedSubsystem`: register, apply levels in sequence order, ack, report, reconnect.
- :class:`AdmissionGate`: an ASGI middleware applying ``throttle`` and ``shed_load`` to HTTP requests.
- :class:`GovernorClient`: the unary fleet status and decisions.
"""
from .admission import AdmissionGate, GateSnapshot, Governed, gate_handlers
from .backoff import Backoff
from .fleet import GovernorClient
from .sequencing import ThrottleSequencer, ThrottleVerdict
from .subsystem import (ClientStats, GovernedSubsystem, Handler, RegistrationRejected, ThrottleInfo,
                        TlsOptions)

__all__ = [
    "AdmissionGate", "Backoff", "ClientStats", "GateSnapshot", "Governed", "GovernedSubsystem", "GovernorClient",
    "Handler", "RegistrationRejected", "ThrottleInfo", "ThrottleSequencer", "ThrottleVerdict", "TlsOptions",
    "gate_handlers",
]
__version__ = "0.1.0"
