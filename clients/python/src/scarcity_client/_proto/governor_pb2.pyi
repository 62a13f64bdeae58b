from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(_message.Message):
    __slots__ = ["action", "at", "detail", "host", "level", "previous_level", "reason", "sent", "sequence", "subsystem"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SUBSYSTEM_FIELD_NUMBER: _ClassVar[int]
    action: str
    at: _timestamp_pb2.Timestamp
    detail: str
    host: str
    level: float
    previous_level: float
    reason: str
    sent: bool
    sequence: int
    subsystem: str
    def __init__(self, subsystem: _Optional[str] = ..., host: _Optional[str] = ..., action: _Optional[str] = ..., previous_level: _Optional[float] = ..., level: _Optional[float] = ..., sequence: _Optional[int] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., sent: bool = ..., detail: _Optional[str] = ...) -> None: ...

class FleetStatus(_message.Message):
    __slots__ = ["hosts", "subsystems"]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    SUBSYSTEMS_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedCompositeFieldContainer[HostStatus]
    subsystems: _containers.RepeatedCompositeFieldContainer[SubsystemStatus]
    def __init__(self, hosts: _Optional[_Iterable[_Union[HostStatus, _Mapping]]] = ..., subsystems: _Optional[_Iterable[_Union[SubsystemStatus, _Mapping]]] = ...) -> None: ...

class GetDecisionsRequest(_message.Message):
    __slots__ = ["limit", "subsystem"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SUBSYSTEM_FIELD_NUMBER: _ClassVar[int]
    limit: int
    subsystem: str
    def __init__(self, subsystem: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class GetDecisionsResponse(_message.Message):
    __slots__ = ["decisions"]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[Decision]
    def __init__(self, decisions: _Optional[_Iterable[_Union[Decision, _Mapping]]] = ...) -> None: ...

class GetFleetStatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GovernorMessage(_message.Message):
    __slots__ = ["registered", "rejected", "throttle"]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_FIELD_NUMBER: _ClassVar[int]
    registered: Registered
    rejected: Rejected
    throttle: Throttle
    def __init__(self, registered: _Optional[_Union[Registered, _Mapping]] = ..., rejected: _Optional[_Union[Rejected, _Mapping]] = ..., throttle: _Optional[_Union[Throttle, _Mapping]] = ...) -> None: ...

class HostStatus(_message.Message):
    __slots__ = ["at", "host", "metrics", "pressure", "stale"]
    class MetricsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    AT_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    PRESSURE_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    host: str
    metrics: _containers.ScalarMap[str, float]
    pressure: str
    stale: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, host: _Optional[str] = ..., pressure: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., stale: _Optional[_Iterable[str]] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MetricReport(_message.Message):
    __slots__ = ["at", "values"]
    class ValuesEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    AT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    values: _containers.ScalarMap[str, float]
    def __init__(self, values: _Optional[_Mapping[str, float]] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ["actions", "host", "latency_objective_ms", "name", "priority", "reports"]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    LATENCY_OBJECTIVE_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    actions: _containers.RepeatedScalarFieldContainer[str]
    host: str
    latency_objective_ms: float
    name: str
    priority: int
    reports: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., host: _Optional[str] = ..., priority: _Optional[int] = ..., actions: _Optional[_Iterable[str]] = ..., latency_objective_ms: _Optional[float] = ..., reports: _Optional[_Iterable[str]] = ...) -> None: ...

class Registered(_message.Message):
    __slots__ = ["last_sequence", "levels", "name"]
    class LevelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    last_sequence: int
    levels: _containers.ScalarMap[str, float]
    name: str
    def __init__(self, name: _Optional[str] = ..., levels: _Optional[_Mapping[str, float]] = ..., last_sequence: _Optional[int] = ...) -> None: ...

class Rejected(_message.Message):
    __slots__ = ["name", "reason"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SubsystemMessage(_message.Message):
    __slots__ = ["ack", "register", "report"]
    ACK_FIELD_NUMBER: _ClassVar[int]
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    ack: ThrottleAck
    register: Register
    report: MetricReport
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., ack: _Optional[_Union[ThrottleAck, _Mapping]] = ..., report: _Optional[_Union[MetricReport, _Mapping]] = ...) -> None: ...

class SubsystemStatus(_message.Message):
    __slots__ = ["host", "last_acked_sequence", "last_sequence", "levels", "name", "priority", "reachable"]
    class LevelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    LAST_ACKED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    host: str
    last_acked_sequence: int
    last_sequence: int
    levels: _containers.ScalarMap[str, float]
    name: str
    priority: int
    reachable: bool
    def __init__(self, name: _Optional[str] = ..., host: _Optional[str] = ..., priority: _Optional[int] = ..., levels: _Optional[_Mapping[str, float]] = ..., last_sequence: _Optional[int] = ..., last_acked_sequence: _Optional[int] = ..., reachable: bool = ...) -> None: ...

class Throttle(_message.Message):
    __slots__ = ["action", "host", "issued_at", "level", "reason", "sequence"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    action: str
    host: str
    issued_at: _timestamp_pb2.Timestamp
    level: float
    reason: str
    sequence: int
    def __init__(self, action: _Optional[str] = ..., level: _Optional[float] = ..., sequence: _Optional[int] = ..., reason: _Optional[str] = ..., host: _Optional[str] = ..., issued_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ThrottleAck(_message.Message):
    __slots__ = ["applied", "detail", "sequence"]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    detail: str
    sequence: int
    def __init__(self, sequence: _Optional[int] = ..., applied: bool = ..., detail: _Optional[str] = ...) -> None: ...
