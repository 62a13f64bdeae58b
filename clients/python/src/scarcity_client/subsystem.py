"""GovernedSubsystem: one Python program governed by the Scarcity.Actors governor over the gRPC gateway."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Optional, Union

import grpc
import grpc.aio

from . import _wire
from ._proto import governor_pb2 as pb
from .backoff import Backoff
from .sequencing import ThrottleSequencer, ThrottleVerdict

_log = logging.getLogger("scarcity_client")

_NAME = re.compile(r"^[a-z0-9_.\-]{1,64}$")
_ACTION = re.compile(r"^[a-z0-9_]{1,64}$")
_METRIC = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


@dataclasses.dataclass(frozen=True)
class ThrottleInfo:
    """One Throttle from the governor, as handed to a handler.

    Attributes:
        action: the action, e.g. ``"reduce_batch"``.
        level: the absolute target level in (0, 1], 1 meaning unrestricted (above 1 for ``scale_up``).
        sequence: increases by one per Throttle for this subsystem, across actions.
        reason: why, in words (the rule or model, its signal, value and threshold).
        host: the host whose metrics led to the decision.
        issued_at: when the governor decided (UTC), or None when it did not say.
    """

    action: str
    level: float
    sequence: int
    reason: str
    host: str
    issued_at: Optional[datetime]


Handler = Callable[[float, Optional[ThrottleInfo]], Union[bool, None, Awaitable[Optional[bool]]]]
"""Applies one action's level. Called with the level and the Throttle (None when the level comes from a registration).
Returns True or None when applied, False when declined; may be a coroutine function. An exception is caught, logged and
acked applied=false. A plain function runs on the event loop: keep it short, or make it ``async``."""


@dataclasses.dataclass(frozen=True)
class TlsOptions:
    """TLS to the gateway.

    Attributes:
        ca_file: PEM file of the certificate authorities to trust; None trusts grpc's default roots.
        cert_file: PEM client certificate, for gateways that require mutual TLS (with ``key_file``); None for none.
        key_file: PEM private key of ``cert_file``.
        server_name: the name to check the server certificate against instead of the target's host (e.g. when
            connecting by IP address to a certificate issued for a DNS name); None checks the target's host.
    """

    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    server_name: Optional[str] = None

    def credentials(self) -> grpc.ChannelCredentials:
        """The channel credentials. Raises FileNotFoundError naming the option and file when one cannot be read, and
        ValueError when only one of ``cert_file``/``key_file`` is given."""
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("TlsOptions: cert_file and key_file go together (mutual TLS); give both or neither")

        def read(option: str, path: Optional[str]) -> Optional[bytes]:
            if path is None:
                return None
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError as e:
                raise FileNotFoundError(f"TlsOptions.{option}: cannot read '{path}': {e.strerror}") from e

        return grpc.ssl_channel_credentials(
            root_certificates=read("ca_file", self.ca_file),
            private_key=read("key_file", self.key_file),
            certificate_chain=read("cert_file", self.cert_file),
        )


class RegistrationRejected(Exception):
    """The governor refused the registration (e.g. the name is held by another live process)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"registration of '{name}' refused by the governor: {reason}")
        self.name = name
        self.reason = reason


@dataclasses.dataclass
class ClientStats:
    """Counters of one client since it started."""

    connects: int = 0
    """Streams opened (attempts, successful or not)."""
    registrations: int = 0
    """Registered replies received."""
    rejections: int = 0
    """Rejected replies received."""
    throttles_received: int = 0
    throttles_applied: int = 0
    """Throttles whose handler applied the level."""
    acks_sent: int = 0
    reports_sent: int = 0
    """Metric reports written to a stream."""
    reports_dropped: int = 0
    """Metric reports not sent: no registered stream, or more than ``max_pending`` waiting."""


class GovernedSubsystem:
    """A subsystem governed through the gateway's ``Govern`` stream (proto/scarcity/v1/governor.proto).

    It registers (name, host, priority, actions, latency objective), applies the levels of the ``Registered`` reply at
    once, then applies each Throttle in sequence order (one whose sequence is not above the last applied is ignored) and
    acks every Throttle. :meth:`report` sends metric reports. When the stream fails or ends it reconnects with
    exponential backoff and jitter, trying the targets in turn, and registers again (getting the current levels).

    Use it as an async context manager, or call :meth:`start` and :meth:`stop`::

        async with GovernedSubsystem("inference_engine", "gpu-node-07",
                                     {"reduce_batch": set_batch}, targets=["127.0.0.1:50051"]) as governed:
            await governed.wait_registered(timeout=30)
            governed.report({"latency_ms": 120.0, "queue_depth": 3})

    Args:
        name: unique subsystem name: lower-case letters, digits, ``_``, ``-`` and ``.``, 1..64 characters.
        host: the host it runs on, as the governor's sensor names it (that host's metrics govern it).
        handlers: a :data:`Handler` per action it understands (``reduce_batch``, ``throttle``, ``shed_load``,
            ``scale_up`` or any lower-case name); at least one. No Throttle is ever sent for another action.
        targets: gateway addresses, ``host:port`` (any node of the cluster serves the gateway); at least one.
        priority: higher is more important; lower priorities are acted on first (default 1, as the .NET client).
        latency_objective_ms: the latency objective of its ``latency_ms``, milliseconds; 0 leaves it to the
            governor's configuration (default 0).
        reports: the metrics it reports about itself with :meth:`report` (``latency_ms``, ``queue_depth``,
            ``context_k``, ``oom_total``), said at registration. An engine that reports ``context_k`` gets the
            governor's prior ``reduce_batch`` level (``Scarcity:Policy:LearnedInitialLevel``, 0.5) at its first
            registration, before it has reported anything. Empty (the default): it does not say.
        token: the bearer token sent as ``authorization: Bearer <token>`` on the stream; None sends none.
        tls: TLS options; None connects in cleartext (h2c), as a gateway without a certificate serves.
        backoff: reconnection delays (default :class:`Backoff`: 0.2 s doubling to 10 s, half of each random).
        register_timeout_s: how long to wait for ``Registered`` after opening a stream before trying again,
            seconds (default 30).
        max_pending: reports waiting to be written beyond which :meth:`report` drops (default 1024).
        on_registered: called with the levels after each registration (optional).
        on_rejected: called with the reason when the governor refuses the registration (optional); the client keeps
            trying with backoff (the holder of the name may be a process that just died).
        channel_options: extra grpc channel options (optional).

    Raises:
        ValueError: an argument is invalid; the message names it and says why.
    """

    def __init__(
        self,
        name: str,
        host: str,
        handlers: Mapping[str, Handler],
        targets: Sequence[str],
        *,
        priority: int = 1,
        latency_objective_ms: float = 0.0,
        reports: Sequence[str] = (),
        token: Optional[str] = None,
        tls: Optional[TlsOptions] = None,
        backoff: Optional[Backoff] = None,
        register_timeout_s: float = 30.0,
        max_pending: int = 1024,
        on_registered: Optional[Callable[[dict[str, float]], None]] = None,
        on_rejected: Optional[Callable[[str], None]] = None,
        channel_options: Sequence[tuple[str, object]] = (),
    ) -> None:
        problems = []
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"name '{name}' must be 1..64 of lower-case letters, digits, '_', '-' and '.'")
        if not isinstance(host, str) or not host.strip():
            problems.append("host must not be empty")
        if not handlers:
            problems.append("handlers must declare at least one action")
        for action, handler in dict(handlers).items():
            if not isinstance(action, str) or not _ACTION.match(action):
                problems.append(f"handlers: action '{action}' must be 1..64 of lower-case letters, digits and '_'")
            if not callable(handler):
                problems.append(f"handlers['{action}'] is not callable")
        if isinstance(targets, str) or not targets or not all(isinstance(t, str) and t.strip() for t in targets):
            problems.append("targets must be a non-empty list of 'host:port' strings")
        if not (isinstance(latency_objective_ms, (int, float)) and math.isfinite(latency_objective_ms)
                and latency_objective_ms >= 0):
            problems.append(f"latency_objective_ms must be finite and >= 0, was {latency_objective_ms}")
        if isinstance(reports, str) or not all(isinstance(r, str) and _METRIC.match(r) for r in reports):
            problems.append(f"reports must be a list of metric names (lower-case letters, digits and '_'), was {reports!r}")
        elif len(set(reports)) != len(reports):
            problems.append(f"reports names a metric twice: {list(reports)}")
        if token is not None and (not token or any(c.isspace() for c in token)):
            problems.append("token must be non-empty without white space (or None)")
        if not register_timeout_s > 0:
            problems.append(f"register_timeout_s must be > 0, was {register_timeout_s}")
        if max_pending < 1:
            problems.append(f"max_pending must be >= 1, was {max_pending}")
        if problems:
            raise ValueError("GovernedSubsystem: " + "; ".join(problems))

        self._name = name
        self._host = host
        self._handlers = dict(handlers)
        self._targets = list(targets)
        self._priority = priority
        self._latency_objective_ms = float(latency_objective_ms)
        self._reports = list(reports) if not isinstance(reports, str) else []
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._tls = tls
        self._credentials = tls.credentials() if tls is not None else None
        self._backoff = backoff or Backoff()
        self._register_timeout_s = register_timeout_s
        self._max_pending = max_pending
        self._on_registered = on_registered
        self._on_rejected = on_rejected
        self._channel_options = [
            ("grpc.keepalive_time_ms", 20_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            *([("grpc.ssl_target_name_override", tls.server_name)] if tls and tls.server_name else []),
            *channel_options,
        ]
        self._sequencer = ThrottleSequencer(self._handlers)
        self._stats = ClientStats()
        self._registered = asyncio.Event()
        self._outbox: Optional[asyncio.Queue[pb.SubsystemMessage]] = None
        self._pending_reports = 0
        self._task: Optional[asyncio.Task[None]] = None
        self._target: Optional[str] = None
        self._rejected_reason: Optional[str] = None
        self._last_error: Optional[str] = None

    # ---- public state ----

    @property
    def name(self) -> str:
        """The subsystem's name."""
        return self._name

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._task is not None

    @property
    def registered(self) -> bool:
        """True while a stream is open and the governor has accepted the registration on it."""
        return self._registered.is_set()

    @property
    def target(self) -> Optional[str]:
        """The gateway address of the current (or last) stream."""
        return self._target

    @property
    def levels(self) -> dict[str, float]:
        """A copy of the level applied per declared action (1.0 until restricted)."""
        return self._sequencer.levels

    def level_of(self, action: str) -> float:
        """The level applied for ``action``; 1.0 when never restricted (or not declared)."""
        return self._sequencer.level_of(action)

    @property
    def last_sequence(self) -> int:
        """The newest Throttle sequence applied or consumed (or the registration's)."""
        return self._sequencer.last_applied

    @property
    def rejected_reason(self) -> Optional[str]:
        """The reason of the last refused registration, None when the last registration was accepted."""
        return self._rejected_reason

    @property
    def last_error(self) -> Optional[str]:
        """Why the last stream failed, in words (None before any failure)."""
        return self._last_error

    @property
    def stats(self) -> ClientStats:
        """Counters since start (a copy)."""
        return dataclasses.replace(self._stats)

    # ---- lifecycle ----

    async def start(self) -> None:
        """Starts connecting in the background; returns at once. Raises RuntimeError when already started."""
        if self._task is not None:
            raise RuntimeError(f"GovernedSubsystem '{self._name}' is already started")
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"scarcity-govern-{self._name}")

    async def stop(self) -> None:
        """Closes the stream (the governor sees the subsystem go) and stops reconnecting. Idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._registered.clear()

    async def __aenter__(self) -> "GovernedSubsystem":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_registered(self, timeout: Optional[float] = None) -> None:
        """Waits until the governor has accepted the registration, at most ``timeout`` seconds (None: no limit).

        Raises:
            asyncio.TimeoutError: not registered in time (the message says the last error or rejection).
        """
        try:
            await asyncio.wait_for(self._registered.wait(), timeout)
        except asyncio.TimeoutError:
            why = self._rejected_reason and f"rejected: {self._rejected_reason}" or self._last_error or "no answer"
            raise asyncio.TimeoutError(
                f"'{self._name}' not registered within {timeout} s at {', '.join(self._targets)} ({why})") from None

    def report(self, values: Mapping[str, float], at: Optional[datetime] = None) -> bool:
        """Sends a metric report: metric base name to value, in the metric's unit (``latency_ms`` milliseconds,
        ``queue_depth`` requests waiting, ``context_k`` thousands of tokens, ``oom_total`` a counter, ...).
        Never blocks. ``at`` is when the values were measured (default: when the governor receives them).

        Returns:
            True when queued on a registered stream; False when dropped (not registered, or ``max_pending`` reports
            already waiting), counted in :attr:`stats`.

        Raises:
            ValueError: a name is not a lower-case metric name, or a value is NaN or infinite (naming it).
        """
        message = pb.MetricReport()
        for metric, value in values.items():
            if not isinstance(metric, str) or not _METRIC.match(metric):
                raise ValueError(f"report: metric name '{metric}' must be lower-case letters, digits and '_'")
            v = float(value)
            if not math.isfinite(v):
                raise ValueError(f"report: metric '{metric}' is {v}; values must be finite")
            message.values[metric] = v
        if at is not None:
            message.at.FromDatetime(at.astimezone(timezone.utc).replace(tzinfo=None))
        outbox = self._outbox
        if outbox is None or not self._registered.is_set() or self._pending_reports >= self._max_pending:
            self._stats.reports_dropped += 1
            return False
        self._pending_reports += 1
        outbox.put_nowait(pb.SubsystemMessage(report=message))
        return True

    # ---- the connection loop ----

    async def _run(self) -> None:
        index = 0
        while True:
            target = self._targets[index % len(self._targets)]
            index += 1
            try:
                await self._session(target)
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as e:
                self._last_error = f"{target}: {e.code().name}: {e.details()}"
                level = logging.ERROR if e.code() in (grpc.StatusCode.UNAUTHENTICATED,
                                                      grpc.StatusCode.INVALID_ARGUMENT) else logging.WARNING
                _log.log(level, "scarcity: stream of '%s' to %s ended: %s %s",
                         self._name, target, e.code().name, e.details())
            except Exception as e:  # a protocol or connection problem: reconnect, never stop
                self._last_error = f"{target}: {type(e).__name__}: {e}"
                _log.warning("scarcity: stream of '%s' to %s failed: %s", self._name, target, self._last_error)
            finally:
                self._registered.clear()
                self._outbox = None
                self._pending_reports = 0
            await asyncio.sleep(self._backoff.next_delay())

    def _channel(self, target: str) -> grpc.aio.Channel:
        if self._credentials is not None:
            return grpc.aio.secure_channel(target, self._credentials, options=self._channel_options)
        return grpc.aio.insecure_channel(target, options=self._channel_options)

    async def _session(self, target: str) -> None:
        self._target = target
        self._stats.connects += 1
        channel = self._channel(target)
        writer: Optional[asyncio.Task[None]] = None
        try:
            call = _wire.govern(channel)(metadata=self._metadata)
            await call.write(pb.SubsystemMessage(register=pb.Register(
                name=self._name, host=self._host, priority=self._priority, actions=sorted(self._handlers),
                latency_objective_ms=self._latency_objective_ms, reports=self._reports)))
            first = await asyncio.wait_for(call.read(), self._register_timeout_s)
            if first is grpc.aio.EOF:
                await call  # raises the status when the stream failed
                raise ConnectionError("the stream ended before the governor answered the registration")
            kind = first.WhichOneof("kind")
            if kind == "rejected":
                self._reject(first.rejected.reason)
                return
            if kind != "registered":
                raise ConnectionError(f"the governor's first message was '{kind}', not 'registered'")
            outbox: asyncio.Queue[pb.SubsystemMessage] = asyncio.Queue()
            await self._apply_registration(first.registered)
            self._outbox = outbox
            self._registered.set()
            self._backoff.reset()
            writer = asyncio.get_running_loop().create_task(self._write(call, outbox))
            while True:
                message = await call.read()
                if message is grpc.aio.EOF:
                    await call
                    raise ConnectionError("the governor ended the stream")
                kind = message.WhichOneof("kind")
                if kind == "throttle":
                    await self._on_throttle(message.throttle, outbox)
                elif kind == "registered":
                    await self._apply_registration(message.registered)
                elif kind == "rejected":
                    self._reject(message.rejected.reason)
                    return
        finally:
            self._registered.clear()
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await writer
            await channel.close(grace=None)

    async def _write(self, call: grpc.aio.StreamStreamCall, outbox: "asyncio.Queue[pb.SubsystemMessage]") -> None:
        # The only writer of the stream: grpc.aio allows one write at a time.
        while True:
            message = await outbox.get()
            is_report = message.WhichOneof("kind") == "report"
            if is_report:
                self._pending_reports = max(0, self._pending_reports - 1)
            try:
                await call.write(message)
            except Exception as e:  # the stream is gone; the reader sees why and reconnects
                if is_report:
                    self._stats.reports_dropped += 1
                _log.debug("scarcity: write on the stream of '%s' failed: %s", self._name, e)
                return
            if is_report:
                self._stats.reports_sent += 1
            else:
                self._stats.acks_sent += 1

    def _reject(self, reason: str) -> None:
        self._stats.rejections += 1
        self._rejected_reason = reason
        self._last_error = f"rejected: {reason}"
        _log.error("scarcity: registration of '%s' refused by the governor: %s", self._name, reason)
        if self._on_rejected is not None:
            try:
                self._on_rejected(reason)
            except Exception:
                _log.exception("scarcity: on_rejected callback of '%s' failed", self._name)

    async def _apply_registration(self, registered: pb.Registered) -> None:
        self._stats.registrations += 1
        self._rejected_reason = None
        for action, level in self._sequencer.register(dict(registered.levels), registered.last_sequence):
            applied, _ = await self._invoke(action, level, None)
            if applied:
                self._sequencer.set_level(action, level)
        _log.info("scarcity: '%s' registered at %s, levels %s, last sequence %d",
                  self._name, self._target, self._sequencer.levels, registered.last_sequence)
        if self._on_registered is not None:
            try:
                self._on_registered(self._sequencer.levels)
            except Exception:
                _log.exception("scarcity: on_registered callback of '%s' failed", self._name)

    async def _on_throttle(self, throttle: pb.Throttle, outbox: "asyncio.Queue[pb.SubsystemMessage]") -> None:
        self._stats.throttles_received += 1
        verdict = self._sequencer.check(throttle.sequence, throttle.action)
        if verdict is ThrottleVerdict.STALE:
            applied, detail = False, self._sequencer.stale_detail(throttle.sequence)
        elif verdict is ThrottleVerdict.UNKNOWN_ACTION:
            applied, detail = False, f"no handler for action '{throttle.action}'"
            self._sequencer.complete(throttle.sequence, throttle.action, throttle.level, False)
        else:
            issued = throttle.issued_at.ToDatetime().replace(tzinfo=timezone.utc) \
                if throttle.HasField("issued_at") else None
            info = ThrottleInfo(throttle.action, throttle.level, throttle.sequence, throttle.reason, throttle.host, issued)
            applied, detail = await self._invoke(throttle.action, throttle.level, info)
            self._sequencer.complete(throttle.sequence, throttle.action, throttle.level, applied)
            if applied:
                self._stats.throttles_applied += 1
        outbox.put_nowait(pb.SubsystemMessage(ack=pb.ThrottleAck(
            sequence=throttle.sequence, applied=applied, detail=detail)))

    async def _invoke(self, action: str, level: float, info: Optional[ThrottleInfo]) -> tuple[bool, str]:
        try:
            result = self._handlers[action](level, info)
            if inspect.isawaitable(result):
                result = await result
        except asyncio.CancelledError:
            raise
        except Exception as e:
            _log.exception("scarcity: handler of '%s' for %s=%s failed", self._name, action, level)
            return False, f"handler failed: {type(e).__name__}: {e}"
        if result is False:
            return False, "declined by the handler"
        return True, ""
