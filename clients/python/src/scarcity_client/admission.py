"""AdmissionGate: a pure ASGI middleware that applies the governor's ``throttle`` and ``shed_load`` levels to incoming
HTTP requests and reports what it sees (``latency_ms``, ``queue_depth``) through a :class:`GovernedSubsystem`.

It works with any ASGI 3 application (Starlette, FastAPI, an OpenAI-compatible server, ...) without changing it::

    governed = GovernedSubsystem("llm_server", "gpu-node-07", gate_handlers(), targets=["127.0.0.1:50051"])
    app = AdmissionGate(app, governed, max_concurrency=32)
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, Optional, Protocol

from .subsystem import Handler, ThrottleInfo

_log = logging.getLogger("scarcity_client.admission")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

THROTTLE = "throttle"
_SHARE_WARMUP = 20.0  # requests seen before normal requests are shed beyond the low-priority share
SHED_LOAD = "shed_load"


class Governed(Protocol):
    """What the gate needs of a governed subsystem: its levels and a way to report (a :class:`GovernedSubsystem`)."""

    def level_of(self, action: str) -> float: ...

    def report(self, values: Mapping[str, float]) -> bool: ...


class _Lifecycle(Protocol):
    started: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def gate_handlers() -> dict[str, Handler]:
    """Handlers for ``throttle`` and ``shed_load`` that accept any level in (0, 1] (the gate reads the applied levels
    from the client at each request) and decline anything else. Merge your own actions in as needed."""

    def accept(level: float, _info: Optional[ThrottleInfo]) -> bool:
        return 0 < level <= 1

    return {THROTTLE: accept, SHED_LOAD: accept}


@dataclasses.dataclass(frozen=True)
class GateSnapshot:
    """What the gate holds and has done."""

    in_flight: int
    """Requests admitted and not yet answered."""
    waiting: int
    """Requests waiting for a slot under the throttle limit."""
    limit: int
    """Concurrent requests admitted now: ``max(1, floor(max_concurrency * throttle))``."""
    admitted: int
    rejected_throttle: int
    """Requests answered 429 because the throttle limit and the waiting room were full, or the wait timed out."""
    rejected_shed: int
    """Requests answered 429 by ``shed_load``."""
    rejected_shed_low: int
    """Of those, the requests marked low priority."""
    reports_sent: int


class AdmissionGate:
    """Admission control for an ASGI application, driven by the governor's levels.

    - ``throttle`` (level t): at most ``max(1, floor(max_concurrency * t))`` requests are in the application at once;
      more wait in arrival order (at most ``max_waiting``, each at most ``max_wait_s``), and beyond that are answered
      429 with ``Retry-After``.
    - ``shed_load`` (level s): a fraction ``1 - s`` of requests is answered 429 with ``Retry-After`` at once, those
      marked low priority (header ``priority_header`` with a value in ``low_priority_values``) first: only when that
      fraction exceeds the share of low-priority traffic (measured over about the last 200 requests, known after 20) are
      normal requests shed too. Shedding is spread evenly over requests (error diffusion), not random.
    - Every ``report_interval_s`` it reports ``latency_ms`` (the ``latency_quantile`` of the time from a request's
      arrival to its response's start over the interval, or the age of the oldest request still unanswered if larger;
      0 when idle) and ``queue_depth`` (requests in the application plus waiting).

    Only ``http`` requests are gated; ``websocket`` and ``lifespan`` pass through, and so do ``exempt_paths``.
    Reporting starts with the application's lifespan startup, or with the first request.

    Args:
        app: the ASGI application.
        governed: where the levels come from and reports go (a :class:`GovernedSubsystem`, declaring
            ``throttle`` and ``shed_load``, e.g. with :func:`gate_handlers`).
        max_concurrency: requests in the application at once at throttle level 1 (default 64).
        max_waiting: requests that may wait for a slot (default ``max_concurrency``); 0 rejects at once.
        max_wait_s: how long a request waits for a slot before 429, seconds (default 5).
        retry_after_s: the ``Retry-After`` of a 429, whole seconds (default 1).
        priority_header: the request header that marks priority (default ``x-priority``).
        low_priority_values: values of that header meaning low priority, case-insensitive (default ``("low",)``).
        report_interval_s: seconds between reports (default 1; the gateway accepts at most 20 reports/s).
        latency_quantile: the quantile of latency reported, 0..1 (default 0.95).
        exempt_paths: paths never gated (default ``/healthz``, ``/readyz``, ``/metrics``).
        start_governed: start ``governed`` (a :class:`GovernedSubsystem`) with the application's lifespan startup, or
            the first request, and stop it at lifespan shutdown (default False: you start and stop it).
        clock: monotonic seconds (default ``time.monotonic``; a fake in tests).

    Raises:
        ValueError: an argument out of range, naming it.
    """

    def __init__(
        self,
        app: ASGIApp,
        governed: Governed,
        *,
        max_concurrency: int = 64,
        max_waiting: Optional[int] = None,
        max_wait_s: float = 5.0,
        retry_after_s: int = 1,
        priority_header: str = "x-priority",
        low_priority_values: Iterable[str] = ("low",),
        report_interval_s: float = 1.0,
        latency_quantile: float = 0.95,
        exempt_paths: Iterable[str] = ("/healthz", "/readyz", "/metrics"),
        start_governed: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        problems = []
        if max_concurrency < 1:
            problems.append(f"max_concurrency must be >= 1, was {max_concurrency}")
        if max_waiting is not None and max_waiting < 0:
            problems.append(f"max_waiting must be >= 0, was {max_waiting}")
        if not max_wait_s >= 0:
            problems.append(f"max_wait_s must be >= 0, was {max_wait_s}")
        if retry_after_s < 0:
            problems.append(f"retry_after_s must be >= 0, was {retry_after_s}")
        if not report_interval_s > 0:
            problems.append(f"report_interval_s must be > 0, was {report_interval_s}")
        if not 0 <= latency_quantile <= 1:
            problems.append(f"latency_quantile must be in 0..1, was {latency_quantile}")
        if not priority_header or priority_header != priority_header.strip():
            problems.append(f"priority_header must be a header name, was '{priority_header}'")
        if start_governed and not all(hasattr(governed, a) for a in ("start", "stop", "started")):
            problems.append("start_governed needs a GovernedSubsystem (start, stop, started)")
        if problems:
            raise ValueError("AdmissionGate: " + "; ".join(problems))
        self.app = app
        self._start_governed = start_governed
        self._governed = governed
        self._max_concurrency = max_concurrency
        self._max_waiting = max_concurrency if max_waiting is None else max_waiting
        self._max_wait_s = max_wait_s
        self._retry_after = str(int(retry_after_s))
        self._priority_header = priority_header.lower().encode("latin-1")
        self._low_values = {v.lower() for v in low_priority_values}
        self._report_interval_s = report_interval_s
        self._quantile = latency_quantile
        self._exempt = set(exempt_paths)
        self._clock = clock

        self._in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._started: dict[int, float] = {}  # request id -> arrival time, while unanswered
        self._next_id = 0
        self._latencies: list[float] = []  # ms, this interval
        self._low_seen = 0.0
        self._all_seen = 0.0
        self._shed_credit = {True: 0.0, False: 0.0}
        self._admitted = 0
        self._rejected_throttle = 0
        self._rejected_shed = 0
        self._rejected_shed_low = 0
        self._reports_sent = 0
        self._reporter: Optional[asyncio.Task[None]] = None

    # ---- what it does ----

    def limit(self) -> int:
        """Concurrent requests admitted at the current throttle level."""
        t = _level(self._governed.level_of(THROTTLE))
        return max(1, math.floor(self._max_concurrency * t + 1e-9))

    def snapshot(self) -> GateSnapshot:
        """Counters and gauges now."""
        return GateSnapshot(self._in_flight, len(self._waiters), self.limit(), self._admitted,
                            self._rejected_throttle, self._rejected_shed, self._rejected_shed_low, self._reports_sent)

    def report_now(self) -> dict[str, float]:
        """Reports the interval's figures now (the periodic reporter calls this) and returns what was reported."""
        now = self._clock()
        latencies, self._latencies = self._latencies, []
        latency = _quantile(latencies, self._quantile) if latencies else 0.0
        if self._started:
            latency = max(latency, 1000 * (now - min(self._started.values())))
        values = {"latency_ms": latency, "queue_depth": float(self._in_flight + len(self._waiters))}
        if self._governed.report(values):
            self._reports_sent += 1
        return values

    async def close(self) -> None:
        """Stops the periodic reporter (and the governed subsystem, with ``start_governed``)."""
        task, self._reporter = self._reporter, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._start_governed:
            governed: _Lifecycle = self._governed  # type: ignore[assignment]
            await governed.stop()

    # ---- ASGI ----

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if kind != "http" or scope.get("path") in self._exempt:
            await self.app(scope, receive, send)
            return
        await self._ensure_started()
        self._ensure_reporter()
        arrived = self._clock()
        low = self._is_low(scope)
        if self._shed(low):
            self._rejected_shed += 1
            self._rejected_shed_low += int(low)
            await self._reject(send, SHED_LOAD, "shedding load: the server is over its latency objective")
            return
        if not await self._acquire():
            self._rejected_throttle += 1
            await self._reject(send, THROTTLE, "throttled: the server is at its admitted capacity")
            return
        self._admitted += 1
        request_id = self._next_id
        self._next_id += 1
        self._started[request_id] = arrived
        answered = False

        async def timed_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                self._latencies.append(1000 * (self._clock() - arrived))
                self._started.pop(request_id, None)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self._started.pop(request_id, None)
            self._release()

    # ---- admission ----

    def _is_low(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name.lower() == self._priority_header:
                return value.decode("latin-1").strip().lower() in self._low_values
        return False

    def _shed(self, low: bool) -> bool:
        # The share of low-priority traffic, decayed so that it follows the traffic (about the last 200 requests).
        self._low_seen = self._low_seen * 0.995 + (1.0 if low else 0.0)
        self._all_seen = self._all_seen * 0.995 + 1.0
        shed = 1.0 - _level(self._governed.level_of(SHED_LOAD))
        if shed <= 0:
            self._shed_credit = {True: 0.0, False: 0.0}
            return False
        low_share = self._low_seen / self._all_seen
        if low:
            probability = 1.0 if low_share <= 0 else min(1.0, shed / low_share)
        elif self._all_seen < _SHARE_WARMUP:
            probability = 0.0  # the share of low-priority traffic is not known yet: spare normal requests
        else:
            probability = 0.0 if low_share >= 1 else max(0.0, (shed - low_share) / (1.0 - low_share))
        # Error diffusion: shed exactly the probability's share of this class, evenly spread.
        self._shed_credit[low] += probability
        if self._shed_credit[low] >= 1.0 - 1e-9:
            self._shed_credit[low] -= 1.0
            return True
        return False

    async def _acquire(self) -> bool:
        if not self._waiters and self._in_flight < self.limit():
            self._in_flight += 1
            return True
        if len(self._waiters) >= self._max_waiting or self._max_wait_s <= 0:
            return False
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(granted)
        try:
            done, _ = await asyncio.wait({granted}, timeout=self._max_wait_s)
        except asyncio.CancelledError:
            self._abandon(granted)
            raise
        if granted in done:
            return True  # the slot was counted when it was granted
        self._abandon(granted)
        return False

    def _abandon(self, granted: "asyncio.Future[None]") -> None:
        if granted.done() and not granted.cancelled():
            self._release()  # granted at the last moment: give the slot back
            return
        granted.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(granted)

    def _release(self) -> None:
        self._in_flight -= 1
        self._pump()

    def _pump(self) -> None:
        limit = self.limit()
        while self._waiters and self._in_flight < limit:
            granted = self._waiters.popleft()
            if granted.done():
                continue
            self._in_flight += 1
            granted.set_result(None)

    async def _reject(self, send: Send, action: str, message: str) -> None:
        body = json.dumps({"error": {"message": message, "type": "overloaded", "code": 429}}).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", self._retry_after.encode()),
            (b"x-scarcity-action", action.encode()),
        ]})
        await send({"type": "http.response.body", "body": body})

    # ---- reporting ----

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._ensure_started()
                self._ensure_reporter()
            elif message["type"] == "lifespan.shutdown":
                await self.close()
            return message
        return wrapped

    async def _ensure_started(self) -> None:
        if self._start_governed:
            governed: _Lifecycle = self._governed  # type: ignore[assignment]
            if not governed.started:
                await governed.start()

    def _ensure_reporter(self) -> None:
        if self._reporter is None or self._reporter.done():
            self._reporter = asyncio.get_running_loop().create_task(self._report_loop(), name="scarcity-admission-report")

    async def _report_loop(self) -> None:
        while True:
            await asyncio.sleep(self._report_interval_s)
            try:
                self._pump()  # a throttle level that rose admits waiting requests without waiting for a release
                self.report_now()
            except Exception:  # never let reporting stop
                _log.exception("scarcity: admission gate report failed")


def _level(value: float) -> float:
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 1.0


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))  # nearest rank
    return ordered[rank - 1]
