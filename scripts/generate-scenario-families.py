#!/usr/bin/env python3
"""Writes unpublished scenarios of every family (docs/control-quality.md, "Families"), five or more each, into a scratch
folder, with generate-scenarios.py's functions and other seeds and values: what the governor is scored on besides the
published files. Deterministic (fixed seeds). Not for tests/scenarios/.
Usage: scripts/generate-scenario-families.py [--seed-offset N] <output directory>
  --seed-offset N (default 0): N > 0 writes a holdout set of the same families and sizes, not tuned on: the random walks
  and random steps with their seeds plus 1000 x N, and steps x/y/z, saw, surge and burst with their values drawn at random
  (seed 1000 x N) within the ranges the families document, instead of the fixed ones. 0: the fixed set.
"""
import argparse, importlib.util, os, random
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
parser = argparse.ArgumentParser(description="Writes the unpublished scenarios of every family (docs/control-quality.md).")
parser.add_argument("--seed-offset", type=int, default=0, help="N > 0: a holdout set (seeds + 1000 x N, values drawn at random); default 0")
parser.add_argument("out", help="output directory")
a = parser.parse_args()
if a.seed_offset < 0:
    parser.error(f"--seed-offset must be 0 or more, was {a.seed_offset}")
out, off = a.out, 1000 * a.seed_offset
spec = importlib.util.spec_from_file_location("gen", os.path.join(root, "scripts", "generate-scenarios.py"))
g = importlib.util.module_from_spec(spec); spec.loader.exec_module(g)
os.makedirs(out, exist_ok=True)
w = lambda name, rows: g.write(out, name, rows)
for s in (11, 12, 13, 14, 15):
    w(f"walk-a-{s + off}", g.random_walk(s + off, 360, (1.2, 0.6, 2.6, 0.08), (10, 4, 22, 1.0)))
for s in (5, 77, 101, 202, 303):
    w(f"walk-b-{s + off}", g.random_walk(s + off, 360, (1.6, 0.8, 3.0, 0.12), (12, 3, 30, 2.0)))
def random_steps(seed):
    rng = random.Random(seed); t = 0; ch = []
    while t < 300:
        ch.append((t, round(rng.uniform(6, 20)), round(rng.uniform(0.8, 3.0), 1))); t += rng.randint(30, 70)
    return g.steps(300, ch)
if off == 0:
    w("steps-x", g.steps(300, [(0,10,1.2),(50,10,2.2),(110,10,1.0),(150,15,2.6),(220,8,1.4)]))
    w("steps-y", g.steps(300, [(0,8,0.8),(30,8,2.0),(90,12,1.2),(130,12,2.5),(190,12,1.5),(240,18,2.9)]))
    w("steps-z", g.steps(300, [(0,12,1.0),(60,12,1.9),(120,12,3.0),(180,12,1.1),(230,12,2.3)]))
else:
    for name, s in (("x", 6), ("y", 7), ("z", 8)):
        w(f"steps-{name}", random_steps(s + off))
for s in (1, 2, 3, 4, 5):
    w(f"steps-r{s}", random_steps(s + off))
rng = random.Random(off)
saws = [(30,1.0,2.8,60,4,24),(60,0.6,2.4,40,6,18),(45,1.0,2.6,90,5,15),(50,0.8,3.0,70,8,20),(35,0.8,2.2,50,5,25)] if off == 0 else [
    (rng.randint(30, 60), round(rng.uniform(0.6, 1.0), 1), round(rng.uniform(2.2, 3.0), 1), rng.randint(40, 90), rng.randint(4, 8), rng.randint(15, 25))
    for _ in range(5)]
for i, (cp, cl, chh, ap, al, ah) in enumerate(saws):
    w(f"saw-{i}", g.sawtooth(360, cp, cl, chh, ap, al, ah))
def surge(seconds, arrivals, low, rise_at, rate, high, back_at):
    rows = []
    for i in range(int(seconds / g.DT)):
        t = i * g.DT
        l = low if t < rise_at or t >= back_at else min(high, low + rate * (t - rise_at))
        rows.append((arrivals, l))
    return rows
surges = [(360,10,1.0,30,0.02,2.2,240),(360,8,0.8,20,0.04,2.6,200),(360,12,1.2,60,0.01,2.0,300),(300,6,1.0,30,0.05,2.8,180),(360,14,0.9,40,0.03,2.4,250)] if off == 0 else [
    (360, rng.randint(6, 14), round(rng.uniform(0.8, 1.2), 1), rng.randint(20, 60), round(rng.uniform(0.01, 0.05), 2), round(rng.uniform(2.0, 2.8), 1), rng.randint(180, 300))
    for _ in range(5)]
for i, args in enumerate(surges):
    w(f"surge-{i}", surge(*args))
def burst_values():
    start = rng.randint(30, 100)
    return (round(rng.uniform(0.8, 1.6), 1), rng.randint(5, 10), rng.randint(15, 30), start, start + rng.randint(30, 100))
bursts = [(1.2,8,25,60,150),(0.8,6,30,40,100),(1.6,5,15,100,200),(1.0,10,28,30,60),(1.4,7,20,80,170)] if off == 0 else [burst_values() for _ in range(5)]
for i, (l, base, burst, a, b) in enumerate(bursts):
    w(f"burst-{i}", g.steps(300, [(0, base, l), (a, burst, l), (b, base, l)]))
