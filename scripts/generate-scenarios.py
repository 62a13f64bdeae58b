#!/usr/bin/env python3
"""Writes the published scenario files of tests/scenarios/ (docs/control-quality.md describes them).

Deterministic: each random scenario has a fixed seed, so running this again writes the same files. Format
(shared/ENGINE-MODEL.md): t_seconds,arrivals,context_k, one row per 0.25 s step.
Usage: scripts/generate-scenarios.py [output directory, default tests/scenarios]
"""
import os
import random
import sys

DT = 0.25


def write(directory, name, rows):
    path = os.path.join(directory, name + ".csv")
    with open(path, "w", newline="\n") as f:
        f.write("t_seconds,arrivals,context_k\n")
        for i, (arrivals, context_k) in enumerate(rows):
            f.write(f"{i * DT:g},{arrivals:.3f},{context_k:.3f}\n")
    print(f"{path}: {len(rows)} steps ({len(rows) * DT:g} s)")


def reflect(value, low, high):
    while value < low or value > high:
        value = 2 * low - value if value < low else 2 * high - value
    return value


def random_walk(seed, seconds, context, arrivals):
    """Context length and arrivals each a bounded random walk, one move per second, held for the second's four steps."""
    rng = random.Random(seed)
    (l, l_low, l_high, l_sigma), (a, a_low, a_high, a_sigma) = context, arrivals
    rows = []
    for _ in range(seconds):
        l = reflect(l + rng.gauss(0, l_sigma), l_low, l_high)
        a = reflect(a + rng.gauss(0, a_sigma), a_low, a_high)
        rows += [(a, l)] * int(1 / DT)
    return rows


def steps(seconds, changes):
    """Piecewise constant: changes is [(from_second, arrivals, context_k)], each holding until the next."""
    rows = []
    for i in range(int(seconds / DT)):
        t = i * DT
        current = [c for c in changes if c[0] <= t][-1]
        rows.append((current[1], current[2]))
    return rows


def sawtooth(seconds, context_period, context_low, context_high, arrivals_period, arrivals_low, arrivals_high):
    """Context length ramps up and drops at once; arrivals ramp up and drop on a period of their own."""
    rows = []
    for i in range(int(seconds / DT)):
        t = i * DT
        l = context_low + (context_high - context_low) * ((t % context_period) / context_period)
        a = arrivals_low + (arrivals_high - arrivals_low) * ((t % arrivals_period) / arrivals_period)
        rows.append((a, l))
    return rows


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "scenarios")
    os.makedirs(directory, exist_ok=True)
    # Random walks: context 0.6..2.6 k tokens, arrivals 4..22 /s (a) and a burstier, longer-context one (b).
    write(directory, "random-walk-a", random_walk(7, 360, (1.2, 0.6, 2.6, 0.08), (10, 4, 22, 1.0)))
    write(directory, "random-walk-b", random_walk(2024, 360, (1.6, 0.8, 3.0, 0.12), (12, 3, 30, 2.0)))
    # Sudden steps of the context length (the blind case: VRAM reads 0.78 when the context jumps) and of arrivals.
    write(directory, "context-steps", steps(300, [
        (0, 9, 1.0), (40, 9, 2.4), (100, 9, 1.0), (140, 9, 1.8), (170, 20, 1.8), (200, 9, 2.8), (260, 9, 1.2),
    ]))
    # Sawtooth: context 0.8 -> 2.6 over 45 s then back at once; arrivals 5 -> 20 over 70 s then back at once.
    write(directory, "sawtooth", sawtooth(360, 45, 0.8, 2.6, 70, 5, 20))


if __name__ == "__main__":
    main()
