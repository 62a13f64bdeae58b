#!/usr/bin/env python3
"""A simulated GPU inference engine governed through scarcity_client: the one engine model of shared/ENGINE-MODEL.md
(the Python twin of src/Scarcity.Actors.Simulation's InferenceEngineModel), stepped every 0.25 s through a scenario
with the levels the governor sent, reporting what a real engine knows of itself: ``latency_ms``, ``queue_depth``,
``context_k``, ``oom_total``, and its simulated ``vram_util`` (a real engine's VRAM comes from NVML on its host; this
GPU lives only in this process, so it is reported as an app metric, ``vram_util{subsystem="name"}``, which rules on
vram_util read first). After an OOM it behaves as a restarting process: its client stops (the registration drops,
nothing is reported) and, once the engine is back after RESTART seconds, a new client registers again (and takes the
governor's current levels) before the engine serves.

    python3 examples/engine_model.py --target 127.0.0.1:50051 --name py_engine --host $(hostname) --scenario context-surge

Lines written (the end-to-end tests and the benchmark parse them): ``registered ...``, ``level action=A level=L
source=registration``, ``applied seq=N action=A level=L ts=T reason="..."`` (plus ``batch=B`` for reduce_batch; T is
time.monotonic_ns(), the CLOCK_MONOTONIC that .NET's Stopwatch also reads on Linux), ``declined ...``, ``rejected: ...``,
``oom ...`` and ``restarted ...`` around an OOM, and ``t=...`` every 5 s.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import logging
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Optional

try:
    import scarcity_client  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from scarcity_client import GovernedSubsystem, ThrottleInfo, TlsOptions

# ---- the model (shared/ENGINE-MODEL.md) ----

DT = 0.25          # step, s
B_MAX = 64         # batch size at level 1
WEIGHTS = 0.40     # VRAM fraction held by the weights
KV = 0.006         # VRAM fraction per request in the batch per 1k tokens
TOKENS_OUT = 100   # decode iterations per request
ITER_BASE = 0.015  # s, fixed cost of one decode iteration
ITER_SLOT = 0.0004  # s, per batch slot per 1k tokens
PREFILL = 0.05     # s per 1k tokens
RESTART = 20.0     # s down after an OOM
RELEASE = 0.10     # reserved-but-unused VRAM returned per second
LOW_SHARE = 0.5    # share of arrivals that is low priority
SLO_MS = 500.0     # time-to-first-token objective, ms

ACTIONS = ("reduce_batch", "throttle", "shed_load")


@dataclasses.dataclass(frozen=True)
class Levels:
    """The governor's levels as the engine applies them, each in (0, 1]."""

    reduce_batch: float = 1.0
    throttle: float = 1.0
    shed_load: float = 1.0


@dataclasses.dataclass
class Scores:
    """Cumulative scores of a run."""

    ooms: int = 0
    requests_lost: float = 0.0
    seconds_over_slo: float = 0.0
    good_requests: float = 0.0
    requests_rejected: float = 0.0


def need(batch: int, context_k: float) -> float:
    """VRAM a batch needs at a context length: WEIGHTS + KV * batch * L."""
    return WEIGHTS + KV * batch * context_k


def batch_at(reduce_batch: float) -> int:
    """Batch size at a reduce_batch level: max(1, floor(B_MAX * level))."""
    return max(1, math.floor(B_MAX * reduce_batch))


def throughput(batch: int, context_k: float) -> float:
    """Requests per second: batch / (TOKENS_OUT * (ITER_BASE + ITER_SLOT * batch * L))."""
    return batch / (TOKENS_OUT * (ITER_BASE + ITER_SLOT * batch * context_k))


class InferenceEngineModel:
    """The reference engine in discrete steps of DT; deterministic, single-threaded."""

    def __init__(self) -> None:
        self.steps = 0
        self.batch = B_MAX
        self.queue = 0.0
        self.down = False
        self.oom_in_last_step = False
        self.reserved = WEIGHTS
        self.latency_ms = 0.0
        self.context_k = 0.0
        self.scores = Scores()
        self._down_until = -math.inf

    @property
    def time(self) -> float:
        """Simulated seconds so far (the start of the next step)."""
        return self.steps * DT

    @property
    def down_until(self) -> float:
        """Simulated time the engine is back after its last OOM (-inf before any)."""
        return self._down_until

    @property
    def vram_util(self) -> float:
        """What NVML reports: min(1, reserved)."""
        return min(1.0, self.reserved)

    def step(self, arrivals: float, context_k: float, levels: Levels = Levels()) -> None:
        """Advances one step. Raises ValueError for a negative or non-finite input or a level outside (0, 1]."""
        if not (arrivals >= 0 and math.isfinite(arrivals)):
            raise ValueError(f"arrivals must be finite and not negative, was {arrivals}")
        if not (context_k >= 0 and math.isfinite(context_k)):
            raise ValueError(f"context_k must be finite and not negative, was {context_k}")
        for name in ACTIONS:
            level = getattr(levels, name)
            if not 0 < level <= 1:
                raise ValueError(f"level {name} must be in (0, 1], was {level}")
        t = self.time
        batch = batch_at(levels.reduce_batch)
        self.batch = batch
        self.context_k = context_k
        self.oom_in_last_step = False

        admitted = arrivals * levels.throttle * (1 - LOW_SHARE * (1 - levels.shed_load)) * DT
        rejected = arrivals * DT - admitted
        self.queue += admitted
        mu = throughput(batch, context_k)
        lost = good = over_slo = 0.0
        oom = 0
        if t < self._down_until:
            self.down = True
            self.reserved = WEIGHTS
            over_slo = DT
            self.latency_ms = 1000 * (self._down_until - t + self.queue / mu + PREFILL * context_k)
        else:
            needed = need(batch, context_k)
            if needed > 1.0:
                # OOM: the batch in flight is lost; the engine restarts with only the weights loaded.
                lost = min(self.queue, batch)
                self.queue -= lost
                oom = 1
                self.oom_in_last_step = True
                self._down_until = t + RESTART
                self.down = True
                self.reserved = WEIGHTS
                over_slo = DT
                self.latency_ms = 1000 * (RESTART + self.queue / mu + PREFILL * context_k)
            else:
                self.down = False
                # The allocator grabs at once but returns slowly.
                self.reserved = needed if needed > self.reserved else max(needed, self.reserved - RELEASE * DT)
                served = min(self.queue, mu * DT)
                self.queue -= served
                self.latency_ms = 1000 * (self.queue / mu + PREFILL * context_k)
                if self.latency_ms <= SLO_MS:
                    good = served
                else:
                    over_slo = DT
        s = self.scores
        self.scores = Scores(s.ooms + oom, s.requests_lost + lost, s.seconds_over_slo + over_slo,
                             s.good_requests + good, s.requests_rejected + rejected)
        self.steps += 1


# ---- scenarios ----

@dataclasses.dataclass(frozen=True)
class Scenario:
    """A load pattern: ``at(t)`` gives (arrivals per second, mean context length in thousands of tokens)."""

    name: str
    duration_s: float
    at: Callable[[float], tuple[float, float]]


SCENARIOS = {
    # 10 requests/s; L = 1.0 until 30 s, rising by 0.02/s to 2.2, held until 240 s, then 1.0. Ungoverned: 10 OOMs.
    "context-surge": Scenario("context-surge", 360, lambda t: (10.0, 1.0 if t < 30 or t >= 240 else min(2.2, 1.0 + 0.02 * (t - 30)))),
    # L = 1.2; 8 requests/s, 25 from 60 s to 150 s.
    "traffic-burst": Scenario("traffic-burst", 300, lambda t: (25.0 if 60 <= t < 150 else 8.0, 1.2)),
    # The host's --demo: 6 requests/s; L = 0.8 until 5 s, rising by 0.05/s to 2.0, held until 40 s, then 0.8.
    "demo": Scenario("demo", 60, lambda t: (6.0, 0.8 if t < 5 or t >= 40 else min(2.0, 0.8 + 0.05 * (t - 5)))),
    # No engine: only the clock moves, nothing is reported; the client applies and prints Throttles (benchmarks).
    "idle": Scenario("idle", 60, lambda t: (0.0, 0.0)),
}


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a CSV file ``t_seconds,arrivals,context_k`` (one row per step).
    Raises ValueError naming the file and line of a bad row, or the unknown name."""
    if name_or_path in SCENARIOS:
        return SCENARIOS[name_or_path]
    if not os.path.isfile(name_or_path):
        raise ValueError(f"scenario '{name_or_path}' is neither a built-in ({', '.join(SCENARIOS)}) nor a file")
    rows: list[tuple[float, float]] = []
    with open(name_or_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["t_seconds", "arrivals", "context_k"]:
            raise ValueError(f"{name_or_path}:1: the header must be t_seconds,arrivals,context_k, was {header}")
        for line, row in enumerate(reader, start=2):
            try:
                _, arrivals, context_k = (float(v) for v in row)
            except ValueError:
                raise ValueError(f"{name_or_path}:{line}: three numbers expected, was {row}") from None
            rows.append((arrivals, context_k))
    if not rows:
        raise ValueError(f"{name_or_path}: no rows")
    return Scenario(os.path.basename(name_or_path), len(rows) * DT, lambda t: rows[min(len(rows) - 1, int(t / DT))])


# ---- the governed engine ----

class GovernedEngine:
    """The model stepped in real time under a GovernedSubsystem, restarting like a process after an OOM."""

    def __init__(self, args: argparse.Namespace, write: Callable[[str], None] = print) -> None:
        self._args = args
        self._write = write
        self._scenario = load_scenario(args.scenario)
        self._tls = TlsOptions(ca_file=args.ca_file, server_name=args.server_name) if args.ca_file else None
        self._token = args.token or (open(args.token_file).read().strip() if args.token_file else None)
        self._governed = self._connect()

    def _connect(self) -> GovernedSubsystem:
        handlers = {action: self._handler(action) for action in ACTIONS}
        governed = GovernedSubsystem(
            self._args.name, self._args.host, handlers, self._args.target, priority=self._args.priority,
            token=self._token, tls=self._tls,
            on_registered=lambda levels: self._write(
                f"registered name={self._args.name} host={self._args.host} last={governed.last_sequence} "
                f"levels={_format_levels(levels)}"),
            on_rejected=lambda reason: self._write(
                f"rejected: registration of '{self._args.name}' refused by the governor: {reason}"))
        return governed

    def _handler(self, action: str):
        def handle(level: float, info: Optional[ThrottleInfo]) -> bool:
            if not 0 < level <= 1:
                self._write(f"declined seq={info.sequence if info else 0} action={action} level={level:g}: "
                            "engine levels are in (0, 1]")
                return False
            batch = f" batch={batch_at(level)}" if action == "reduce_batch" else ""
            if info is None:
                self._write(f"level action={action} level={level:.4g} source=registration")
            else:
                self._write(f"applied seq={info.sequence} action={action} level={level:.4g} ts={time.monotonic_ns()} "
                            f"reason=\"{info.reason}\"{batch}")
            return True
        return handle

    def _levels(self) -> Levels:
        return Levels(*(self._governed.level_of(a) for a in ACTIONS))

    async def run(self, stop: asyncio.Event) -> None:
        model = InferenceEngineModel()
        scenario = self._scenario
        self._write(f"engine {self._args.name} on {self._args.host}, scenario {scenario.name}, "
                    f"targets {', '.join(self._args.target)}")
        await self._governed.start()
        crashed: Optional[asyncio.Task[None]] = None
        next_tick = time.monotonic()
        while not stop.is_set():
            next_tick += DT
            with _suppress_timeout():
                await asyncio.wait_for(stop.wait(), max(0.0, next_tick - time.monotonic()))
            if stop.is_set():
                break
            if self._args.duration and model.time >= self._args.duration:
                break
            if crashed is not None and model.time >= model.down_until:
                # Back after the restart: as a real engine process, it registers (and takes the governor's current
                # levels) before it serves again; a governor that does not answer within --register-wait leaves it at
                # its defaults (every level 1) until it does.
                await crashed
                crashed = None
                self._governed = self._connect()
                await self._governed.start()
                self._write(f"restarted t={model.time:.2f}s: registering again")
                with _suppress_timeout():
                    await self._governed.wait_registered(self._args.register_wait)
                next_tick = time.monotonic()
            if scenario.name == "idle":
                # No engine at all: only the clock moves and nothing is reported (the benchmark drives the host's
                # samples and times the Throttles alone).
                model.steps += 1
                continue
            arrivals, context_k = scenario.at(model.time % scenario.duration_s)
            model.step(arrivals, context_k, self._levels())
            if model.oom_in_last_step:
                # A crashed process reports nothing and holds no registration until it has restarted.
                self._write(f"oom t={model.time:.2f}s batch={model.batch} ooms={model.scores.ooms}: "
                            f"restarting for {RESTART:.0f}s, registration dropped")
                crashed = asyncio.get_running_loop().create_task(self._governed.stop())
            if model.down:
                continue
            self._governed.report({
                "latency_ms": model.latency_ms, "queue_depth": model.queue, "context_k": model.context_k,
                "oom_total": model.scores.ooms, "vram_util": model.vram_util,
            })
            if model.steps % 20 == 0:
                self._write(f"t={model.time:.0f}s batch={model.batch} vram={model.vram_util:.3f} "
                            f"latency={model.latency_ms:.0f}ms queue={model.queue:.1f} ooms={model.scores.ooms} "
                            f"levels={_format_levels(self._governed.levels)}")
        if crashed is not None:
            await crashed
        await self._governed.stop()


class _suppress_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, tb) -> bool:
        return kind is asyncio.TimeoutError


def _format_levels(levels: dict[str, float]) -> str:
    return ",".join(f"{a}={levels.get(a, 1.0):.4g}" for a in ACTIONS)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="A simulated GPU inference engine governed through the gRPC gateway.")
    p.add_argument("--target", action="append", help="gateway address host:port; repeat for several nodes "
                   "(default 127.0.0.1:50051)")
    p.add_argument("--name", default="py_engine", help="subsystem name (default py_engine)")
    p.add_argument("--host", default=socket.gethostname(), help="the host it runs on, as the governor names it "
                   "(default this machine's host name)")
    p.add_argument("--scenario", default="context-surge", help=f"{', '.join(SCENARIOS)} or a CSV file "
                   "t_seconds,arrivals,context_k (default context-surge; it repeats)")
    p.add_argument("--priority", type=int, default=1, help="subsystem priority (default 1)")
    p.add_argument("--duration", type=float, default=0, help="simulated seconds to run; 0 runs until stopped (default)")
    p.add_argument("--token", help="bearer token for the gateway")
    p.add_argument("--token-file", help="file holding the bearer token")
    p.add_argument("--ca-file", help="PEM CA file: connect with TLS, trusting it")
    p.add_argument("--server-name", help="name to check the gateway's certificate against (with --ca-file)")
    p.add_argument("--register-wait", type=float, default=5.0, help="seconds a restarted engine waits for its "
                   "registration (and the current levels) before it serves again (default 5)")
    p.add_argument("--verbose", action="store_true", help="log the client's connection events")
    args = p.parse_args(argv)
    args.target = args.target or ["127.0.0.1:50051"]
    return args


async def main_async(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = GovernedEngine(args, write=lambda line: print(line, flush=True))
    await engine.run(stop)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(main_async(args))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
