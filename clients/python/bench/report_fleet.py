#!/usr/bin/env python3
"""N Python subsystems in one process, each with its own GovernedSubsystem (its own channel and Govern stream),
reporting at a fixed rate through the gateway: the load of scripts/bench-gateway.sh's report run.

Prints ``registered N in S s``, waits for a line ``go`` on stdin (the governor side takes its baseline), reports for
``--seconds``, and prints ``sent reports=R values=V dropped=D seconds=S`` (reports the clients wrote to their streams
and those they dropped), then stays registered until stdin closes or says ``stop``."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

try:
    import scarcity_client  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from scarcity_client import GovernedSubsystem


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--target", action="append", required=True, help="gateway host:port (repeatable)")
    p.add_argument("--subsystems", type=int, default=100)
    p.add_argument("--hosts", type=int, default=100, help="hosts the subsystems are spread over")
    p.add_argument("--rate-hz", type=float, default=4.0, help="reports per second per subsystem")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--values", type=int, default=4, help="values per report (latency_ms, queue_depth, ...)")
    p.add_argument("--token")
    args = p.parse_args()

    clients = [GovernedSubsystem(f"py-engine-{i:03d}", f"bench-host-{i % args.hosts:03d}",
                                 {"throttle": lambda level, info: True}, args.target, token=args.token)
               for i in range(args.subsystems)]
    started = time.monotonic()
    for c in clients:
        await c.start()
    await asyncio.gather(*(c.wait_registered(180) for c in clients))
    print(f"registered {len(clients)} in {time.monotonic() - started:.1f} s", flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        return 1

    names = ["latency_ms", "queue_depth", "context_k", "oom_total"] + [f"app_metric_{i}" for i in range(4, args.values)]
    period = 1.0 / args.rate_hz
    begin = time.monotonic()
    tick = 0
    offered = 0
    while True:
        # Every subsystem reports once per period, spread evenly over it.
        due = begin + tick * period
        if due - begin >= args.seconds:
            break
        for i, c in enumerate(clients):
            at = due + period * i / len(clients)
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            c.report({n: float(tick % 100 + k) for k, n in enumerate(names[:args.values])})
            offered += 1
        tick += 1
    await asyncio.sleep(1.0)  # let the writers drain
    sent = sum(c.stats.reports_sent for c in clients)
    dropped = sum(c.stats.reports_dropped for c in clients)
    reconnects = sum(c.stats.connects - 1 for c in clients)
    print(f"sent reports={sent} values={sent * args.values} offered={offered} dropped={dropped} "
          f"reconnects={reconnects} seconds={time.monotonic() - begin:.1f}", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    await asyncio.gather(*(c.stop() for c in clients))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
