#!/usr/bin/env python3
"""Writes unpublished scenarios of every family (docs/control-quality.md, "Families"), five or more each, into a scratch
folder, with generate-scenarios.py's functions and other seeds and values: what the governor is scored on besides the
published files. Deterministic (fixed seeds). Not for tests/scenarios/.
Usage: scripts/generate-scenario-families.py <output directory>
"""
import importlib.util, os, random, sys
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
if len(sys.argv) != 2:
    sys.exit("usage: scripts/generate-scenario-families.py <output directory>")
out = sys.argv[1]
spec = importlib.util.spec_from_file_location("gen", os.path.join(root, "scripts", "generate-scenarios.py"))
g = importlib.util.module_from_spec(spec); spec.loader.exec_module(g)
os.makedirs(out, exist_ok=True)
w = lambda name, rows: g.write(out, name, rows)
for s in (11, 12, 13, 14, 15):
    w(f"walk-a-{s}", g.random_walk(s, 360, (1.2, 0.6, 2.6, 0.08), (10, 4, 22, 1.0)))
for s in (5, 77, 101, 202, 303):
    w(f"walk-b-{s}", g.random_walk(s, 360, (1.6, 0.8, 3.0, 0.12), (12, 3, 30, 2.0)))
w("steps-x", g.steps(300, [(0,10,1.2),(50,10,2.2),(110,10,1.0),(150,15,2.6),(220,8,1.4)]))
w("steps-y", g.steps(300, [(0,8,0.8),(30,8,2.0),(90,12,1.2),(130,12,2.5),(190,12,1.5),(240,18,2.9)]))
w("steps-z", g.steps(300, [(0,12,1.0),(60,12,1.9),(120,12,3.0),(180,12,1.1),(230,12,2.3)]))
for s in (1, 2, 3, 4, 5):
    rng = random.Random(s); t = 0; ch = []
    while t < 300:
        ch.append((t, round(rng.uniform(6, 20)), round(rng.uniform(0.8, 3.0), 1))); t += rng.randint(30, 70)
    w(f"steps-r{s}", g.steps(300, ch))
for i, (cp, cl, chh, ap, al, ah) in enumerate([(30,1.0,2.8,60,4,24),(60,0.6,2.4,40,6,18),(45,1.0,2.6,90,5,15),(50,0.8,3.0,70,8,20),(35,0.8,2.2,50,5,25)]):
    w(f"saw-{i}", g.sawtooth(360, cp, cl, chh, ap, al, ah))
def surge(seconds, arrivals, low, rise_at, rate, high, back_at):
    rows = []
    for i in range(int(seconds / g.DT)):
        t = i * g.DT
        l = low if t < rise_at or t >= back_at else min(high, low + rate * (t - rise_at))
        rows.append((arrivals, l))
    return rows
for i, args in enumerate([(360,10,1.0,30,0.02,2.2,240),(360,8,0.8,20,0.04,2.6,200),(360,12,1.2,60,0.01,2.0,300),(300,6,1.0,30,0.05,2.8,180),(360,14,0.9,40,0.03,2.4,250)]):
    w(f"surge-{i}", surge(*args))
for i, (l, base, burst, a, b) in enumerate([(1.2,8,25,60,150),(0.8,6,30,40,100),(1.6,5,15,100,200),(1.0,10,28,30,60),(1.4,7,20,80,170)]):
    w(f"burst-{i}", g.steps(300, [(0, base, l), (a, burst, l), (b, base, l)]))
